"""Every write of matters: reporting, routing, the handling state machine, escalation and the periodic work.

Each transition locks the matter row (select_for_update), checks the state it finds and the actor's place,
changes it, and appends one timeline event, all in one transaction; notifications go out after commit.
Two handlers accepting at once: the second finds the matter accepted and is told so.
"""

import datetime
import uuid
from collections.abc import Sequence
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from gongzhi.core.exceptions import ServiceError
from gongzhi.core.images import image_clean
from gongzhi.core.models import Organisation, Region, RegionLevel, Resident, RoleAssignment, User
from gongzhi.core.notifications import Channel, notify
from gongzhi.core.roles import Perm, Role
from gongzhi.core.scope import acts_as_superuser, has_perm_in, role_assignments, scope_organisation_ids
from gongzhi.core.services import clean_text
from gongzhi.core.workdays import add_working_time, working_time_between
from gongzhi.matters.models import (
    DESCRIPTION_MAX_LENGTH,
    TIER_ORDER,
    Category,
    CoHandler,
    Confirmation,
    DeadlineUnit,
    Event,
    Follower,
    Matter,
    MatterPhoto,
    Status,
    Tier,
    Urgency,
)

MAX_PHOTOS = 9
CONFIRMATION_DAYS = 7
# 12345 practice: a matter the reporter says is not resolved goes back once; the second "not resolved"
# closes it as not resolved (it then counts against the resolution rate) instead of circling for ever.
MAX_REOPENS = 1
# Handlers hear of a deadline this long before it passes.
REMINDER_LEAD = datetime.timedelta(hours=4)

# The roles that handle a matter at each tier, held on the matter's region at that tier.
TIER_ROLES = {
    Tier.COMPOUND: [Role.COMPOUND_LEADER],
    Tier.COMMUNITY: [Role.COMMUNITY_WORKER, Role.COMMUNITY_SECRETARY],
    Tier.STREET: [Role.STREET_OFFICER],
    Tier.DISTRICT: [Role.DISTRICT_OFFICER],
}

# The 12345 hotline's deadlines by class: (response, resolution), each (amount, unit).
DEFAULT_DEADLINES = {
    "emergency": ((1, DeadlineUnit.HOURS), (2, DeadlineUnit.HOURS)),
    "utility": ((2, DeadlineUnit.HOURS), (24, DeadlineUnit.HOURS)),
    "general": ((1, DeadlineUnit.WORKING_DAYS), (7, DeadlineUnit.WORKING_DAYS)),
    "complex": ((2, DeadlineUnit.WORKING_DAYS), (15, DeadlineUnit.WORKING_DAYS)),
}


# ---------------------------------------------------------------------------------------------- deadlines


def deadline_after(start: datetime.datetime, amount: int, unit: str) -> datetime.datetime:
    if unit == DeadlineUnit.HOURS:
        return start + datetime.timedelta(hours=amount)
    return add_working_time(start, datetime.timedelta(days=amount))


def _response_due(category: Category, start: datetime.datetime) -> datetime.datetime:
    return deadline_after(start, category.response_amount, category.response_unit)


def _resolution_due(category: Category, start: datetime.datetime) -> datetime.datetime:
    return deadline_after(start, category.resolution_amount, category.resolution_unit)


# ------------------------------------------------------------------------------------------------ routing


def region_at_level(region: Region, level: str) -> Region | None:
    """The region's ancestor (or itself) at `level`, if it has one."""
    if region.level == level:
        return region
    return Region.objects.filter(pk__in=region.ancestor_ids(), level=level).first()


def handlers_at(region: Region, tier: str):
    return User.objects.filter(
        pk__in=RoleAssignment.objects.filter(region=region, role__in=TIER_ROLES[tier]).values("user_id"),
        is_active=True,
    )


def matter_route(*, region: Region, from_tier: str) -> tuple[str, Region]:
    """The lowest tier at or above `from_tier` where the region has someone to handle it. A compound without
    a compound leader sends its matters to the community; the district always takes what reaches it."""
    for tier in TIER_ORDER[TIER_ORDER.index(from_tier) :]:
        handling_region = region_at_level(region, tier)
        if handling_region is None:
            continue
        if tier == Tier.DISTRICT or handlers_at(handling_region, tier).exists():
            return tier, handling_region
    raise ServiceError(_("This place does not lie in a district."))


