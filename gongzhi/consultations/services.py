"""Every write of consultations: the procedure's steps, each in one transaction that locks the consultation
row, checks the stage it finds and the actor's place, does the step and appends one public Event.

Voting: the roll is frozen when voting opens. A vote locks its roll entry, so one voter voting twice at once
gets one vote and one refusal, and the database's unique constraints say the same. A secret vote writes a
receipt (who voted) and adds to the choice's running totals (what was voted), and nothing else.
"""

import datetime
import secrets
import uuid
from decimal import Decimal
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gongzhi.consultations import rules
from gongzhi.consultations.models import (
    Attachment,
    Attendance,
    Ballot,
    BallotReceipt,
    Choice,
    Consultation,
    CoSign,
    Evaluation,
    Event,
    HallTally,
    Motion,
    Objection,
    Origin,
    Participant,
    ParticipantKind,
    ProgressReport,
    Reminder,
    Reply,
    RollEntry,
    RuleSet,
    SecretTally,
    Stage,
    Task,
    VoteUnit,
)
from gongzhi.core.codes import rotating_code, rotating_code_valid
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Household, Organisation, Region, RegionLevel, Resident, RoleAssignment, User
from gongzhi.core.notifications import Channel, notify
from gongzhi.core.roles import ROLE_PERMISSIONS, Perm
from gongzhi.core.scope import has_perm_in, scope_organisation_ids
from gongzhi.core.services import clean_text, validate_or_raise
from gongzhi.core.workdays import add_working_time, working_time_between

# Who holds a vote for each unit of the rule: persons are residents (and owners or representatives, who are
# residents too); households vote through their head; owner units by head and floor area.
# Organisations (work units, social organisations, the property company) hold one vote each beside persons
# or households; under the owners' rule only owner units vote.
ORGANISATION_KINDS = (
    ParticipantKind.WORK_UNIT,
    ParticipantKind.ORGANISATION,
    ParticipantKind.PROPERTY_COMPANY,
)
VOTING_KINDS = {
    VoteUnit.PERSON: (
        ParticipantKind.RESIDENT,
        ParticipantKind.REPRESENTATIVE,
        ParticipantKind.OWNER,
        *ORGANISATION_KINDS,
    ),
    VoteUnit.HOUSEHOLD: (ParticipantKind.HOUSEHOLD, *ORGANISATION_KINDS),
    VoteUnit.OWNER: (ParticipantKind.OWNER,),
}


def _require(user: User, perm: Perm, region: Region, message: str) -> None:
    if not has_perm_in(user, perm, region):
        raise ServiceError(message)


def _require_staff(user: User, consultation: Consultation) -> None:
    _require(
        user,
        Perm.MANAGE_CONSULTATIONS,
        consultation.community,
        _("Only the community's staff can do that."),
    )


def _lock(consultation: Consultation) -> Consultation:
    return (
        Consultation.objects.select_for_update(of=("self",))
        .select_related("community", "rule_set")
        .get(pk=consultation.pk)
    )


def _require_stage(consultation: Consultation, *stages: str) -> None:
    if consultation.stage not in stages:
        raise ServiceError(
            _("This cannot be done while the consultation is “%(stage)s”.")
            % {"stage": consultation.get_stage_display()}
        )


def _record(consultation: Consultation, kind: str, *, actor: User | None, note: str = "", at=None) -> Event:
    return Event.objects.create(
        consultation=consultation, kind=kind, actor=actor, note=note, at=at or timezone.now()
    )


def _resident_of(user: User, community: Region) -> Resident:
    resident = Resident.objects.filter(user=user, community=community).first()
    if resident is None:
        raise ServiceError(_("Only residents of this community can do that."))
    return resident


# Rule sets --------------------------------------------------------------------------------------------------

RULE_SET_FIELDS = (
    "cosign_threshold",
    "cosign_days",
    "review_days",
    "notice_days",
    "quorum_basis",
    "quorum_share",
    "vote_unit",
    "decision_rule",
    "publication_days",
    "objection_days",
    "secret_ballot",
    "results_before_close",
    "speech_rules",
)


