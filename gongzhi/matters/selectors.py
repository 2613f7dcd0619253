"""Every read of matters a page or the API needs, scoped to the user.

Public matters (not of a private category) are on the public board for anyone; a private matter is seen
only by its reporter and followers, by who oversees its region, and by staff of a department called in.
Anything else is a 404, whether it exists or not."""

import datetime
import math

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Left
from django.shortcuts import get_object_or_404
from django.utils import timezone

from gongzhi.core.models import Region, Resident, RoleAssignment, place_label
from gongzhi.core.roles import Perm
from gongzhi.core.scope import (
    EVERYTHING,
    acts_as_superuser,
    has_perm_anywhere,
    in_scope,
    role_assignments,
    scope_organisation_ids,
)
from gongzhi.matters.models import (
    OPEN_STATUSES,
    SUMMARY_LENGTH,
    Category,
    CoHandler,
    Event,
    Follower,
    Matter,
    Status,
    Tier,
    summarise,
)
from gongzhi.matters.services import TIER_ROLES, is_handler, is_reporter, next_tier, region_at_level

SIMILAR_RADIUS_METRES = 250
SIMILAR_CLOSED_DAYS = 30
EARTH_RADIUS_METRES = 6_371_000


def matters_visible_to(user) -> QuerySet[Matter]:
    if acts_as_superuser(user):
        return Matter.objects.all()
    visible = Q(is_private=False)
    if user.is_authenticated:
        visible |= (
            Q(reporter=user)
            | Q(entered_by=user)
            | Exists(Follower.objects.filter(matter=OuterRef("pk"), user=user))
            | in_scope(user, Perm.VIEW_MATTERS)
        )
        organisation_ids = scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
        if organisation_ids:
            visible |= Exists(
                CoHandler.objects.filter(matter=OuterRef("pk"), organisation_id__in=organisation_ids)
            )
    return Matter.objects.filter(visible)


def access_matter(user, matter_id: int) -> Matter:
    """A matter the user may see; anything else is 404, whether forbidden or missing."""
    matters = (
        matters_visible_to(user)
        .select_related(
            "category", "region__parent", "handling_region", "community", "street", "reporter", "duplicate_of"
        )
        .defer("reporter__mobile")
    )
    return get_object_or_404(matters, pk=matter_id)


