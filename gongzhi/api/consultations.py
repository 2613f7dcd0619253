"""The consultations router (协商议事): a community's procedure from topic to evaluated result, through the
same selectors and services as the pages, so that every rule of the procedure lives in gongzhi.consultations.

Scope: a consultation is reached through `consultations_visible_to` (its community's residents, its
participants, staff overseeing its region, everyone when its record is public); a motion, a hall count, an
objection or a task through the consultation it belongs to. Anything outside answers 404 exactly like
something that does not exist. Within a consultation one can see, what the caller may not do (vote when not
on the roll, act as staff when not staff) is the service's refusal: 400 with its reason.

Errors: a refused step is the service's ServiceError, answered 400 with its translated message and, where it
concerns one input, the payload's field name; the shape of the input is checked by the schemas (422), as
everywhere in this API (gongzhi/api/errors.py). A refusal changes nothing: each step is one transaction.

Secret ballots: nothing here says who voted what; a motion shows its totals (after the close, or while
voting where the rules show results before the close) and whether the caller has voted on it.
"""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.pagination import paginate

from gongzhi.api.consultation_schemas import (
    AddedOut,
    AnswerIn,
    AttendanceIn,
    AttendanceOut,
    BallotIn,
    ConsultationDetailOut,
    ConsultationIn,
    ConsultationOut,
    EvaluationIn,
    EvaluationOut,
    EventOut,
    HallTallyIn,
    HallTallyOut,
    MinutesIn,
    MotionIn,
    MotionOut,
    NoticeIn,
    ObjectionIn,
    ObjectionOut,
    ParticipantIn,
    ParticipantOut,
    ProgressIn,
    ProgressOut,
    PublicIn,
    RegionParticipantsIn,
    ReplyIn,
    ReplyOut,
    ReviewIn,
    RuleSetIn,
    RuleSetOut,
    SignInIn,
    TaskIn,
    TaskOut,
    VotingOpenIn,
)
from gongzhi.api.errors import payload_fields
from gongzhi.api.pagination import LimitOffset
from gongzhi.api.schemas import ErrorOut, ServiceErrorOut
from gongzhi.consultations import selectors, services
from gongzhi.consultations.models import (
    Consultation,
    ProgressReport,
    Stage,
)
from gongzhi.core import selectors as core_selectors
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Region, RegionLevel
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_in
from gongzhi.matters import selectors as matter_selectors

router = Router(tags=["consultations"])

# The services name the model's fields; a client sent the payload's.
PAYLOAD_FIELDS = {
    "community": "community_id",
    "rule_set": "rule_set_id",
    "organisation": "organisation_id",
    "source_matter": "source_matter_id",
    "region": "region_id",
}

DETAIL_RESPONSES = {200: ConsultationDetailOut, 400: ServiceErrorOut, 404: ErrorOut}

# After the close the figures are public; before it, only where the rule set shows results early.
DECIDED_STAGES = {
    Stage.DECIDED,
    Stage.PUBLISHED,
    Stage.CLOSED,
    Stage.IMPLEMENTING,
    Stage.EVALUATION,
    Stage.EVALUATED,
}


def _count(motion) -> dict:
    count, _took_part = services.motion_count(motion)
    return count.__dict__