def next_tier(tier: str) -> str | None:
    position = TIER_ORDER.index(tier)
    return TIER_ORDER[position + 1] if position + 1 < len(TIER_ORDER) else None


# ------------------------------------------------------------------------------------------------ helpers


def is_handler(user: User, matter: Matter) -> bool:
    """Whether the user holds a handling role on the matter's region at its current tier."""
    if acts_as_superuser(user):
        return True
    return any(
        a.region_id == matter.handling_region_id and a.role in TIER_ROLES[matter.tier]
        for a in role_assignments(user)
    )


def is_reporter(user: User, matter: Matter) -> bool:
    """The reporter, or whoever entered the matter for a resident who has no account."""
    if not user.is_authenticated:
        return False
    if matter.reporter_id is not None:
        return matter.reporter_id == user.pk
    return matter.entered_by_id == user.pk


def _lock(matter: Matter) -> Matter:
    return Matter.objects.select_for_update().select_related("category", "handling_region").get(pk=matter.pk)


def _require_handler(user: User, matter: Matter) -> None:
    if not is_handler(user, matter):
        raise ServiceError(_("Only the handlers at this matter's current tier can do that."))


def _require_status(matter: Matter, *allowed: str) -> None:
    if matter.status not in allowed:
        raise ServiceError(
            _("This cannot be done while the matter is “%(status)s”.")
            % {"status": matter.get_status_display()}
        )


def _event(
    matter: Matter, *, kind: str, actor: User | None, note: str = "", organisation=None, at=None
) -> Event:
    return Event.objects.create(
        matter=matter,
        at=at or timezone.now(),
        actor=actor,
        kind=kind,
        status=matter.status,
        tier=matter.tier,
        note=note,
        organisation=organisation,
    )


def _matter_url(matter: Matter) -> str:
    return reverse("matters:detail", args=[matter.pk])


def _people_to_tell(matter: Matter) -> list[User]:
    """The reporter (or who entered it for them) and every follower."""
    ids = set(Follower.objects.filter(matter=matter).values_list("user_id", flat=True))
    ids.add(matter.reporter_id or matter.entered_by_id)
    return list(User.objects.filter(pk__in=ids, is_active=True))


def _tell_reporter(matter: Matter, event: Event) -> None:
    notify(
        users=_people_to_tell(matter),
        title=_("Matter #%(id)s: %(change)s") % {"id": matter.pk, "change": event.get_kind_display()},
        body=matter.get_status_display(),
        url=_matter_url(matter),
        channels=(Channel.IN_APP, Channel.SMS),
    )


def _tell_handlers(matter: Matter, title: str) -> None:
    notify(
        users=handlers_at(matter.handling_region, matter.tier),
        title=title,
        body=matter.summary,
        url=_matter_url(matter),
        channels=(Channel.IN_APP, Channel.SMS),
    )


def _save_photos(matter: Matter, photos: Sequence[UploadedFile], *, stage: str, user: User) -> None:
    if len(photos) > MAX_PHOTOS:
        raise ServiceError(_("At most 9 photos."), field="photos")
    # Clean them all before saving any, so that one bad file leaves nothing behind.
    try:
        cleaned = [image_clean(photo) for photo in photos]
    except ServiceError as error:
        raise ServiceError(error.message, field="photos") from None
    for image in cleaned:
        # A random name: photos are served as plain media files, so a private matter's photo must not be
        # found by guessing "IMG_0001.jpg"; its address is given only on pages that may show it.
        image.name = f"{uuid.uuid4().hex}{Path(image.name).suffix}"
        MatterPhoto.objects.create(matter=matter, stage=stage, image=image, uploaded_by=user)


# ----------------------------------------------------------------------------------------------- reporting