def rule_set_create(*, by: User, region: Region, name: str, **fields) -> RuleSet:
    """A community, or a street for all its communities, keeps named rule sets."""
    unknown = set(fields) - set(RULE_SET_FIELDS)
    if unknown:
        raise ServiceError(_("Unknown rule fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    if region.level not in (RegionLevel.COMMUNITY, RegionLevel.STREET):
        raise ServiceError(_("Rule sets are kept by a community or a street."), field="region")
    _require(by, Perm.MANAGE_CONSULTATIONS, region, _("Only staff of this area can keep its rule sets."))
    rule_set = RuleSet(
        region=region, name=clean_text(name, field="name", max_length=100), created_by=by, **fields
    )
    if rule_set.objection_days > rule_set.publication_days:
        raise ServiceError(_("Objections must fall within the publication period."), field="objection_days")
    if rule_set.decision_rule == rules.DecisionRule.CIVIL_CODE_278 and rule_set.vote_unit != VoteUnit.OWNER:
        raise ServiceError(_("The Civil Code's owners' rule counts owner units."), field="vote_unit")
    validate_or_raise(rule_set)
    rule_set.save()
    return rule_set


def rule_set_usable(rule_set: RuleSet, community: Region) -> bool:
    """A community uses its own rule sets and those of its street."""
    return rule_set.region_id in (community.pk, community.parent_id)


# Topic, co-signing and review -------------------------------------------------------------------------------


def consultation_propose(
    *,
    by: User,
    community: Region,
    rule_set: RuleSet,
    title: str,
    description: str,
    origin: str,
    organisation: Organisation | None = None,
    source_matter=None,
    source_note: str = "",
    is_major: bool = False,
    is_public: bool = True,
    now: datetime.datetime | None = None,
) -> Consultation:
    """A topic. Residents' topics gather co-signers first; an organisation's goes to the committee's review;
    the committee's own, and those it raises from a matter or a survey, are accepted as they are raised.
    Its record is public to everyone unless the staff raising it keep it to the community's residents and the
    participants (consultation_set_public)."""
    now = now or timezone.now()
    if community.level != RegionLevel.COMMUNITY:
        raise ServiceError(_("A consultation belongs to a community."), field="community")
    if not rule_set_usable(rule_set, community):
        raise ServiceError(_("Choose a rule set of this community or its street."), field="rule_set")
    if is_major and rule_set.decision_rule != rules.DecisionRule.CIVIL_CODE_278:
        raise ServiceError(
            _("Only owners deciding by the Civil Code's rule have major matters; choose such a rule set."),
            field="is_major",
        )
    consultation = Consultation(
        community=community,
        rule_set=rule_set,
        title=clean_text(title, field="title", max_length=100),
        description=clean_text(description, field="description", max_length=10_000),
        origin=origin,
        proposed_by=by,
        source_note=clean_text(source_note, field="source_note", max_length=200, required=False),
        is_major=bool(is_major),
        is_public=bool(is_public),
        code_secret=secrets.token_urlsafe(24),
        created_at=now,
    )
    if origin == Origin.RESIDENT:
        _resident_of(by, community)
        if rule_set.cosign_threshold:
            consultation.stage = Stage.COSIGNING
            consultation.cosign_deadline = now + datetime.timedelta(days=rule_set.cosign_days)
        else:
            _to_review(consultation, now)
    elif origin == Origin.ORGANISATION:
        if organisation is None or organisation.pk not in scope_organisation_ids(
            by, Perm.ACT_FOR_ORGANISATION
        ):
            raise ServiceError(_("Propose for an organisation you act for."), field="organisation")
        consultation.organisation = organisation
        _to_review(consultation, now)
    elif origin in (Origin.COMMITTEE, Origin.MATTER, Origin.SURVEY):
        _require(by, Perm.MANAGE_CONSULTATIONS, community, _("Only the community's staff can raise a topic."))
        if origin == Origin.MATTER:
            if source_matter is None or source_matter.community_id != community.pk:
                raise ServiceError(_("Choose a matter of this community."), field="source_matter")
            consultation.source_matter = source_matter
        if origin == Origin.SURVEY and not consultation.source_note:
            raise ServiceError(_("Say which survey finding raised the topic."), field="source_note")
        consultation.stage = Stage.PREPARING
    else:
        raise ServiceError(_("Choose where the topic comes from."), field="origin")
    if not consultation.is_public and not has_perm_in(by, Perm.MANAGE_CONSULTATIONS, community):
        raise ServiceError(_("Only the community's staff can keep a record private."), field="is_public")
    validate_or_raise(consultation)
    consultation.save()
    _record(consultation, Event.Kind.PROPOSED, actor=by, note=consultation.get_origin_display(), at=now)
    if consultation.stage == Stage.PREPARING:
        _record(consultation, Event.Kind.ACCEPTED, actor=by, note=_("Raised by the committee."), at=now)
    return consultation


def _to_review(consultation: Consultation, now: datetime.datetime) -> None:
    consultation.stage = Stage.REVIEW
    consultation.review_deadline = add_working_time(
        now, datetime.timedelta(days=consultation.rule_set.review_days)
    )


def consultation_cosign(
    *, consultation: Consultation, by: User, now: datetime.datetime | None = None
) -> Consultation:
    """A resident of the community co-signs; at the rule's threshold the topic goes to the committee."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_stage(consultation, Stage.COSIGNING)
        if now > consultation.cosign_deadline:
            raise ServiceError(_("The time for co-signing has ended."))
        if consultation.proposed_by_id == by.pk:
            raise ServiceError(_("You proposed this topic; others co-sign it."))
        resident = _resident_of(by, consultation.community)
        try:
            with transaction.atomic():
                CoSign.objects.create(consultation=consultation, user=by, resident=resident, at=now)
        except IntegrityError:
            raise ServiceError(_("You have already co-signed this topic.")) from None
        _record(consultation, Event.Kind.COSIGNED, actor=by, at=now)
        if consultation.cosigns.count() >= consultation.rule_set.cosign_threshold:
            _to_review(consultation, now)
            consultation.save(update_fields=["stage", "review_deadline"])
            _record(consultation, Event.Kind.SUBMITTED_FOR_REVIEW, actor=None, at=now)
    return consultation


def may_cosign(user: User, consultation: Consultation, *, now: datetime.datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        user.is_authenticated
        and consultation.stage == Stage.COSIGNING
        and now <= consultation.cosign_deadline
        and consultation.proposed_by_id != user.pk
        and Resident.objects.filter(user=user, community=consultation.community).exists()
        and not consultation.cosigns.filter(user=user).exists()
    )


def consultations_lapse(*, now: datetime.datetime | None = None) -> int:
    """Periodic: topics that did not gather their co-signers in time lapse."""
    now = now or timezone.now()
    lapsed = 0
    for pk in Consultation.objects.filter(stage=Stage.COSIGNING, cosign_deadline__lt=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            consultation = _lock(Consultation(pk=pk))
            if consultation.stage == Stage.COSIGNING and consultation.cosign_deadline < now:
                consultation.stage = Stage.LAPSED
                consultation.save(update_fields=["stage"])
                _record(consultation, Event.Kind.LAPSED, actor=None, at=now)
                lapsed += 1
    return lapsed


def consultation_review(
    *, consultation: Consultation, by: User, accept: bool, reason: str, now: datetime.datetime | None = None
) -> Consultation:
    """The community committee accepts or declines a topic, with a public reason."""
    now = now or timezone.now()
    reason = clean_text(reason, field="reason", max_length=2000)
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.REVIEW)
        consultation.stage = Stage.PREPARING if accept else Stage.DECLINED
        consultation.review_reason = reason
        consultation.save(update_fields=["stage", "review_reason"])
        _record(
            consultation,
            Event.Kind.ACCEPTED if accept else Event.Kind.DECLINED,
            actor=by,
            note=reason,
            at=now,
        )
    return consultation


def consultation_set_public(
    *, consultation: Consultation, by: User, is_public: bool, now: datetime.datetime | None = None
) -> Consultation:
    """Staff open the record to everyone, or keep it to the community's residents and the participants (a
    topic about a few households' own affairs), at any step and either way.

    Any step, because a private matter may only come to light at the meeting, in the minutes or in an
    objection, and a record kept private by mistake should open as soon as it is noticed. Either way, because
    nobody the procedure answers to loses sight of it: the community's residents, the participants and the
    overseeing staff see a private record too, so making it private only takes it off the public list (what
    was already seen stays seen). The change is a step of the record like any other, with who made it."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        if consultation.is_public == bool(is_public):
            raise ServiceError(
                _("The record is already public to everyone.")
                if consultation.is_public
                else _("The record is already kept to the community's residents and the participants."),
                field="is_public",
            )
        consultation.is_public = bool(is_public)
        consultation.save(update_fields=["is_public"])
        # A kind of its own would need a migration of Event.kind's choices; a note says it plainly.
        note = (
            _("The record is made public to everyone.")
            if consultation.is_public
            else _("The record is kept to the community's residents and the participants.")
        )
        _record(consultation, Event.Kind.NOTE, actor=by, note=note, at=now)
    return consultation


# Participants, notice and the meeting -----------------------------------------------------------------------


def participant_add(
    *,
    consultation: Consultation,
    by: User,
    kind: str,
    resident: Resident | None = None,
    household: Household | None = None,
    organisation: Organisation | None = None,
    name: str = "",
    floor_area: Decimal | int = 0,
    now: datetime.datetime | None = None,
) -> Participant:
    """Adds one stakeholder of this topic. People and households must belong to the community."""
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.PREPARING)
        for member in (resident, household):
            if member is not None and member.community_id != consultation.community_id:
                raise ServiceError(_("Participants are chosen within the community."))
        name = name or (resident.name if resident else "") or (organisation.name if organisation else "")
        if household is not None and not name:
            name = household.number
        participant = Participant(
            consultation=consultation,
            kind=kind,
            resident=resident,
            household=household,
            organisation=organisation,
            name=clean_text(name, field="name", max_length=100),
            floor_area=Decimal(str(floor_area)),
            votes=kind != ParticipantKind.EXPERT,
        )
        taken = Q(pk__in=[])
        if resident is not None:
            taken |= Q(kind=kind, resident=resident)
        if household is not None:
            taken |= Q(household=household)
        if organisation is not None:
            taken |= Q(organisation=organisation)
        if consultation.participants.filter(taken).exists():
            raise ServiceError(_("%(name)s is already a participant.") % {"name": participant.name})
        validate_or_raise(participant)
        try:
            with transaction.atomic():
                participant.save()
        except IntegrityError:
            raise ServiceError(_("%(name)s is already a participant.") % {"name": participant.name}) from None
        _record(consultation, Event.Kind.PARTICIPANTS, actor=by, note=participant.name, at=now)
    return participant


def participants_add_region(
    *,
    consultation: Consultation,
    by: User,
    region: Region,
    households: bool = False,
    now: datetime.datetime | None = None,
) -> int:
    """Adds every resident (or every household) of a region subtree of the community, e.g. all households of
    building 3. Returns how many were added; those already in are left as they are."""
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.PREPARING)
        if not region.is_within(consultation.community):
            raise ServiceError(_("Participants are chosen within the community."), field="region")
        if households:
            existing = consultation.participants.filter(household__isnull=False).values("household_id")
            rows = [
                Participant(
                    consultation=consultation,
                    kind=ParticipantKind.HOUSEHOLD,
                    household=household,
                    name=f"{household.region.label} {household.number}",
                )  # fmt: skip
                for household in Household.objects.filter(region__path__startswith=region.path)
                .exclude(pk__in=existing)
                .select_related("region__parent")
            ]
        else:
            existing = consultation.participants.filter(kind=ParticipantKind.RESIDENT).values("resident_id")
            rows = [
                Participant(
                    consultation=consultation,
                    kind=ParticipantKind.RESIDENT,
                    resident=resident,
                    name=resident.name,
                )
                for resident in Resident.objects.filter(region__path__startswith=region.path)
                .exclude(pk__in=existing)
                .only("pk", "name")
            ]
        Participant.objects.bulk_create(rows)
        if rows:
            _record(
                consultation,
                Event.Kind.PARTICIPANTS,
                actor=by,
                note=_("%(count)s added from %(region)s") % {"count": len(rows), "region": region.name},
                at=now,
            )
    return len(rows)