def consultation_detail_for(user, consultation_id: int) -> Consultation:
    """The consultation as the detail schema reads it: motions with what may be shown of their votes,
    objections, tasks, and what the caller may do."""
    consultation = selectors.access_consultation(user, consultation_id)
    now = timezone.now()
    rule_set = consultation.rule_set
    is_staff = has_perm_in(user, Perm.MANAGE_CONSULTATIONS, consultation.community)
    roll_entry = services.roll_entry_of(user, consultation)
    voted = selectors.voted_motion_ids(consultation, roll_entry)
    show_totals = consultation.stage == Stage.VOTING and rule_set.results_before_close
    tallies = {tally.motion_id: tally for tally in selectors.hall_tallies_of(consultation)}
    motions = []
    for motion in consultation.motions.all():
        motion.consultation = consultation
        decided = consultation.stage in DECIDED_STAGES and motion.passed is not None
        motions.append(
            {
                "id": motion.pk,
                "number": motion.number,
                "text": motion.text,
                "passed": motion.passed if decided else None,
                "result": motion.figures | {"reasons": selectors.motion_reasons(motion)} if decided else None,
                "totals": _count(motion) if show_totals else None,
                "hall_tally": tallies.get(motion.pk),
                "voted": motion.pk in voted,
            }
        )
    consultation.motions_for_caller = motions
    consultation.cosigns_for_caller = consultation.cosigns.count()
    consultation.objections_for_caller = list(consultation.objections.all())
    consultation.tasks_for_caller = list(
        consultation.tasks.select_related("organisation").prefetch_related(
            Prefetch("reports", queryset=ProgressReport.objects.order_by("at", "id"))
        )
    )
    meeting_running = consultation.meeting_at is not None and consultation.stage in (
        Stage.PREPARING,
        Stage.VOTING,
    )
    consultation.meeting_code_for_caller = (
        services.meeting_code(consultation) if is_staff and meeting_running else None
    )
    participant = services.participant_of(user, consultation)
    consultation.abilities_for_caller = {
        "may_manage": is_staff,
        "may_cosign": services.may_cosign(user, consultation, now=now),
        "may_vote": roll_entry is not None
        and consultation.stage == Stage.VOTING
        and now < consultation.voting_closes_at,
        "voted_motion_ids": voted,
        "may_object": consultation.stage == Stage.PUBLISHED
        and now <= consultation.objections_end_at
        and services.may_object(user, consultation),
        "is_participant": participant is not None,
        "reply": participant.reply if participant is not None else None,
    }
    return consultation


def detail(request, consultation_id: int) -> Consultation:
    return consultation_detail_for(request.auth, consultation_id)


def access(request, consultation_id: int) -> Consultation:
    return selectors.access_consultation(request.auth, consultation_id)


# --------------------------------------------------------------------------------------------------- reads


@router.get("/", response={200: list[ConsultationOut]}, summary="Consultations the caller can see")
@paginate(LimitOffset)
def consultation_list(request, stage: Stage | None = None, community_id: int | None = None):
    """Newest first. `stage` keeps those at one step of the procedure; `community_id` one community's."""
    consultations = selectors.consultations_visible_to(request.auth).select_related("community")
    if stage:
        consultations = consultations.filter(stage=stage)
    if community_id is not None:
        consultations = consultations.filter(community_id=community_id)
    return consultations.order_by("-created_at", "-pk")


@router.get(
    "/rule-sets",
    response={200: list[RuleSetOut], 404: ErrorOut},
    summary="The rule sets a community may use: its own and its street's",
)
def rule_set_list(request, community_id: int):
    # Rules are public: whoever proposes a topic needs to know which rules it will run by.
    community = get_object_or_404(Region.objects.filter(level=RegionLevel.COMMUNITY), pk=community_id)
    return list(selectors.rule_sets_for(community).select_related("region"))