def public_board(
    *,
    region: Region | None = None,
    category_code: str = "",
    status: str = "",
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> QuerySet[Matter]:
    """The public board: never a private category, newest first. Filters by the region's own key where the
    matter row carries one (community, street, district) so that the board walks an index."""
    matters = Matter.objects.filter(is_private=False).exclude(status=Status.WITHDRAWN)
    if region is not None:
        key = {"community": "community", "street": "street", "district": "district"}.get(region.level)
        matters = matters.filter(**{key: region} if key else {"region__path__startswith": region.path})
    if category_code:
        matters = matters.filter(category__code=category_code)
    if status == "open":
        matters = matters.filter(status__in=OPEN_STATUSES)
    elif status:
        matters = matters.filter(status=status)
    if since:
        matters = matters.filter(submitted_at__date__gte=since)
    if until:
        matters = matters.filter(submitted_at__date__lte=until)
    return matters.order_by("-submitted_at", "-id")


# A list row needs these columns and the description's opening, not its 4,000 characters.
ROW_FIELDS = (
    "id",
    "status",
    "tier",
    "urgency",
    "me_too_count",
    "submitted_at",
    "tier_response_due",
    "tier_due",
    "category_id",
    "region_id",
    "community_id",
)


def matter_rows(matters: QuerySet[Matter], *, offset: int, limit: int) -> list[dict]:
    """A page of a matter list (board, queue, "my matters") as plain rows. The matters are read without
    joins, their places and categories by key afterwards: on a million matters the joined query spent
    5.7 ms planning for 1.8 ms of work, and building model instances cost more than both (bench/README.md)."""
    opening = Left("description", SUMMARY_LENGTH + 1)
    rows = list(matters.values(*ROW_FIELDS, opening=opening)[offset : offset + limit])
    region_ids = {row["region_id"] for row in rows} | {row["community_id"] for row in rows}
    places = {
        place["id"]: place
        for place in Region.objects.filter(pk__in=region_ids).values(
            "id", "name", "level", "parent__name", "parent__level"
        )
    }
    categories = Category.objects.filter(pk__in={row["category_id"] for row in rows}).in_bulk()
    statuses, tiers = dict(Status.choices), dict(Tier.choices)
    for row in rows:
        row["summary"] = summarise(row.pop("opening"))
        row["status_label"] = statuses[row["status"]]
        row["tier_label"] = tiers[row["tier"]]
        row["category"] = categories[row["category_id"]]
        row["community_name"] = places[row["community_id"]]["name"]
        place = places[row["region_id"]]
        row["place"] = place_label(
            place["name"], place["level"], place["parent__name"], place["parent__level"]
        )
    return rows


def may_handle_matters(user) -> bool:
    """Staff who oversee matters somewhere, and staff of organisations that may be called in."""
    return user.is_authenticated and (
        has_perm_anywhere(user, Perm.VIEW_MATTERS) or has_perm_anywhere(user, Perm.ACT_FOR_ORGANISATION)
    )


def handler_queue(user) -> QuerySet[Matter]:
    """Open matters waiting at a tier where the user handles them, most urgent deadline first."""
    if acts_as_superuser(user):
        waiting = EVERYTHING
    else:
        waiting = Q(pk__in=[])
        for assignment in role_assignments(user):
            for tier, roles in TIER_ROLES.items():
                if assignment.region_id and assignment.role in roles:
                    waiting |= Q(handling_region_id=assignment.region_id, tier=tier)
    return Matter.objects.filter(
        waiting, status__in=[Status.SUBMITTED, Status.ACCEPTED, Status.IN_PROGRESS]
    ).order_by("tier_due", "id")


def co_handling_for(user) -> QuerySet[CoHandler]:
    """Calls to the user's organisations still waiting for acceptance or a report."""
    return (
        CoHandler.objects.filter(organisation_id__in=scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION))
        .exclude(state=CoHandler.State.REPORTED)
        .select_related("matter__category", "organisation")
    )


def matters_of(user) -> QuerySet[Matter]:
    """What the user reported, entered for someone, or follows."""
    return Matter.objects.filter(
        Q(reporter=user)
        | Q(entered_by=user)
        | Exists(Follower.objects.filter(matter=OuterRef("pk"), user=user))
    ).order_by("-submitted_at", "-id")


def matter_timeline(matter: Matter) -> QuerySet[Event]:
    return matter.events.select_related("actor", "organisation").order_by("at", "id")


def matter_handlers(matter: Matter):
    return RoleAssignment.objects.filter(
        region=matter.handling_region, role__in=TIER_ROLES[matter.tier]
    ).select_related("user")


def is_following(user, matter: Matter) -> bool:
    return user.is_authenticated and Follower.objects.filter(matter=matter, user=user).exists()


def _distance_metres(lat1, lon1, lat2, lon2) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, map(float, (lat1, lon1, lat2, lon2)))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(math.sqrt(a))