def categories_for(community: Region, *, include_inactive: bool = False):
    """The categories of a community: its own, and the platform defaults it has not replaced."""
    own = Category.objects.filter(community=community)
    defaults = Category.objects.filter(community=None).exclude(
        code__in=Category.objects.filter(community=community).values("code")
    )
    categories = own | defaults
    if not include_inactive:
        categories = categories.filter(is_active=True)
    return categories.order_by("position", "code")


def _check_coordinates(latitude, longitude) -> None:
    if (latitude is None) != (longitude is None):
        raise ServiceError(_("Give both latitude and longitude, or neither."), field="latitude")
    if latitude is not None and not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ServiceError(_("These coordinates are not on Earth."), field="latitude")


@transaction.atomic
def matter_report(
    *,
    entered_by: User,
    category: Category,
    description: str,
    region: Region,
    urgency: str = Urgency.NORMAL,
    hide_name: bool = False,
    latitude=None,
    longitude=None,
    photos: Sequence[UploadedFile] = (),
    on_behalf_of: Resident | None = None,
    now: datetime.datetime | None = None,
) -> Matter:
    """A resident reports a matter, or a grid worker or building leader reports it for `on_behalf_of`."""
    now = now or timezone.now()
    description = clean_text(description, field="description", max_length=DESCRIPTION_MAX_LENGTH)
    _check_coordinates(latitude, longitude)
    if urgency not in Urgency.values:
        raise ServiceError(_("Choose an urgency from the list."), field="urgency")
    levels = region.ancestor_ids()
    ancestors = {r.level: r for r in Region.objects.filter(pk__in=levels)}
    community = ancestors.get(RegionLevel.COMMUNITY)
    if community is None or RegionLevel.STREET not in ancestors or RegionLevel.DISTRICT not in ancestors:
        raise ServiceError(_("Choose a place within a community."), field="region")
    # One of the categories in use there: a default the community has replaced or switched off is not.
    if not categories_for(community).filter(pk=category.pk).exists():
        raise ServiceError(_("Choose a category from the list."), field="category")
    reporter = entered_by
    if on_behalf_of is not None:
        if not has_perm_in(entered_by, Perm.REPORT_FOR_RESIDENTS, on_behalf_of.region):
            raise ServiceError(_("You may not report for this resident."), field="on_behalf_of")
        reporter = on_behalf_of.user
    tier, handling_region = matter_route(region=region, from_tier=category.first_tier)
    matter = Matter(
        category=category,
        description=description,
        urgency=urgency,
        is_private=category.is_private,
        hide_name=hide_name,
        region=region,
        community=community,
        street=ancestors[RegionLevel.STREET],
        district=ancestors[RegionLevel.DISTRICT],
        latitude=latitude,
        longitude=longitude,
        reporter=reporter,
        entered_by=entered_by,
        on_behalf_of=on_behalf_of,
        entry_tier=tier,
        tier=tier,
        handling_region=handling_region,
        submitted_at=now,
        response_due=_response_due(category, now),
        resolution_due=_resolution_due(category, now),
    )
    matter.tier_response_due = matter.response_due
    matter.tier_due = matter.resolution_due
    matter.save()
    _save_photos(matter, photos, stage=MatterPhoto.Stage.REPORT, user=entered_by)
    if reporter is not None:
        Follower.objects.create(matter=matter, user=reporter)
    _event(matter, kind=Event.Kind.SUBMITTED, actor=entered_by, at=now)
    _tell_handlers(matter, _("New matter #%(id)s for you to accept") % {"id": matter.pk})
    return matter


@transaction.atomic
def matter_me_too(*, matter: Matter, user: User) -> Matter:
    """Adds the user's voice to a matter already reported instead of reporting it again; they follow it."""
    matter = _lock(matter)
    if matter.status in (Status.DUPLICATE, Status.WITHDRAWN):
        raise ServiceError(_("This matter is no longer open; report your own."))
    if is_reporter(user, matter):
        raise ServiceError(_("You reported this matter yourself."))
    follower, created = Follower.objects.get_or_create(matter=matter, user=user, defaults={"me_too": True})
    if not created and follower.me_too:
        raise ServiceError(_("You have already said this matters to you too."))
    if not created:
        Follower.objects.filter(pk=follower.pk).update(me_too=True)
    Matter.objects.filter(pk=matter.pk).update(me_too_count=F("me_too_count") + 1)
    _event(matter, kind=Event.Kind.ME_TOO, actor=user)
    matter.refresh_from_db()
    return matter