@router.post(
    "/rule-sets",
    response={201: RuleSetOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Keep a named rule set (议事规则) for a community, or a street's for all its communities",
)
def rule_set_create(request, payload: RuleSetIn):
    region = get_object_or_404(Region.objects.all(), pk=payload.region_id)
    fields = payload.model_dump(exclude={"region_id", "name"}, exclude_none=True)
    with payload_fields(PAYLOAD_FIELDS):
        rule_set = services.rule_set_create(by=request.auth, region=region, name=payload.name, **fields)
    return Status(201, rule_set)


@router.get(
    "/{consultation_id}",
    response={200: ConsultationDetailOut, 404: ErrorOut},
    summary="One consultation: its rules, deadlines, motions and what you may do",
)
def consultation_detail(request, consultation_id: int):
    return detail(request, consultation_id)


@router.get(
    "/{consultation_id}/record",
    response={200: list[EventOut], 404: ErrorOut},
    summary="The public record: every step, who, when, what",
)
@paginate(LimitOffset)
def consultation_record(request, consultation_id: int):
    return selectors.public_record(access(request, consultation_id)).defer("actor__mobile")


@router.get(
    "/{consultation_id}/participants",
    response={200: list[ParticipantOut], 404: ErrorOut},
    summary="The participants chosen for this topic (一事一议一主体)",
)
@paginate(LimitOffset)
def participant_list(request, consultation_id: int):
    return access(request, consultation_id).participants.order_by("pk")


# ----------------------------------------------------------------------------------- topic, co-signs, review


@router.post(
    "/",
    response={201: ConsultationDetailOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Propose a topic",
)
def consultation_propose(request, payload: ConsultationIn):
    """A resident's topic gathers co-signers first; an organisation's goes to the committee's review; staff
    raise the committee's own, or one from a matter or a survey finding, straight into preparation."""
    user = request.auth
    # Community names are public; whether the caller may propose there is the service's rule.
    community = get_object_or_404(Region.objects.all(), pk=payload.community_id)
    rule_set = selectors.rule_sets_for(community).filter(pk=payload.rule_set_id).first()
    if rule_set is None:
        raise ServiceError(_("Choose a rule set of this community or its street."), field="rule_set_id")
    organisation = (
        core_selectors.access_organisation(user, payload.organisation_id)
        if payload.organisation_id is not None
        else None
    )
    source_matter = (
        matter_selectors.access_matter(user, payload.source_matter_id)
        if payload.source_matter_id is not None
        else None
    )
    with payload_fields(PAYLOAD_FIELDS):
        consultation = services.consultation_propose(
            by=user,
            community=community,
            rule_set=rule_set,
            title=payload.title,
            description=payload.description,
            origin=payload.origin,
            organisation=organisation,
            source_matter=source_matter,
            source_note=payload.source_note,
            is_major=payload.is_major,
            is_public=payload.is_public,
        )
    return Status(201, consultation_detail_for(user, consultation.pk))


@router.post("/{consultation_id}/cosign", response=DETAIL_RESPONSES, summary="Co-sign a residents' topic")
def consultation_cosign(request, consultation_id: int):
    services.consultation_cosign(consultation=access(request, consultation_id), by=request.auth)
    return detail(request, consultation_id)


@router.post(
    "/{consultation_id}/review", response=DETAIL_RESPONSES, summary="Accept or decline a topic (staff)"
)
def consultation_review(request, consultation_id: int, payload: ReviewIn):
    services.consultation_review(
        consultation=access(request, consultation_id),
        by=request.auth,
        accept=payload.accept,
        reason=payload.reason,
    )
    return detail(request, consultation_id)


@router.post(
    "/{consultation_id}/public",
    response=DETAIL_RESPONSES,
    summary="Open the record to everyone, or keep it to the community and the participants (staff)",
)
def consultation_set_public(request, consultation_id: int, payload: PublicIn):
    """At any step, either way; the change is on the record."""
    services.consultation_set_public(
        consultation=access(request, consultation_id), by=request.auth, is_public=payload.is_public
    )
    return detail(request, consultation_id)


# ----------------------------------------------------------------------------- participants, notice, meeting


@router.post(
    "/{consultation_id}/participants",
    response={201: ParticipantOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Add a participant (staff)",
)
def participant_add(request, consultation_id: int, payload: ParticipantIn):
    """A resident, a household, an organisation, or an expert (who advises and does not vote) by name."""
    user = request.auth
    consultation = access(request, consultation_id)
    resident = (
        core_selectors.access_resident(user, payload.resident_id) if payload.resident_id is not None else None
    )
    household = (
        core_selectors.access_household(user, payload.household_id)
        if payload.household_id is not None
        else None
    )
    organisation = (
        core_selectors.access_organisation(user, payload.organisation_id)
        if payload.organisation_id is not None
        else None
    )
    with payload_fields(PAYLOAD_FIELDS):
        participant = services.participant_add(
            consultation=consultation,
            by=user,
            kind=payload.kind,
            resident=resident,
            household=household,
            organisation=organisation,
            name=payload.name,
            floor_area=payload.floor_area,
        )
    return Status(201, participant)


@router.post(
    "/{consultation_id}/participants/region",
    response={200: AddedOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Add every resident, or every household, of a region of the community (staff)",
)
def participants_add_region(request, consultation_id: int, payload: RegionParticipantsIn):
    consultation = access(request, consultation_id)
    region = get_object_or_404(Region.objects.all(), pk=payload.region_id)
    with payload_fields(PAYLOAD_FIELDS):
        added = services.participants_add_region(
            consultation=consultation, by=request.auth, region=region, households=payload.households
        )
    return {"added": added}


@router.post(
    "/{consultation_id}/motions",
    response={201: MotionOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Add a motion to vote on (staff)",
)
def motion_add(request, consultation_id: int, payload: MotionIn):
    motion = services.motion_add(
        consultation=access(request, consultation_id), by=request.auth, text=payload.text
    )
    return Status(201, {"id": motion.pk, "number": motion.number, "text": motion.text, "voted": False})


@router.post(
    "/{consultation_id}/notice",
    response=DETAIL_RESPONSES,
    summary="Send the notice and materials (at least the rule's days before the meeting; staff)",
)
def consultation_notice(request, consultation_id: int, payload: NoticeIn):
    services.consultation_notice(
        consultation=access(request, consultation_id),
        by=request.auth,
        meeting_at=payload.meeting_at,
        materials=payload.materials,
        place=payload.place,
        online=payload.online,
    )
    return detail(request, consultation_id)


@router.post("/{consultation_id}/minutes", response=DETAIL_RESPONSES, summary="Record the minutes (staff)")
def minutes_record(request, consultation_id: int, payload: MinutesIn):
    services.minutes_record(
        consultation=access(request, consultation_id), by=request.auth, minutes=payload.minutes
    )
    return detail(request, consultation_id)


@router.post(
    "/{consultation_id}/reply",
    response={200: ReplyOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Answer the meeting's invitation: in the hall, online or not attending (until it begins)",
)
def participant_reply(request, consultation_id: int, payload: ReplyIn):
    """For yourself, your household if you are its head, and the organisations you act for."""
    participants = services.participant_reply(
        consultation=access(request, consultation_id), by=request.auth, reply=payload.reply, note=payload.note
    )
    first = participants[0]
    return {
        "participant_ids": [participant.pk for participant in participants],
        "reply": first.reply,
        "reply_label": first.get_reply_display(),
        "note": first.reply_note,
        "replied_at": first.replied_at,
    }


@router.post(
    "/{consultation_id}/sign-in",
    response={200: AttendanceOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Sign yourself in at the meeting with the code shown in the hall",
)
def attendance_self_sign_in(request, consultation_id: int, payload: SignInIn):
    return services.attendance_self_sign_in(
        consultation=access(request, consultation_id), by=request.auth, code=payload.code
    )


@router.post(
    "/{consultation_id}/attendance",
    response={200: AttendanceOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Sign a participant in, or record that they left (staff)",
)
def attendance_mark(request, consultation_id: int, payload: AttendanceIn):
    """Quorum is counted at the close, so leaving before the vote counts."""
    consultation = access(request, consultation_id)
    # Signing others in is staff work (the services leave that to the caller; see the module's report).
    if not has_perm_in(request.auth, Perm.MANAGE_CONSULTATIONS, consultation.community):
        raise ServiceError(_("Only the community's staff can do that."))
    participant = get_object_or_404(consultation.participants.all(), pk=payload.participant_id)
    mark = services.attendance_sign_in if payload.action == "sign_in" else services.attendance_leave
    return mark(consultation=consultation, participant=participant, by=request.auth)


# ------------------------------------------------------------------------------------------------- voting


@router.post(
    "/{consultation_id}/voting/open",
    response=DETAIL_RESPONSES,
    summary="Freeze the roll of voters and open the ballots (staff)",
)
def voting_open(request, consultation_id: int, payload: VotingOpenIn):
    with payload_fields(PAYLOAD_FIELDS):
        services.voting_open(
            consultation=access(request, consultation_id), by=request.auth, closes_at=payload.closes_at
        )
    return detail(request, consultation_id)


@router.post(
    "/motions/{motion_id}/ballot",
    response=DETAIL_RESPONSES,
    summary="Vote on a motion: for, against or abstain (once)",
)
def ballot_cast(request, motion_id: int, payload: BallotIn):
    motion = selectors.access_motion(request.auth, motion_id)
    services.ballot_cast(motion=motion, by=request.auth, choice=payload.choice)
    return detail(request, motion.consultation_id)


@router.post(
    "/motions/{motion_id}/hall-tally",
    response={201: HallTallyOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Enter the hall's count for a motion (staff; a second staff member confirms it)",
)
def hall_tally_enter(request, motion_id: int, payload: HallTallyIn):
    """More votes than voters signed in (and not voting online) is impossible and refused."""
    motion = selectors.access_motion(request.auth, motion_id)
    return Status(201, services.hall_tally_enter(motion=motion, by=request.auth, **payload.model_dump()))


@router.post(
    "/hall-tallies/{tally_id}/confirm",
    response={200: HallTallyOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Confirm a hall count entered by another staff member",
)
def hall_tally_confirm(request, tally_id: int):
    tally = selectors.access_hall_tally(request.auth, tally_id)
    return services.hall_tally_confirm(tally=tally, by=request.auth)


@router.post(
    "/{consultation_id}/voting/close",
    response=DETAIL_RESPONSES,
    summary="Close the ballots and compute each motion's result by the rules (staff)",
)
def voting_close(request, consultation_id: int):
    services.voting_close(consultation=access(request, consultation_id), by=request.auth)
    return detail(request, consultation_id)


# ---------------------------------------------------------------------- publication, objections, evaluation


@router.post(
    "/{consultation_id}/publish",
    response=DETAIL_RESPONSES,
    summary="Publish the resolution (公示) for the rule's period (staff)",
)
def consultation_publish(request, consultation_id: int):
    services.consultation_publish(consultation=access(request, consultation_id), by=request.auth)
    return detail(request, consultation_id)


@router.post(
    "/{consultation_id}/objections",
    response={201: ObjectionOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Object to the published resolution, within the objection period",
)
def objection_file(request, consultation_id: int, payload: ObjectionIn):
    objection = services.objection_file(
        consultation=access(request, consultation_id), by=request.auth, text=payload.text
    )
    return Status(201, objection)


@router.post(
    "/objections/{objection_id}/answer",
    response={200: ObjectionOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Answer an objection publicly (staff)",
)
def objection_answer(request, objection_id: int, payload: AnswerIn):
    objection = selectors.access_objection(request.auth, objection_id)
    return services.objection_answer(objection=objection, by=request.auth, answer=payload.answer)


@router.post(
    "/{consultation_id}/publication/conclude",
    response=DETAIL_RESPONSES,
    summary="End the publication: implementation begins if a motion was adopted, else it closes (staff)",
)
def publication_conclude(request, consultation_id: int):
    """After the publication period, with every objection answered."""
    services.consultation_conclude_publication(consultation=access(request, consultation_id), by=request.auth)
    return detail(request, consultation_id)


@router.post(
    "/{consultation_id}/tasks",
    response={201: TaskOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Assign a task of the implementation (staff)",
)
def task_add(request, consultation_id: int, payload: TaskIn):
    user = request.auth
    organisation = (
        core_selectors.access_organisation(user, payload.organisation_id)
        if payload.organisation_id is not None
        else None
    )
    task = services.task_add(
        consultation=access(request, consultation_id),
        by=user,
        title=payload.title,
        responsible=payload.responsible,
        due_on=payload.due_on,
        organisation=organisation,
    )
    return Status(201, selectors.access_task(user, task.pk))


@router.post(
    "/tasks/{task_id}/progress",
    response={201: ProgressOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Report progress on a task (staff, or the responsible organisation's staff)",
)
def progress_report(request, task_id: int, payload: ProgressIn):
    task = selectors.access_task(request.auth, task_id)
    report = services.progress_report(task=task, by=request.auth, text=payload.text, done=payload.done)
    return Status(201, report)


@router.post(
    "/{consultation_id}/evaluation/open",
    response=DETAIL_RESPONSES,
    summary="Ask the participants to evaluate the result, once every task is done (staff)",
)
def evaluation_open(request, consultation_id: int):
    services.evaluation_open(consultation=access(request, consultation_id), by=request.auth)
    return detail(request, consultation_id)


@router.post(
    "/{consultation_id}/evaluations",
    response={201: EvaluationOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Evaluate the implemented result from 1 to 5 (participants, once)",
)
def evaluation_submit(request, consultation_id: int, payload: EvaluationIn):
    evaluation = services.evaluation_submit(
        consultation=access(request, consultation_id),
        by=request.auth,
        score=payload.score,
        comment=payload.comment,
    )
    return Status(201, evaluation)


@router.post(
    "/{consultation_id}/conclude",
    response=DETAIL_RESPONSES,
    summary="End the evaluation; the record keeps the average score (staff)",
)
def consultation_conclude(request, consultation_id: int):
    services.consultation_conclude(consultation=access(request, consultation_id), by=request.auth)
    return detail(request, consultation_id)