def consultation_notice(
    *,
    consultation: Consultation,
    by: User,
    meeting_at: datetime.datetime,
    materials: str,
    place: str = "",
    online: bool = True,
    now: datetime.datetime | None = None,
) -> Consultation:
    """Sends the notice and materials to the participants; the meeting must be at least the rule's number of
    days away."""
    now = now or timezone.now()
    materials = clean_text(materials, field="materials", max_length=10_000)
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.PREPARING)
        if not consultation.participants.filter(votes=True).exists():
            raise ServiceError(_("Choose the participants who vote first."))
        earliest = now + datetime.timedelta(days=consultation.rule_set.notice_days)
        if meeting_at < earliest:
            raise ServiceError(
                _("The rules ask for %(days)s days' notice: the meeting can be on %(date)s at the earliest.")
                % {
                    "days": consultation.rule_set.notice_days,
                    "date": timezone.localtime(earliest).strftime("%Y-%m-%d %H:%M"),
                },
                field="meeting_at",
            )
        consultation.meeting_at, consultation.notice_sent_at = meeting_at, now
        consultation.meeting_place = clean_text(place, field="place", max_length=200, required=False)
        consultation.meeting_online = bool(online)
        consultation.save(update_fields=["meeting_at", "notice_sent_at", "meeting_place", "meeting_online"])
        _record(consultation, Event.Kind.NOTICE, actor=by, note=materials, at=now)
        notify(
            users=participant_users(consultation),
            title=_("Meeting called: %(title)s") % {"title": consultation.title},
            body=f"{timezone.localtime(meeting_at):%Y-%m-%d %H:%M} {consultation.meeting_place}".strip(),
            url=reverse("consultations:detail", args=[consultation.pk]),
            channels=(Channel.IN_APP, Channel.SMS),
        )
    return consultation


def participant_users(consultation: Consultation) -> QuerySet[User]:
    """Who is told of the meeting: participants with an account, households' heads, organisations' staff."""
    return _users_of(consultation.participants.all())


def _users_of(participants: QuerySet[Participant]) -> QuerySet[User]:
    return User.objects.filter(
        Q(resident__pk__in=participants.values("resident_id"))
        | Q(
            resident__household_id__in=participants.values("household_id"),
            resident__is_household_head=True,
        )
        | Q(
            pk__in=RoleAssignment.objects.filter(
                organisation_id__in=participants.values("organisation_id")
            ).values("user_id")
        ),
        is_active=True,
    ).distinct()


def invited_as(user: User, consultation: Consultation) -> list[Participant]:
    """The participants the user answers the invitation for: themselves, their household if they are its
    head, the organisations they act for."""
    participant_ids, resident = _held_participants(user, consultation)
    participants = Participant.objects.filter(pk__in=participant_ids)
    if resident is not None and resident["household_id"] and not resident["is_household_head"]:
        # As with its vote, a household's answer is its head's.
        participants = participants.exclude(household_id=resident["household_id"])
    return list(participants.order_by("pk"))


def participant_reply(
    *,
    consultation: Consultation,
    by: User,
    reply: str,
    note: str = "",
    now: datetime.datetime | None = None,
) -> list[Participant]:
    """Answers the notice, which is the meeting's invitation: in the hall, online, or not attending, for every
    participant the user answers for; it may be changed until the meeting begins. No Event is recorded: the
    record is public and holds the procedure's steps, while who plans to come is the participant's own
    affair, which the staff see counted to plan the hall."""
    now = now or timezone.now()
    if reply not in Reply.values:
        raise ServiceError(_("Choose in the hall, online or not attending."), field="reply")
    note = clean_text(note, field="note", max_length=100, required=False)
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_stage(consultation, Stage.PREPARING)
        if consultation.notice_sent_at is None:
            raise ServiceError(_("No meeting has been called yet."))
        if now >= consultation.meeting_at:
            raise ServiceError(_("The meeting has begun; replies are closed."))
        if reply == Reply.ONLINE and not consultation.meeting_online:
            raise ServiceError(_("This meeting is held in the hall only."), field="reply")
        participants = invited_as(by, consultation)
        if not participants:
            if participant_of(by, consultation) is not None:
                raise ServiceError(_("The head of your household replies for it."))
            raise ServiceError(_("You are not a participant of this consultation."))
        Participant.objects.filter(pk__in=[participant.pk for participant in participants]).update(
            reply=reply, replied_at=now, reply_note=note
        )
        for participant in participants:
            participant.reply, participant.replied_at, participant.reply_note = reply, now, note
    return participants