# -------------------------------------------------------------------------------------------- handling


@transaction.atomic
def matter_accept(*, matter: Matter, handler: User, note: str = "", now=None) -> Matter:
    """The first response. Only the first handler to accept wins; the other is told it is taken."""
    now = now or timezone.now()
    matter = _lock(matter)
    _require_handler(handler, matter)
    if matter.status != Status.SUBMITTED:
        raise ServiceError(_("This matter has already been accepted by someone else."))
    matter.status = Status.ACCEPTED
    # A reminder of the response deadline was for that deadline; the resolution deadline gets its own.
    matter.deadline_reminded_at = None
    if matter.first_response_at is None:
        matter.first_response_at = now
        matter.response_seconds = int(working_time_between(matter.submitted_at, now).total_seconds())
    matter.save()
    event = _event(matter, kind=Event.Kind.ACCEPTED, actor=handler, note=_note(note), at=now)
    _tell_reporter(matter, event)
    return matter


def _note(note: str, *, required: bool = False) -> str:
    return clean_text(note, field="note", max_length=2000, required=required)


@transaction.atomic
def matter_start(*, matter: Matter, handler: User, note: str = "") -> Matter:
    matter = _lock(matter)
    _require_handler(handler, matter)
    _require_status(matter, Status.ACCEPTED)
    matter.status = Status.IN_PROGRESS
    matter.save()
    event = _event(matter, kind=Event.Kind.STARTED, actor=handler, note=_note(note))
    _tell_reporter(matter, event)
    return matter


@transaction.atomic
def matter_resolve(
    *, matter: Matter, handler: User, note: str, photos: Sequence[UploadedFile] = (), now=None
) -> Matter:
    now = now or timezone.now()
    matter = _lock(matter)
    _require_handler(handler, matter)
    _require_status(matter, Status.ACCEPTED, Status.IN_PROGRESS)
    note = _note(note, required=True)
    if matter.co_handlers.exclude(state=CoHandler.State.REPORTED).exists():
        raise ServiceError(_("Every department called in must report before the matter is resolved."))
    matter.status = Status.RESOLVED
    matter.resolved_at = now
    matter.first_resolved_at = matter.first_resolved_at or now
    matter.resolved_tier = matter.tier
    matter.save()
    _save_photos(matter, photos, stage=MatterPhoto.Stage.RESOLUTION, user=handler)
    event = _event(matter, kind=Event.Kind.RESOLVED, actor=handler, note=note, at=now)
    _tell_reporter(matter, event)
    return matter


@transaction.atomic
def matter_confirm(
    *, matter: Matter, user: User, resolved: bool, rating: int | None = None, comment: str = "", now=None
) -> Matter:
    """The reporter's answer: resolved (with a 1–5 rating) closes it; not resolved reopens it once."""
    now = now or timezone.now()
    matter = _lock(matter)
    if not is_reporter(user, matter):
        raise ServiceError(_("Only the person who reported this matter can confirm it."))
    _require_status(matter, Status.RESOLVED)
    comment = clean_text(comment, field="comment", max_length=500, required=False)
    if resolved:
        if rating is None or not 1 <= rating <= 5:
            raise ServiceError(_("Rate the handling from 1 to 5."), field="rating")
        matter.status = Status.CLOSED
        matter.closed_at = now
        matter.confirmation = Confirmation.RESOLVED
        matter.rating = rating
        matter.rating_comment = comment
        kind = Event.Kind.CONFIRMED
    elif matter.reopen_count >= MAX_REOPENS:
        matter.status = Status.CLOSED
        matter.closed_at = now
        matter.confirmation = Confirmation.NOT_RESOLVED
        if rating is not None and 1 <= rating <= 5:
            matter.rating = rating
        matter.rating_comment = comment
        kind = Event.Kind.CLOSED_UNRESOLVED
    else:
        matter.status = Status.IN_PROGRESS
        matter.reopen_count += 1
        matter.reopened_at = now
        # The tier gets the category's time again to put it right, instead of escalating at the next tick.
        matter.tier_due = _resolution_due(matter.category, now)
        matter.deadline_reminded_at = None
        matter.resolved_at = None
        matter.resolved_tier = ""
        kind = Event.Kind.REOPENED
    matter.save()
    event = _event(matter, kind=kind, actor=user, note=comment, at=now)
    _tell_reporter(matter, event)
    if kind == Event.Kind.REOPENED:
        _tell_handlers(matter, _("Matter #%(id)s was reported not resolved") % {"id": matter.pk})
    return matter


