"""Schemas of the consultations router (协商议事). A secret ballot stays secret: the API shows a motion's
totals (after the close, or live where the rules allow) and whether the caller has voted on it, never who
voted what; an open ballot's rows are not listed either. The public record names who did each step, as the
procedure asks."""

import datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, Schema
from pydantic import AwareDatetime

from gongzhi.api.schemas import OrganisationRef, RegionRef
from gongzhi.consultations.models import (
    Choice,
    Consultation,
    Origin,
    Participant,
    ParticipantKind,
    Reply,
    RuleSet,
    VoteUnit,
)
from gongzhi.consultations.rules import DecisionRule, QuorumBasis

WHEN = "With its UTC offset, e.g. 2025-05-01T19:00:00+08:00."


def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


# ------------------------------------------------------------------------------------------------- rule sets


class RuleSetOut(Schema):
    id: int
    name: str
    region: RegionRef = Field(
        description="Kept by this community, or by this street for all its communities."
    )
    cosign_threshold: int = Field(description="Co-signers a resident's topic needs.")
    cosign_days: int
    review_days: int = Field(description="Working days for the committee's review.")
    notice_days: int = Field(description="Days of notice before the meeting.")
    quorum_basis: str
    quorum_basis_label: str
    quorum_share: Decimal
    vote_unit: str
    vote_unit_label: str
    decision_rule: str
    decision_rule_label: str
    publication_days: int
    objection_days: int
    secret_ballot: bool
    results_before_close: bool = Field(description="Whether running totals show while voting is open.")
    speech_rules: str = Field(description="The rules of speech shown at the meeting.")

    @staticmethod
    def resolve_quorum_basis_label(rule_set) -> str:
        return str(rule_set.get_quorum_basis_display())

    @staticmethod
    def resolve_vote_unit_label(rule_set) -> str:
        return str(rule_set.get_vote_unit_display())

    @staticmethod
    def resolve_decision_rule_label(rule_set) -> str:
        return str(rule_set.get_decision_rule_display())


class RuleSetIn(Schema):
    """Fields left out take the platform's defaults."""

    region_id: int = Field(description="A community, or a street (for all its communities).")
    name: str = Field(max_length=_max_length(RuleSet, "name"))
    cosign_threshold: int = Field(None, ge=0)
    cosign_days: int = Field(None, ge=1)
    review_days: int = Field(None, ge=1)
    notice_days: int = Field(None, ge=0)
    quorum_basis: QuorumBasis = None
    quorum_share: Decimal = Field(None, gt=0, le=1, max_digits=5, decimal_places=4)
    vote_unit: VoteUnit = None
    decision_rule: DecisionRule = None
    publication_days: int = Field(None, ge=0)
    objection_days: int = Field(None, ge=0)
    secret_ballot: bool = None
    results_before_close: bool = None
    speech_rules: str = None


# ---------------------------------------------------------------------------------------------- consultations


class ConsultationOut(Schema):
    id: int
    title: str
    stage: str = Field(description="The step of the procedure, e.g. cosigning, preparing, voting, published.")
    stage_label: str
    origin: str
    origin_label: str
    community: RegionRef
    is_major: bool = Field(description="A major matter under Civil Code art. 278 (three-quarters needed).")
    is_public: bool = Field(
        description="Whether everyone can read the record; if not, the community's residents, the "
        "participants and the staff."
    )
    created_at: datetime.datetime
    cosign_deadline: datetime.datetime | None
    review_deadline: datetime.datetime | None
    meeting_at: datetime.datetime | None
    voting_closes_at: datetime.datetime | None
    objections_end_at: datetime.datetime | None

    @staticmethod
    def resolve_stage_label(consultation) -> str:
        return str(consultation.get_stage_display())

    @staticmethod
    def resolve_origin_label(consultation) -> str:
        return str(consultation.get_origin_display())


class CountOut(Schema):
    """Votes by head and (for owners) by floor area: online ballots and the confirmed hall count."""

    yes_heads: int
    no_heads: int
    abstain_heads: int
    yes_area: Decimal
    no_area: Decimal
    abstain_area: Decimal