def _require_self_or_staff(user: User, consultation: Consultation, participant: Participant) -> None:
    """Participants sign themselves in and out; staff may do it for anyone."""
    if participant_of(user, consultation) != participant:
        _require_staff(user, consultation)


def attendance_sign_in(
    *, consultation: Consultation, participant: Participant, by: User, now: datetime.datetime | None = None
) -> Attendance:
    """Signs a participant in at the meeting (staff, or the participant by the meeting's QR code)."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_stage(consultation, Stage.PREPARING, Stage.VOTING)
        if participant.consultation_id != consultation.pk:
            raise ServiceError(_("This person is not a participant of this consultation."))
        _require_self_or_staff(by, consultation, participant)
        if consultation.meeting_at is None:
            raise ServiceError(_("No meeting has been called yet."))
        if now < consultation.meeting_at - datetime.timedelta(hours=1):
            raise ServiceError(_("Sign-in opens an hour before the meeting."))
        attendance, created = Attendance.objects.get_or_create(
            consultation=consultation,
            participant=participant,
            defaults={"signed_in_at": now, "signed_in_by": by},
        )
        if not created:
            if attendance.left_at is None:
                raise ServiceError(_("%(name)s has already signed in.") % {"name": participant.name})
            attendance.left_at = None  # back in the hall
            attendance.save(update_fields=["left_at"])
        _record(consultation, Event.Kind.SIGNED_IN, actor=by, note=participant.name, at=now)
    return attendance


def attendance_leave(
    *, consultation: Consultation, participant: Participant, by: User, now: datetime.datetime | None = None
) -> Attendance:
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_self_or_staff(by, consultation, participant)
        attendance = Attendance.objects.filter(
            consultation=consultation, participant=participant, left_at=None
        ).first()
        if attendance is None:
            raise ServiceError(_("%(name)s is not signed in.") % {"name": participant.name})
        attendance.left_at = now
        attendance.save(update_fields=["left_at"])
        _record(consultation, Event.Kind.LEFT, actor=by, note=participant.name, at=now)
    return attendance


def meeting_code(consultation: Consultation, *, now: datetime.datetime | None = None) -> str:
    """The meeting's rotating sign-in code, shown as a QR code in the hall."""
    return rotating_code(consultation.code_secret, now=now)


def attendance_self_sign_in(
    *, consultation: Consultation, by: User, code: str, now: datetime.datetime | None = None
) -> Attendance:
    """A participant signs in by scanning the hall's QR code, which rotates: only those in the room can."""
    if not rotating_code_valid(consultation.code_secret, code, now=now):
        raise ServiceError(_("This code is not valid or has expired; scan the code shown now."), field="code")
    participant = participant_of(by, consultation)
    if participant is None:
        raise ServiceError(_("You are not a participant of this consultation."))
    return attendance_sign_in(consultation=consultation, participant=participant, by=by, now=now)


def minutes_record(
    *, consultation: Consultation, by: User, minutes: str, now: datetime.datetime | None = None
) -> Consultation:
    """The meeting's minutes (who spoke, what was said), kept with the public record."""
    minutes = clean_text(minutes, field="minutes", max_length=50_000)
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.PREPARING, Stage.VOTING, Stage.DECIDED)
        if consultation.meeting_at is None:
            raise ServiceError(_("No meeting has been called yet."))
        consultation.minutes = minutes
        consultation.save(update_fields=["minutes"])
        _record(consultation, Event.Kind.MINUTES, actor=by, at=now)
    return consultation


ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
ATTACHMENT_SUFFIXES = {
    ".pdf",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".ppt",
    ".pptx",
    ".jpg",
    ".jpeg",
    ".png",
    ".txt",
}


def attachment_add(*, consultation: Consultation, by: User, kind: str, upload) -> Attachment:
    """Adds a file to the materials or the minutes. The file keeps its name for people, and is stored under
    a random one, so that nobody finds it by guessing."""
    suffix = Path(upload.name).suffix.lower()
    if suffix not in ATTACHMENT_SUFFIXES:
        raise ServiceError(_("Attach a PDF, Word, Excel, PowerPoint, image or text file."), field="file")
    if upload.size > ATTACHMENT_MAX_BYTES:
        raise ServiceError(_("A file may be at most 20 MB."), field="file")
    if kind not in Attachment.Kind.values:
        raise ServiceError(_("Choose materials or minutes."), field="kind")
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        name = clean_text(Path(upload.name).name, field="file", max_length=200)
        upload.name = f"{uuid.uuid4().hex}{suffix}"
        return Attachment.objects.create(
            consultation=consultation, kind=kind, file=upload, name=name, uploaded_by=by
        )


def motion_add(*, consultation: Consultation, by: User, text: str) -> Motion:
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.PREPARING)
        number = consultation.motions.count() + 1
        return Motion.objects.create(
            consultation=consultation, number=number, text=clean_text(text, field="text", max_length=2000)
        )


# Voting -----------------------------------------------------------------------------------------------------