def _move_to_tier(matter: Matter, tier: str, now: datetime.datetime) -> None:
    """Hands the matter to the next tier, which must accept it again and gets the category's time afresh;
    the deadlines promised to the reporter (response_due, resolution_due) stay as they were."""
    matter.tier, matter.handling_region = matter_route(region=matter.region, from_tier=tier)
    matter.status = Status.SUBMITTED
    matter.tier_response_due = _response_due(matter.category, now)
    matter.tier_due = _resolution_due(matter.category, now)
    matter.deadline_reminded_at = None


@transaction.atomic
def matter_escalate(*, matter: Matter, handler: User, reason: str, now=None) -> Matter:
    now = now or timezone.now()
    matter = _lock(matter)
    _require_handler(handler, matter)
    _require_status(matter, Status.SUBMITTED, Status.ACCEPTED, Status.IN_PROGRESS)
    reason = clean_text(reason, field="reason", max_length=1000)
    tier = next_tier(matter.tier)
    if tier is None:
        raise ServiceError(_("The district is the highest tier; there is nowhere to escalate to."))
    _move_to_tier(matter, tier, now)
    matter.escalations_by_hand += 1
    matter.save()
    event = _event(matter, kind=Event.Kind.ESCALATED, actor=handler, note=reason, at=now)
    _tell_reporter(matter, event)
    _tell_handlers(matter, _("Matter #%(id)s was escalated to you") % {"id": matter.pk})
    return matter


@transaction.atomic
def matter_return(*, matter: Matter, handler: User, reason: str, now=None) -> Matter:
    """ "Not ours": the handlers give it back with a reason and it goes one tier up."""
    now = now or timezone.now()
    matter = _lock(matter)
    _require_handler(handler, matter)
    _require_status(matter, Status.SUBMITTED, Status.ACCEPTED)
    reason = clean_text(reason, field="reason", max_length=1000)
    tier = next_tier(matter.tier)
    if tier is None:
        raise ServiceError(_("The district is the highest tier; it cannot return a matter."))
    _move_to_tier(matter, tier, now)
    matter.save()
    event = _event(matter, kind=Event.Kind.RETURNED, actor=handler, note=reason, at=now)
    _tell_reporter(matter, event)
    _tell_handlers(matter, _("Matter #%(id)s was passed up to you") % {"id": matter.pk})
    return matter


@transaction.atomic
def matter_mark_duplicate(*, matter: Matter, handler: User, original: Matter) -> Matter:
    matter = _lock(matter)
    _require_handler(handler, matter)
    _require_status(matter, Status.SUBMITTED, Status.ACCEPTED, Status.IN_PROGRESS)
    # Locked too: a matter being withdrawn at this moment must not become the original.
    original = Matter.objects.select_for_update().get(pk=original.pk)
    if (
        original.pk == matter.pk
        or original.community_id != matter.community_id
        or original.status in (Status.DUPLICATE, Status.WITHDRAWN)
    ):
        raise ServiceError(
            _("Choose another open or closed matter of the same community as the original."), field="original"
        )
    matter.status = Status.DUPLICATE
    matter.duplicate_of = original
    matter.save()
    # Whoever followed the duplicate now follows the original, so nobody loses track of the problem.
    for user_id in _people_ids(matter):
        Follower.objects.get_or_create(matter=original, user_id=user_id)
    event = _event(matter, kind=Event.Kind.DUPLICATE, actor=handler, note=f"#{original.pk}")
    _tell_reporter(matter, event)
    return matter