class HallTallyOut(Schema):
    id: int
    motion_id: int
    yes_heads: int
    no_heads: int
    abstain_heads: int
    yes_area: Decimal
    no_area: Decimal
    abstain_area: Decimal
    entered_at: datetime.datetime
    confirmed: bool = Field(description="Counted only once a second staff member has confirmed it.")
    confirmed_at: datetime.datetime | None

    @staticmethod
    def resolve_confirmed(tally) -> bool:
        return tally.confirmed_at is not None


class MotionOut(Schema):
    id: int
    number: int
    text: str
    passed: bool | None = Field(None, description="Set when voting closes.")
    result: dict | None = Field(
        None,
        description="When decided: quorum_met, the reasons a resident can read (in the request's language), "
        "the figures by the rule and the inputs they were decided from.",
    )
    totals: CountOut | None = Field(
        None,
        description="Running totals while voting is open, where the rules show results before the close.",
    )
    hall_tally: HallTallyOut | None = None
    voted: bool = Field(description="Whether the caller has voted on it (never how).")


class ObjectionOut(Schema):
    id: int
    text: str
    at: datetime.datetime
    answer: str
    answered_at: datetime.datetime | None


class ProgressOut(Schema):
    id: int
    task_id: int
    at: datetime.datetime
    text: str
    done: bool


class TaskOut(Schema):
    id: int
    title: str
    responsible: str
    organisation: OrganisationRef | None
    due_on: datetime.date
    done_at: datetime.datetime | None
    reports: list[ProgressOut]

    @staticmethod
    def resolve_reports(task) -> list:
        return list(task.reports.all())


class CallerOut(Schema):
    """What the caller may do here now."""

    may_manage: bool = Field(description="Community staff: participants, notice, voting, publication, tasks.")
    may_cosign: bool
    may_vote: bool = Field(description="On the roll of voters while voting is open.")
    voted_motion_ids: list[int]
    may_object: bool
    is_participant: bool
    reply: str | None = Field(
        description="Your answer to the meeting's invitation: hall, online, absent, or empty before you "
        "answer; none when you are not a participant."
    )


class ConsultationDetailOut(ConsultationOut):
    description: str
    rule_set: RuleSetOut
    organisation: OrganisationRef | None
    source_matter_id: int | None
    source_note: str
    cosigns: int = Field(description="Co-signers so far.")
    review_reason: str
    meeting_place: str
    meeting_online: bool
    notice_sent_at: datetime.datetime | None
    minutes: str
    voting_opened_at: datetime.datetime | None
    voting_closed_at: datetime.datetime | None
    published_at: datetime.datetime | None
    publication_ends_at: datetime.datetime | None
    meeting_code: str | None = Field(
        description="For staff, while the meeting runs: the rotating sign-in code shown in the hall."
    )
    motions: list[MotionOut]
    objections: list[ObjectionOut]
    tasks: list[TaskOut]
    caller: CallerOut

    # The router reads these once per request (gongzhi.api.consultations.consultation_detail_for).
    @staticmethod
    def resolve_cosigns(consultation) -> int:
        return consultation.cosigns_for_caller

    @staticmethod
    def resolve_meeting_code(consultation) -> str | None:
        return consultation.meeting_code_for_caller

    @staticmethod
    def resolve_motions(consultation) -> list:
        return consultation.motions_for_caller

    @staticmethod
    def resolve_objections(consultation) -> list:
        return consultation.objections_for_caller

    @staticmethod
    def resolve_tasks(consultation) -> list:
        return consultation.tasks_for_caller

    @staticmethod
    def resolve_caller(consultation) -> dict:
        return consultation.abilities_for_caller


class EventOut(Schema):
    id: int
    kind: str
    kind_label: str
    at: datetime.datetime
    actor: str | None = Field(description="Who took the step; none when the rules did (a deadline).")
    note: str

    @staticmethod
    def resolve_kind_label(event) -> str:
        return str(event.get_kind_display())

    @staticmethod
    def resolve_actor(event) -> str | None:
        return event.actor.name if event.actor else None