def similar_matters(
    user, *, category_code: str, region: Region, latitude=None, longitude=None, limit: int = 5
) -> list[Matter]:
    """Matters like the one about to be reported: same category, same compound (or the same place when it
    has no compound) or within 250 m, open or closed in the last 30 days, that the user may see."""
    recent = timezone.now() - datetime.timedelta(days=SIMILAR_CLOSED_DAYS)
    candidates = matters_visible_to(user).filter(
        Q(status__in=OPEN_STATUSES) | Q(status=Status.CLOSED, closed_at__gte=recent),
        category__code=category_code,
    )
    compound = region_at_level(region, Region.Level.COMPOUND) or region
    nearby = Q(region__path__startswith=compound.path)
    if latitude is not None and longitude is not None:
        # A box a little larger than the circle, narrowed to the circle below.
        dlat = SIMILAR_RADIUS_METRES / 111_000
        dlon = dlat / max(math.cos(math.radians(float(latitude))), 0.01)
        nearby |= Q(
            latitude__range=(float(latitude) - dlat, float(latitude) + dlat),
            longitude__range=(float(longitude) - dlon, float(longitude) + dlon),
        )
    found = []
    for matter in (
        candidates.filter(nearby).select_related("category", "region__parent").order_by("-submitted_at")[:50]
    ):
        in_compound = matter.region.path.startswith(compound.path)
        close = (
            latitude is not None
            and matter.latitude is not None
            and _distance_metres(latitude, longitude, matter.latitude, matter.longitude)
            <= SIMILAR_RADIUS_METRES
        )
        if in_compound or close:
            found.append(matter)
        if len(found) == limit:
            break
    return found


# What the handlers at the matter's current tier may do, by status: the same states the services accept.
_WORKING = (Status.SUBMITTED, Status.ACCEPTED, Status.IN_PROGRESS)
HANDLER_ACTIONS = {
    "accept": (Status.SUBMITTED,),
    "start": (Status.ACCEPTED,),
    "resolve": (Status.ACCEPTED, Status.IN_PROGRESS),
    "escalate": _WORKING,
    "return": (Status.SUBMITTED, Status.ACCEPTED),
    "duplicate": _WORKING,
    "call_in": (Status.ACCEPTED, Status.IN_PROGRESS),
}
REPORTER_ACTIONS = {"withdraw": _WORKING, "confirm": (Status.RESOLVED,)}


def allowed_actions(user, matter: Matter, co_handlers: list[CoHandler]) -> list[str]:
    """What the user may do to the matter now; pages show these buttons and the API lists them. The services
    check again under the row lock, so a stale list can only lead to a clear refusal."""
    if not user.is_authenticated:
        return []
    actions = []
    if is_handler(user, matter):
        for action, statuses in HANDLER_ACTIONS.items():
            if matter.status not in statuses:
                continue
            if action in ("escalate", "return") and next_tier(matter.tier) is None:
                continue
            if action == "call_in" and matter.tier not in (Tier.STREET, Tier.DISTRICT):
                continue
            if action == "resolve" and any(c.state != CoHandler.State.REPORTED for c in co_handlers):
                continue
            actions.append(action)
    if is_reporter(user, matter):
        actions += [action for action, statuses in REPORTER_ACTIONS.items() if matter.status in statuses]
    elif (
        matter.status not in (Status.DUPLICATE, Status.WITHDRAWN)
        and not matter.followers.filter(user=user, me_too=True).exists()
    ):
        actions.append("me_too")
    return actions


def co_handler_actions(co_handler: CoHandler, organisation_ids: list[int]) -> list[str]:
    """What staff of the caller's organisations may do for a department called in: accept, then report."""
    if co_handler.organisation_id not in organisation_ids:
        return []
    return {CoHandler.State.CALLED: ["accept"], CoHandler.State.ACCEPTED: ["report"]}.get(
        co_handler.state, []
    )


def access_co_handler(user, co_handler_id: int) -> CoHandler:
    """A department's call on a matter the user may see; 404 otherwise, like the matter itself."""
    co_handlers = CoHandler.objects.filter(matter__in=matters_visible_to(user))
    return get_object_or_404(co_handlers.select_related("matter", "organisation"), pk=co_handler_id)


def resident_ids_active(region: Region, start: datetime.datetime, end: datetime.datetime) -> QuerySet:
    """The ids of residents living in the region who reported a matter in [start, end), themselves or
    through a worker reporting on their behalf (the participation ladder's third step). A values query, so
    the caller may use it as a subquery."""
    matters = Matter.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    return (
        Resident.objects.filter(region__path__startswith=region.path)
        .filter(Q(pk__in=matters.values("on_behalf_of")) | Q(user__in=matters.values("reporter")))
        .values("pk")
    )