def _people_ids(matter: Matter) -> set[int]:
    return {user.pk for user in _people_to_tell(matter)}


@transaction.atomic
def matter_withdraw(*, matter: Matter, user: User, reason: str = "") -> Matter:
    matter = _lock(matter)
    if not is_reporter(user, matter):
        raise ServiceError(_("Only the person who reported this matter can withdraw it."))
    _require_status(matter, Status.SUBMITTED, Status.ACCEPTED, Status.IN_PROGRESS)
    matter.status = Status.WITHDRAWN
    matter.save()
    event = _event(matter, kind=Event.Kind.WITHDRAWN, actor=user, note=_note(reason))
    # Those who said "me too" follow it and must hear that it is no longer being handled.
    _tell_reporter(matter, event)
    return matter


# ------------------------------------------------------------------------------- calling in departments


@transaction.atomic
def matter_call_in(
    *, matter: Matter, officer: User, organisations: Sequence[Organisation], note: str = ""
) -> Matter:
    """吹哨报到: at street (or district) tier the officer calls departments in to handle it together."""
    matter = _lock(matter)
    _require_handler(officer, matter)
    if matter.tier not in (Tier.STREET, Tier.DISTRICT):
        raise ServiceError(_("Departments are called in at street or district tier."))
    _require_status(matter, Status.ACCEPTED, Status.IN_PROGRESS)
    if not organisations:
        raise ServiceError(_("Choose at least one organisation."), field="organisations")
    already = set(matter.co_handlers.values_list("organisation_id", flat=True))
    for organisation in organisations:
        if organisation.pk in already:
            raise ServiceError(
                _("%(name)s has already been called in.") % {"name": organisation.name}, field="organisations"
            )
    for organisation in organisations:
        CoHandler.objects.create(matter=matter, organisation=organisation, called_by=officer)
        _event(matter, kind=Event.Kind.CALLED_IN, actor=officer, organisation=organisation, note=_note(note))
        staff = User.objects.filter(
            pk__in=RoleAssignment.objects.filter(organisation=organisation).values("user_id"), is_active=True
        )
        notify(
            users=staff,
            title=_("Your organisation is called in on matter #%(id)s") % {"id": matter.pk},
            body=matter.summary,
            url=_matter_url(matter),
            channels=(Channel.IN_APP, Channel.SMS),
        )
    return matter


def _lock_co_handler(co_handler: CoHandler, user: User) -> CoHandler:
    co_handler = CoHandler.objects.select_for_update().select_related("matter").get(pk=co_handler.pk)
    if co_handler.organisation_id not in scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION):
        raise ServiceError(_("Only staff of the organisation called in can answer for it."))
    if co_handler.matter.status not in (Status.ACCEPTED, Status.IN_PROGRESS):
        raise ServiceError(_("This matter is no longer being handled."))
    return co_handler


@transaction.atomic
def co_handler_accept(*, co_handler: CoHandler, user: User) -> CoHandler:
    co_handler = _lock_co_handler(co_handler, user)
    if co_handler.state != CoHandler.State.CALLED:
        raise ServiceError(_("Your organisation has already accepted."))
    co_handler.state = CoHandler.State.ACCEPTED
    co_handler.accepted_at = timezone.now()
    co_handler.save()
    _event(co_handler.matter, kind=Event.Kind.CO_ACCEPTED, actor=user, organisation=co_handler.organisation)
    return co_handler


@transaction.atomic
def co_handler_report(*, co_handler: CoHandler, user: User, report: str) -> CoHandler:
    co_handler = _lock_co_handler(co_handler, user)
    if co_handler.state != CoHandler.State.ACCEPTED:
        raise ServiceError(_("Accept the call first; a report can be given once."))
    co_handler.report = clean_text(report, field="report", max_length=2000)
    co_handler.state = CoHandler.State.REPORTED
    co_handler.reported_at = timezone.now()
    co_handler.save()
    matter = co_handler.matter
    _event(
        matter,
        kind=Event.Kind.CO_REPORTED,
        actor=user,
        organisation=co_handler.organisation,
        note=co_handler.report,
    )
    _tell_handlers(matter, _("A department reported on matter #%(id)s") % {"id": matter.pk})
    return co_handler