def voting_open(
    *,
    consultation: Consultation,
    by: User,
    closes_at: datetime.datetime,
    now: datetime.datetime | None = None,
) -> Consultation:
    """Freezes the roll (who may vote, with their floor area) and opens the ballots."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.PREPARING)
        if consultation.notice_sent_at is None:
            raise ServiceError(_("Send the notice and materials first."))
        if now < consultation.notice_sent_at + datetime.timedelta(days=consultation.rule_set.notice_days):
            raise ServiceError(_("The notice period has not passed yet."))
        if closes_at <= now:
            raise ServiceError(_("Voting must close in the future."), field="closes_at")
        if not consultation.motions.exists():
            raise ServiceError(_("Add at least one motion to vote on."))
        voters = consultation.participants.filter(
            votes=True, kind__in=VOTING_KINDS[consultation.rule_set.vote_unit]
        )
        # One entry per person: someone chosen both as a resident and as a representative votes once.
        roll, holders = [], set()
        for participant in voters.order_by("pk"):
            holder = (
                ("resident", participant.resident_id) if participant.resident_id else ("p", participant.pk)
            )
            if holder not in holders:
                holders.add(holder)
                roll.append(
                    RollEntry(
                        consultation=consultation, participant=participant, floor_area=participant.floor_area
                    )
                )
        if not roll:
            raise ServiceError(_("No participant holds a vote under these rules."))
        RollEntry.objects.bulk_create(roll)
        if consultation.rule_set.secret_ballot:
            SecretTally.objects.bulk_create(
                SecretTally(motion=motion, choice=choice)
                for motion in consultation.motions.all()
                for choice in Choice
            )
        consultation.stage, consultation.voting_opened_at, consultation.voting_closes_at = (
            Stage.VOTING,
            now,
            closes_at,
        )
        consultation.save(update_fields=["stage", "voting_opened_at", "voting_closes_at"])
        _record(
            consultation,
            Event.Kind.VOTING_OPENED,
            actor=by,
            note=_("%(count)s on the roll") % {"count": len(roll)},
            at=now,
        )
    return consultation


def _held_participants(user: User, consultation: Consultation) -> tuple[list[int], dict | None]:
    """The participants the user is, or acts for (their resident record, their household, the organisations
    they act for), and the user's resident record. Read step by step, with no OR across tables:
    PostgreSQL cannot use an index for one, and joined a whole roll of 20,000 households to every member
    (58 ms a vote; 2-3 ms this way, bench/README.md)."""
    held = Q(pk__in=[])
    resident = Resident.objects.filter(user=user).values("pk", "household_id", "is_household_head").first()
    if resident is not None:
        held |= Q(resident_id=resident["pk"])
        if resident["household_id"]:
            held |= Q(household_id=resident["household_id"])
    organisation_ids = scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
    if organisation_ids:
        held |= Q(organisation_id__in=organisation_ids)
    return list(consultation.participants.filter(held).order_by("pk").values_list("pk", flat=True)), resident


def roll_entry_of(user: User, consultation: Consultation) -> RollEntry | None:
    """The user's place on the roll: as the resident, the household's head, or the organisation's staff."""
    participant_ids, resident = _held_participants(user, consultation)
    if not participant_ids:
        return None
    entries = RollEntry.objects.filter(consultation=consultation, participant_id__in=participant_ids)
    if resident is not None and resident["household_id"] and not resident["is_household_head"]:
        # A household votes through its head; another member holds no vote for it.
        entries = entries.exclude(participant__household_id=resident["household_id"])
    return entries.order_by("pk").first()


def ballot_cast(*, motion: Motion, by: User, choice: str, now: datetime.datetime | None = None) -> None:
    """One vote per voter and motion. Open: a ballot row. Secret: a receipt and the totals, nothing more."""
    now = now or timezone.now()
    if choice not in Choice.values:
        raise ServiceError(_("Choose for, against or abstain."), field="choice")
    consultation = motion.consultation
    voter = roll_entry_of(by, consultation)
    if voter is None:
        raise ServiceError(_("You are not on this consultation's roll of voters."))
    with transaction.atomic():
        # The voter's roll entry is the lock: two votes of one voter queue here, and the second is told.
        voter = RollEntry.objects.select_for_update().get(pk=voter.pk)
        consultation = Consultation.objects.select_related("rule_set").get(pk=consultation.pk)
        if consultation.stage != Stage.VOTING or now >= consultation.voting_closes_at:
            raise ServiceError(_("Voting is closed."))
        hall = HallTally.objects.filter(motion=motion).first()
        if (
            hall is not None
            and Attendance.objects.filter(
                Q(left_at__isnull=True) | Q(left_at__gt=hall.entered_at),
                consultation=consultation,
                participant_id=voter.participant_id,
                signed_in_at__lte=hall.entered_at,
            ).exists()
        ):
            # They were in the hall when it was counted: their vote is in the hall's count.
            raise ServiceError(_("The hall has already voted on this motion; your vote was counted there."))
        if consultation.rule_set.secret_ballot:
            try:
                with transaction.atomic():
                    BallotReceipt.objects.create(id=uuid.uuid4(), motion=motion, voter=voter)
            except IntegrityError:
                raise ServiceError(_("You have already voted on this motion.")) from None
            # Every choice's row is written, so that no row's transaction id points at this voter's choice.
            mine = Q(choice=choice)
            SecretTally.objects.filter(motion=motion).update(
                heads=F("heads")
                + Case(When(mine, then=Value(1)), default=Value(0), output_field=IntegerField()),
                area=F("area")
                + Case(
                    When(mine, then=Value(voter.floor_area)),
                    default=Value(Decimal(0)),
                    output_field=DecimalField(max_digits=12, decimal_places=2),
                ),
            )
        else:
            try:
                with transaction.atomic():
                    Ballot.objects.create(motion=motion, voter=voter, choice=choice, cast_at=now)
            except IntegrityError:
                raise ServiceError(_("You have already voted on this motion.")) from None


def _voted_online(motion: Motion) -> set[int]:
    model = BallotReceipt if motion.consultation.rule_set.secret_ballot else Ballot
    return set(model.objects.filter(motion=motion).values_list("voter_id", flat=True))


def _in_hall(consultation: Consultation) -> dict[int, RollEntry]:
    """Roll entries signed in at the meeting and not gone."""
    present = Attendance.objects.filter(consultation=consultation, left_at=None).values("participant_id")
    return {
        entry.pk: entry
        for entry in RollEntry.objects.filter(consultation=consultation, participant__in=present)
    }