class ConsultationIn(Schema):
    community_id: int
    rule_set_id: int = Field(description="A rule set of the community or of its street.")
    title: str = Field(max_length=_max_length(Consultation, "title"))
    description: str
    origin: Origin = Field(
        description='"resident" (gathers co-signers), "organisation" (goes to review), or, for staff, '
        '"committee", "matter" (name source_matter_id) or "survey" (name the finding in source_note).'
    )
    organisation_id: int | None = Field(None, description="The organisation proposing (origin organisation).")
    source_matter_id: int | None = None
    source_note: str = Field("", max_length=_max_length(Consultation, "source_note"))
    is_major: bool = False
    is_public: bool = Field(
        True,
        description="False keeps the record to the community's residents and the participants (staff only).",
    )


class PublicIn(Schema):
    is_public: bool = Field(
        description="True: everyone can read the record; false: the community's residents, the "
        "participants and the staff."
    )


class ReviewIn(Schema):
    accept: bool
    reason: str = Field(description="Public: shown with the decision.")


class ParticipantIn(Schema):
    kind: ParticipantKind
    resident_id: int | None = None
    household_id: int | None = None
    organisation_id: int | None = None
    name: str = Field("", description="By default the resident's, household's or organisation's name.")
    floor_area: Decimal = Field(Decimal(0), ge=0, max_digits=9, decimal_places=2)


class ParticipantOut(Schema):
    id: int
    kind: str
    kind_label: str
    name: str
    floor_area: Decimal
    votes: bool

    @staticmethod
    def resolve_kind_label(participant) -> str:
        return str(participant.get_kind_display())


class RegionParticipantsIn(Schema):
    region_id: int = Field(description="A region within the community, e.g. a building.")
    households: bool = Field(False, description="Add its households rather than its residents.")


class AddedOut(Schema):
    added: int = Field(description="How many were added; those already in are left as they are.")


class MotionIn(Schema):
    text: str


class NoticeIn(Schema):
    meeting_at: AwareDatetime = Field(description="At least the rule's days of notice away. " + WHEN)
    place: str = Field("", max_length=_max_length(Consultation, "meeting_place"))
    online: bool = True
    materials: str


class MinutesIn(Schema):
    minutes: str


class ReplyIn(Schema):
    reply: Reply = Field(description="hall, online (where the meeting is online too), or absent.")
    note: str = Field(
        "",
        max_length=_max_length(Participant, "reply_note"),
        description="Optional, e.g. who will come for the household.",
    )


class ReplyOut(Schema):
    participant_ids: list[int] = Field(description="The participants you answered for.")
    reply: str
    reply_label: str
    note: str
    replied_at: datetime.datetime


class SignInIn(Schema):
    code: str = Field(description="The six digits of the meeting's code, shown in the hall.")


class AttendanceIn(Schema):
    participant_id: int
    action: Literal["sign_in", "leave"]


class AttendanceOut(Schema):
    participant_id: int
    signed_in_at: datetime.datetime
    left_at: datetime.datetime | None


class VotingOpenIn(Schema):
    closes_at: AwareDatetime = Field(description=WHEN)


class BallotIn(Schema):
    choice: Choice


class HallTallyIn(Schema):
    yes_heads: int = Field(ge=0)
    no_heads: int = Field(ge=0)
    abstain_heads: int = Field(0, ge=0)
    yes_area: Decimal = Field(Decimal(0), ge=0, max_digits=12, decimal_places=2)
    no_area: Decimal = Field(Decimal(0), ge=0, max_digits=12, decimal_places=2)
    abstain_area: Decimal = Field(Decimal(0), ge=0, max_digits=12, decimal_places=2)


class ObjectionIn(Schema):
    text: str


class AnswerIn(Schema):
    answer: str


class TaskIn(Schema):
    title: str
    responsible: str
    due_on: datetime.date
    organisation_id: int | None = None


class ProgressIn(Schema):
    text: str
    done: bool = False


class EvaluationIn(Schema):
    score: int = Field(ge=1, le=5)
    comment: str = ""


class EvaluationOut(Schema):
    id: int
    score: int
    comment: str
    at: datetime.datetime