# -------------------------------------------------------------------------------------- categories


@transaction.atomic
def category_configure(
    *,
    user: User,
    community: Region,
    code: str,
    first_tier: str,
    response_amount: int,
    response_unit: str,
    resolution_amount: int,
    resolution_unit: str,
    is_active: bool = True,
) -> Category:
    """A community's own routing and deadlines for a category, replacing the platform default there."""
    if not has_perm_in(user, Perm.CONFIGURE_MATTERS, community):
        raise ServiceError(_("You may not configure this community's categories."))
    base = categories_for(community, include_inactive=True).filter(code=code).first()
    if base is None:
        raise ServiceError(_("Choose a category from the list."), field="code")
    if first_tier not in Tier.values:
        raise ServiceError(_("Choose a tier from the list."), field="first_tier")
    for field, unit in (("response_unit", response_unit), ("resolution_unit", resolution_unit)):
        if unit not in DeadlineUnit.values:
            raise ServiceError(_("Choose a unit from the list."), field=field)
    for field, amount in (("response_amount", response_amount), ("resolution_amount", resolution_amount)):
        if not 1 <= amount <= 999:
            raise ServiceError(_("Give a whole number from 1 to 999."), field=field)
    if deadline_after(timezone.now(), response_amount, response_unit) > deadline_after(
        timezone.now(), resolution_amount, resolution_unit
    ):
        raise ServiceError(
            _("The response deadline must come before the resolution deadline."), field="response_amount"
        )
    category, _created = Category.objects.update_or_create(
        community=community,
        code=code,
        defaults={
            "name": base.name,
            "group": base.group,
            "description": base.description,
            "category_class": base.category_class,
            "is_private": base.is_private,
            "position": base.position,
            "first_tier": first_tier,
            "response_amount": response_amount,
            "response_unit": response_unit,
            "resolution_amount": resolution_amount,
            "resolution_unit": resolution_unit,
            "is_active": is_active,
        },
    )
    return category


# The platform's default categories (stored in English, shown translated).
DEFAULT_CATEGORIES = [
    # code, name, group, class, first tier, private
    (
        "gas-leak",
        gettext_noop("Gas leak or fire risk"),
        gettext_noop("Safety"),
        "emergency",
        Tier.COMMUNITY,
        False,
    ),
    (
        "water-power",
        gettext_noop("Water, power, gas or heating outage"),
        gettext_noop("Utilities"),
        "utility",
        Tier.COMMUNITY,
        False,
    ),
    (
        "repairs",
        gettext_noop("Shared facilities need repair"),
        gettext_noop("Property"),
        "general",
        Tier.COMPOUND,
        False,
    ),
    (
        "sanitation",
        gettext_noop("Rubbish and sanitation"),
        gettext_noop("Environment"),
        "general",
        Tier.COMPOUND,
        False,
    ),
    ("noise", gettext_noop("Noise"), gettext_noop("Environment"), "general", Tier.COMPOUND, False),
    (
        "parking",
        gettext_noop("Parking and traffic"),
        gettext_noop("Public order"),
        "general",
        Tier.COMMUNITY,
        False,
    ),
    (
        "greenery",
        gettext_noop("Greenery and public space"),
        gettext_noop("Environment"),
        "general",
        Tier.COMPOUND,
        False,
    ),
    (
        "elderly-care",
        gettext_noop("Elderly care and services"),
        gettext_noop("Services"),
        "general",
        Tier.COMMUNITY,
        False,
    ),
    (
        "neighbour-dispute",
        gettext_noop("Dispute between neighbours"),
        gettext_noop("Mediation"),
        "general",
        Tier.COMPOUND,
        True,
    ),
    (
        "building-safety",
        gettext_noop("Old building or structural safety"),
        gettext_noop("Safety"),
        "complex",
        Tier.STREET,
        False,
    ),
    ("other", gettext_noop("Something else"), gettext_noop("Other"), "general", Tier.COMMUNITY, False),
]