def hall_tally_enter(
    *,
    motion: Motion,
    by: User,
    yes_heads: int,
    no_heads: int,
    abstain_heads: int = 0,
    yes_area: Decimal | int = 0,
    no_area: Decimal | int = 0,
    abstain_area: Decimal | int = 0,
    now: datetime.datetime | None = None,
) -> HallTally:
    """Enters the hall's count (show of hands or paper ballots) for a motion; a second staff member confirms
    it. More votes than voters signed in (who have not voted online) is impossible and refused."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(motion.consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.VOTING)
        heads = [yes_heads, no_heads, abstain_heads]
        areas = [Decimal(str(value)) for value in (yes_area, no_area, abstain_area)]
        if any(isinstance(h, bool) or not isinstance(h, int) or h < 0 for h in heads) or any(
            a < 0 for a in areas
        ):
            raise ServiceError(_("Enter whole, non-negative numbers of votes."))
        voted_online = _voted_online(motion)
        hall = [entry for pk, entry in _in_hall(consultation).items() if pk not in voted_online]
        if sum(heads) > len(hall):
            raise ServiceError(
                _("%(votes)s votes counted, but only %(present)s voters not voting online are signed in.")
                % {"votes": sum(heads), "present": len(hall)}
            )
        if sum(areas) > sum((entry.floor_area for entry in hall), Decimal(0)):
            raise ServiceError(_("More floor area was counted than the voters in the hall hold."))
        try:
            with transaction.atomic():
                tally = HallTally.objects.create(
                    motion=motion, yes_heads=yes_heads, no_heads=no_heads, abstain_heads=abstain_heads,
                    yes_area=areas[0], no_area=areas[1], abstain_area=areas[2], entered_by=by, entered_at=now,
                )  # fmt: skip
        except IntegrityError:
            raise ServiceError(_("The hall's count for this motion has already been entered.")) from None
        _record(
            consultation,
            Event.Kind.HALL_TALLY,
            actor=by,
            note=_("Motion %(n)s") % {"n": motion.number},
            at=now,
        )
    return tally


def hall_tally_confirm(*, tally: HallTally, by: User, now: datetime.datetime | None = None) -> HallTally:
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(tally.motion.consultation)
        _require_staff(by, consultation)
        tally = HallTally.objects.select_for_update().get(pk=tally.pk)
        if tally.confirmed_at is not None:
            raise ServiceError(_("This count has already been confirmed."))
        if tally.entered_by_id == by.pk:
            raise ServiceError(_("A second staff member must confirm the count."))
        tally.confirmed_by, tally.confirmed_at = by, now
        tally.save(update_fields=["confirmed_by", "confirmed_at"])
        _record(
            consultation,
            Event.Kind.HALL_TALLY_CONFIRMED,
            actor=by,
            note=_("Motion %(n)s") % {"n": tally.motion.number},
            at=now,
        )
    return tally


def motion_count(motion: Motion) -> tuple[rules.Count, rules.Turnout]:
    """The votes on a motion (online and the confirmed hall count) and who took part (heads and area)."""
    secret = motion.consultation.rule_set.secret_ballot
    totals = {choice: [0, Decimal(0)] for choice in Choice.values}
    if secret:
        for row in SecretTally.objects.filter(motion=motion):
            totals[row.choice] = [row.heads, row.area]
    else:
        for row in (
            Ballot.objects.filter(motion=motion)
            .values("choice")
            .annotate(heads=Count("id"), area=Sum("voter__floor_area"))
        ):
            totals[row["choice"]] = [row["heads"], (row["area"] or Decimal(0)).quantize(Decimal("0.01"))]
    hall = HallTally.objects.filter(motion=motion, confirmed_at__isnull=False).first()
    if hall is not None:
        for choice in Choice.values:
            totals[choice][0] += getattr(hall, f"{choice}_heads")
            totals[choice][1] += getattr(hall, f"{choice}_area")
    count = rules.Count(
        yes_heads=totals["yes"][0], no_heads=totals["no"][0], abstain_heads=totals["abstain"][0],
        yes_area=totals["yes"][1], no_area=totals["no"][1], abstain_area=totals["abstain"][1],
    )  # fmt: skip
    took_part = rules.Turnout(
        heads=sum(value[0] for value in totals.values()),
        area=sum((value[1] for value in totals.values()), Decimal(0)),
    )
    return count, took_part


def _turnout_json(turnout: rules.Electorate | rules.Turnout) -> dict:
    return {"heads": turnout.heads, "area": str(turnout.area)}


def motion_decision(figures: dict) -> tuple[bool, rules.Outcome]:
    """Whether the quorum was met, and the rule's outcome with its reasons, from the inputs voting_close keeps
    in a motion's figures: the rule, whether the matter is major, the quorum's basis and share, the count,
    the electorate, those present and those who took part (the votes). The close decides by it, and pages
    decide again by it to show the reasons in the reader's language (selectors.motion_reasons)."""
    electorate = rules.Electorate(**_turnout_of(figures["electorate"]))
    present = rules.Turnout(**_turnout_of(figures["present"]))
    took_part = rules.Turnout(**_turnout_of(figures["took_part"]))
    count = rules.Count(
        **{
            key: int(value) if key.endswith("_heads") else Decimal(value)
            for key, value in figures["count"].items()
        }
    )
    quorum = rules.quorum_met(
        basis=figures["quorum_basis"],
        share=figures["quorum_share"],
        electorate=electorate,
        present=present,
    )
    # Civil Code art. 278 counts the owners who took part (voted); the other rules those present.
    outcome = rules.decide(
        rule=figures["rule"],
        electorate=electorate,
        present=took_part if figures["rule"] == rules.DecisionRule.CIVIL_CODE_278 else present,
        count=count,
        major=figures["major"],
    )
    return quorum, outcome


def _turnout_of(stored: dict) -> dict:
    return {"heads": stored["heads"], "area": Decimal(stored["area"])}


def voting_close(
    *, consultation: Consultation, by: User, now: datetime.datetime | None = None
) -> Consultation:
    """Closes the ballots and computes each motion's result by the rule: the quorum counts those present at
    the close (signed in and not gone) and those who voted online; the decision counts the votes."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.VOTING)
        if HallTally.objects.filter(motion__consultation=consultation, confirmed_at__isnull=True).exists():
            raise ServiceError(_("A hall count is waiting for a second staff member's confirmation."))
        rule_set = consultation.rule_set
        # The voters' locks: a vote being cast now either commits before the close counts, or finds it closed.
        roll = list(RollEntry.objects.select_for_update().filter(consultation=consultation).order_by("pk"))
        electorate = rules.Electorate(
            heads=len(roll), area=sum((entry.floor_area for entry in roll), Decimal(0))
        )
        in_hall = _in_hall(consultation)
        for motion in consultation.motions.all():
            count, took_part = motion_count(motion)
            present_ids = set(in_hall) | _voted_online(motion)
            present_entries = [entry for entry in roll if entry.pk in present_ids]
            present = rules.Turnout(
                heads=max(len(present_entries), took_part.heads),
                area=max(sum((e.floor_area for e in present_entries), Decimal(0)), took_part.area),
            )
            inputs = {
                "rule": rule_set.decision_rule,
                "major": consultation.is_major,
                "quorum_basis": rule_set.quorum_basis,
                "quorum_share": str(rule_set.quorum_share),
                "count": {key: str(value) for key, value in count.__dict__.items()},
                "electorate": _turnout_json(electorate),
                "present": _turnout_json(present),
                "took_part": _turnout_json(took_part),
            }
            try:
                quorum, outcome = motion_decision(inputs)
            except ValueError as error:
                raise ServiceError(str(error)) from error
            motion.passed = quorum and outcome.passed
            motion.figures = inputs | {"quorum_met": quorum, "figures": outcome.figures_as_json()}
            motion.save(update_fields=["passed", "figures"])
        consultation.stage, consultation.voting_closed_at = Stage.DECIDED, now
        consultation.save(update_fields=["stage", "voting_closed_at"])
        _record(consultation, Event.Kind.VOTING_CLOSED, actor=by, at=now)
    return consultation


# Publication (公示), objections, implementation and evaluation ----------------------------------------------


def consultation_publish(
    *, consultation: Consultation, by: User, now: datetime.datetime | None = None
) -> Consultation:
    """Publishes the resolution for the rule's period; objections may be filed for the rule's shorter one."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.DECIDED)
        rule_set = consultation.rule_set
        consultation.stage, consultation.published_at = Stage.PUBLISHED, now
        consultation.publication_ends_at = now + datetime.timedelta(days=rule_set.publication_days)
        consultation.objections_end_at = now + datetime.timedelta(days=rule_set.objection_days)
        consultation.save(update_fields=["stage", "published_at", "publication_ends_at", "objections_end_at"])
        _record(consultation, Event.Kind.PUBLISHED, actor=by, at=now)
    return consultation