def default_categories_install(*, category_model=Category) -> None:
    """Creates any missing platform-default category: for the demo and the tests, and in migration 0003
    with the historical model."""
    for position, (code, name, group, category_class, first_tier, private) in enumerate(DEFAULT_CATEGORIES):
        (response_amount, response_unit), (resolution_amount, resolution_unit) = DEFAULT_DEADLINES[
            category_class
        ]
        category_model.objects.get_or_create(
            community=None,
            code=code,
            defaults={
                "name": name,
                "group": group,
                "category_class": category_class,
                "first_tier": first_tier,
                "response_amount": response_amount,
                "response_unit": response_unit,
                "resolution_amount": resolution_amount,
                "resolution_unit": resolution_unit,
                "is_private": private,
                "position": position,
            },
        )


# ------------------------------------------------------------------------------------- periodic work


def matters_escalate_overdue(*, now: datetime.datetime | None = None) -> int:
    """Escalates every matter whose current tier let its deadline pass: not accepted in time, or not
    resolved in time. Each matter moves in its own transaction, so one failure does not hold up the rest."""
    now = now or timezone.now()
    overdue = (
        Matter.objects.exclude(tier=Tier.DISTRICT)
        .filter(
            Q(status=Status.SUBMITTED, tier_response_due__lt=now)
            | Q(status__in=[Status.ACCEPTED, Status.IN_PROGRESS], tier_due__lt=now)
        )
        .values_list("pk", flat=True)
    )
    moved = 0
    for matter_id in list(overdue):
        with transaction.atomic():
            matter = Matter.objects.select_for_update().select_related("category").get(pk=matter_id)
            if not _is_overdue(matter, now):
                continue
            _move_to_tier(matter, next_tier(matter.tier), now)
            matter.escalations_by_deadline += 1
            matter.save()
            event = _event(matter, kind=Event.Kind.ESCALATED_OVERDUE, actor=None, at=now)
            _tell_reporter(matter, event)
            _tell_handlers(
                matter, _("Matter #%(id)s is overdue and was escalated to you") % {"id": matter.pk}
            )
            moved += 1
    return moved


def _is_overdue(matter: Matter, now: datetime.datetime) -> bool:
    if matter.tier == Tier.DISTRICT:
        return False
    if matter.status == Status.SUBMITTED:
        return matter.tier_response_due < now
    return matter.status in (Status.ACCEPTED, Status.IN_PROGRESS) and matter.tier_due < now


def matters_auto_confirm(*, now: datetime.datetime | None = None) -> int:
    """Closes resolved matters the reporter has not answered within 7 days, flagged as auto-confirmed."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=CONFIRMATION_DAYS)
    closed = 0
    for matter_id in list(
        Matter.objects.filter(status=Status.RESOLVED, resolved_at__lt=cutoff).values_list("pk", flat=True)
    ):
        with transaction.atomic():
            matter = Matter.objects.select_for_update().get(pk=matter_id)
            if matter.status != Status.RESOLVED or matter.resolved_at >= cutoff:
                continue
            matter.status = Status.CLOSED
            matter.closed_at = now
            matter.confirmation = Confirmation.AUTO
            matter.save()
            event = _event(matter, kind=Event.Kind.AUTO_CONFIRMED, actor=None, at=now)
            _tell_reporter(matter, event)
            closed += 1
    return closed


def matters_remind_deadlines(*, now: datetime.datetime | None = None) -> int:
    """Tells the handlers of each matter whose tier deadline passes within REMINDER_LEAD, once per tier."""
    now = now or timezone.now()
    soon = now + REMINDER_LEAD
    due_soon = (
        Matter.objects.filter(deadline_reminded_at=None)
        .filter(
            Q(status=Status.SUBMITTED, tier_response_due__lte=soon, tier_response_due__gte=now)
            | Q(status__in=[Status.ACCEPTED, Status.IN_PROGRESS], tier_due__lte=soon, tier_due__gte=now)
        )
        .select_related("handling_region")
    )
    reminded = 0
    for matter in due_soon:
        Matter.objects.filter(pk=matter.pk).update(deadline_reminded_at=now)
        _tell_handlers(matter, _("Matter #%(id)s is due soon") % {"id": matter.pk})
        reminded += 1
    return reminded