def may_object(user: User, consultation: Consultation) -> bool:
    """Participants and the community's residents may object to a published resolution."""
    return (
        Resident.objects.filter(user=user, community=consultation.community).exists()
        or participant_of(user, consultation) is not None
    )


def participant_of(user: User, consultation: Consultation) -> Participant | None:
    """The participant the user is or acts for: the resident, a member of the household, the organisation's
    staff."""
    participant_ids, _resident = _held_participants(user, consultation)
    return Participant.objects.filter(pk=participant_ids[0]).first() if participant_ids else None


def objection_file(
    *, consultation: Consultation, by: User, text: str, now: datetime.datetime | None = None
) -> Objection:
    now = now or timezone.now()
    text = clean_text(text, field="text", max_length=4000)
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_stage(consultation, Stage.PUBLISHED)
        if now > consultation.objections_end_at:
            raise ServiceError(_("The time for objections has ended."))
        if not may_object(by, consultation):
            raise ServiceError(_("Only the community's residents and the participants can object."))
        objection = Objection.objects.create(consultation=consultation, by=by, text=text, at=now)
        _record(consultation, Event.Kind.OBJECTION, actor=by, note=text, at=now)
    return objection


def objection_answer(
    *, objection: Objection, by: User, answer: str, now: datetime.datetime | None = None
) -> Objection:
    """Staff answer an objection publicly, once."""
    now = now or timezone.now()
    answer = clean_text(answer, field="answer", max_length=4000)
    with transaction.atomic():
        consultation = _lock(objection.consultation)
        _require_staff(by, consultation)
        objection = Objection.objects.select_for_update().get(pk=objection.pk)
        if objection.answered_at is not None:
            raise ServiceError(_("This objection has already been answered."))
        objection.answer, objection.answered_by, objection.answered_at = answer, by, now
        objection.save(update_fields=["answer", "answered_by", "answered_at"])
        _record(consultation, Event.Kind.OBJECTION_ANSWERED, actor=by, note=answer, at=now)
    return objection


def consultation_conclude_publication(
    *, consultation: Consultation, by: User, now: datetime.datetime | None = None
) -> Consultation:
    """After the publication period, with every objection answered: implementation begins if a motion was
    adopted, otherwise the consultation closes."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.PUBLISHED)
        if now < consultation.publication_ends_at:
            raise ServiceError(
                _("The resolution is published until %(date)s.")
                % {"date": timezone.localtime(consultation.publication_ends_at).strftime("%Y-%m-%d %H:%M")}
            )
        if consultation.objections.filter(answered_at__isnull=True).exists():
            raise ServiceError(_("Answer every objection first."))
        adopted = consultation.motions.filter(passed=True).exists()
        consultation.stage = Stage.IMPLEMENTING if adopted else Stage.CLOSED
        consultation.save(update_fields=["stage"])
        _record(consultation, Event.Kind.IMPLEMENTATION if adopted else Event.Kind.CLOSED, actor=by, at=now)
    return consultation


def task_add(
    *,
    consultation: Consultation,
    by: User,
    title: str,
    responsible: str,
    due_on: datetime.date,
    organisation: Organisation | None = None,
    now: datetime.datetime | None = None,
) -> Task:
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.IMPLEMENTING)
        task = Task.objects.create(
            consultation=consultation,
            created_at=now or timezone.now(),
            title=clean_text(title, field="title", max_length=200),
            responsible=clean_text(responsible, field="responsible", max_length=100),
            organisation=organisation,
            due_on=due_on,
        )
        _record(consultation, Event.Kind.TASK, actor=by, note=f"{task.title} · {task.responsible}", at=now)
    return task


def progress_report(
    *, task: Task, by: User, text: str, done: bool = False, now: datetime.datetime | None = None
) -> ProgressReport:
    """Staff, or the responsible organisation's staff, report progress; the last report may mark it done."""
    now = now or timezone.now()
    text = clean_text(text, field="text", max_length=4000)
    with transaction.atomic():
        consultation = _lock(task.consultation)
        _require_stage(consultation, Stage.IMPLEMENTING)
        acts_for = task.organisation_id and task.organisation_id in scope_organisation_ids(
            by, Perm.ACT_FOR_ORGANISATION
        )
        if not acts_for:
            _require_staff(by, consultation)
        task = Task.objects.select_for_update().get(pk=task.pk)
        if task.done_at is not None:
            raise ServiceError(_("This task is already done."))
        report = ProgressReport.objects.create(task=task, by=by, at=now, text=text, done=bool(done))
        if done:
            task.done_at = now
            task.save(update_fields=["done_at"])
        _record(consultation, Event.Kind.PROGRESS, actor=by, note=f"{task.title}: {text}", at=now)
    return report


def evaluation_open(
    *, consultation: Consultation, by: User, now: datetime.datetime | None = None
) -> Consultation:
    """Once every task is done, the participants evaluate the result."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.IMPLEMENTING)
        if not consultation.tasks.exists() or consultation.tasks.filter(done_at__isnull=True).exists():
            raise ServiceError(_("Every task must be done before the participants evaluate the result."))
        consultation.stage = Stage.EVALUATION
        consultation.save(update_fields=["stage"])
        _record(consultation, Event.Kind.EVALUATION, actor=by, at=now)
    return consultation


def evaluation_submit(
    *,
    consultation: Consultation,
    by: User,
    score: int,
    comment: str = "",
    now: datetime.datetime | None = None,
) -> Evaluation:
    now = now or timezone.now()
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ServiceError(_("Give a score from 1 to 5."), field="score")
    comment = clean_text(comment, field="comment", max_length=2000, required=False)
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_stage(consultation, Stage.EVALUATION)
        participant = participant_of(by, consultation)
        if participant is None:
            raise ServiceError(_("Only the participants evaluate the result."))
        try:
            with transaction.atomic():
                return Evaluation.objects.create(
                    consultation=consultation, participant=participant, score=score, comment=comment, at=now
                )
        except IntegrityError:
            raise ServiceError(_("You have already evaluated this result.")) from None


def consultation_conclude(
    *, consultation: Consultation, by: User, now: datetime.datetime | None = None
) -> Consultation:
    """Ends the evaluation; the record keeps the average score."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        _require_stage(consultation, Stage.EVALUATION)
        scores = list(consultation.evaluations.values_list("score", flat=True))
        note = (
            _("%(count)s evaluations, average %(average).1f of 5")
            % {"count": len(scores), "average": sum(scores) / len(scores)}
            if scores
            else _("No evaluations")
        )
        consultation.stage = Stage.EVALUATED
        consultation.save(update_fields=["stage"])
        _record(consultation, Event.Kind.EVALUATED, actor=by, note=note, at=now)
    return consultation


# Reminders --------------------------------------------------------------------------------------------------

# How long before a deadline its reminder goes out. The review's deadline counts working days, so its lead
# does too: a review due on Monday morning is reminded of on Friday morning. A day's warning of the meeting
# and of the voting close, since many residents read their messages once a day; a vote shorter than that
# (open for the two hours of the meeting) is reminded of as it opens, which tells those taking part online
# that it has.
REVIEW_REMINDER_LEAD = datetime.timedelta(days=1)  # of working time
MEETING_REMINDER_LEAD = datetime.timedelta(days=1)
VOTING_REMINDER_LEAD = datetime.timedelta(days=1)

# The review is the community committee's: its reminder goes to those who run consultations in the community
# itself, not to the street's officers above it.
MANAGING_ROLES = [role for role, perms in ROLE_PERMISSIONS.items() if Perm.MANAGE_CONSULTATIONS in perms]


def consultations_remind(*, now: datetime.datetime | None = None) -> int:
    """Periodic: reminds the community's staff of a review falling due, the participants of the meeting (and
    of their reply), and the voters who have not voted on every motion of the voting close; each once per
    deadline. Returns how many reminders went out."""
    now = now or timezone.now()
    sent = 0
    reviews = Consultation.objects.filter(stage=Stage.REVIEW, review_deadline__gt=now)
    for consultation in _not_reminded(reviews, Reminder.Kind.REVIEW, "review_deadline"):
        if working_time_between(now, consultation.review_deadline) <= REVIEW_REMINDER_LEAD:
            sent += _remind(consultation, Reminder.Kind.REVIEW, consultation.review_deadline, now)
    meetings = Consultation.objects.filter(
        stage=Stage.PREPARING,
        notice_sent_at__isnull=False,
        meeting_at__gt=now,
        meeting_at__lte=now + MEETING_REMINDER_LEAD,
    )
    for consultation in _not_reminded(meetings, Reminder.Kind.MEETING, "meeting_at"):
        sent += _remind(consultation, Reminder.Kind.MEETING, consultation.meeting_at, now)
    votes = Consultation.objects.filter(
        stage=Stage.VOTING, voting_closes_at__gt=now, voting_closes_at__lte=now + VOTING_REMINDER_LEAD
    )
    for consultation in _not_reminded(votes, Reminder.Kind.VOTING, "voting_closes_at"):
        sent += _remind(consultation, Reminder.Kind.VOTING, consultation.voting_closes_at, now)
    return sent


def _not_reminded(consultations: QuerySet[Consultation], kind: str, deadline: str) -> QuerySet[Consultation]:
    reminded = Reminder.objects.filter(consultation=OuterRef("pk"), kind=kind, deadline=OuterRef(deadline))
    return consultations.exclude(Exists(reminded)).select_related("rule_set").order_by("pk")


def _remind(
    consultation: Consultation, kind: str, deadline: datetime.datetime, now: datetime.datetime
) -> int:
    with transaction.atomic():
        try:
            with transaction.atomic():
                Reminder.objects.create(consultation=consultation, kind=kind, deadline=deadline, sent_at=now)
        except IntegrityError:
            return 0  # a concurrent run has just sent it
        REMINDERS[kind](consultation)
    return 1


def _remind_review(consultation: Consultation) -> None:
    staff = User.objects.filter(
        pk__in=RoleAssignment.objects.filter(
            region_id=consultation.community_id, role__in=MANAGING_ROLES
        ).values("user_id"),
        is_active=True,
    )
    notify(
        users=staff,
        title=_("Review due: %(title)s") % {"title": consultation.title},
        body=_("The committee's review is due by %(date)s.")
        % {"date": f"{timezone.localtime(consultation.review_deadline):%Y-%m-%d %H:%M}"},
        url=reverse("consultations:manage", args=[consultation.pk]),
        channels=(Channel.IN_APP, Channel.SMS),
    )


def _remind_meeting(consultation: Consultation) -> None:
    """Each participant's reminder says what they replied, or asks them to."""
    meeting = f"{timezone.localtime(consultation.meeting_at):%Y-%m-%d %H:%M} {consultation.meeting_place}"
    told: set[int] = set()
    for reply in ("", *Reply.values):
        # Someone holding several participants (themselves and their household) is told once.
        users = list(_users_of(consultation.participants.filter(reply=reply)).exclude(pk__in=told))
        if not users:
            continue
        told.update(user.pk for user in users)
        answer = (
            _("Your reply: %(reply)s.") % {"reply": Reply(reply).label}
            if reply
            else _("Please tell us on the consultation's page whether you will come.")
        )
        notify(
            users=users,
            title=_("Meeting reminder: %(title)s") % {"title": consultation.title},
            body=f"{meeting.strip()}. {answer}",
            url=reverse("consultations:detail", args=[consultation.pk]),
            channels=(Channel.IN_APP, Channel.SMS),
        )


def _remind_voting(consultation: Consultation) -> None:
    """Voters on the roll who have not voted on every motion. Those who signed in at the meeting are left
    out: they vote in the hall's count, and an online vote is refused them once the hall has counted."""
    ballots = BallotReceipt if consultation.rule_set.secret_ballot else Ballot
    voted_all = (
        ballots.objects.filter(motion__consultation=consultation)
        .values("voter_id")
        .annotate(motions=Count("motion_id"))
        .filter(motions__gte=consultation.motions.count())
        .values("voter_id")
    )
    waiting = (
        RollEntry.objects.filter(consultation=consultation)
        .exclude(pk__in=voted_all)
        .exclude(
            participant_id__in=Attendance.objects.filter(consultation=consultation).values("participant_id")
        )
        .values("participant_id")
    )
    notify(
        users=_users_of(Participant.objects.filter(pk__in=waiting)),
        title=_("Voting closes soon: %(title)s") % {"title": consultation.title},
        body=_("Voting closes at %(date)s, and you have not voted on every motion yet.")
        % {"date": f"{timezone.localtime(consultation.voting_closes_at):%Y-%m-%d %H:%M}"},
        url=reverse("consultations:vote", args=[consultation.pk]),
        channels=(Channel.IN_APP, Channel.SMS),
    )


REMINDERS = {
    Reminder.Kind.REVIEW: _remind_review,
    Reminder.Kind.MEETING: _remind_meeting,
    Reminder.Kind.VOTING: _remind_voting,
}
