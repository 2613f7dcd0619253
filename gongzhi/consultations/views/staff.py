"""The pages community staff run a consultation with: rule sets, the desk (what waits for them, and raising a
topic) and one page per consultation with the actions of its step, each a small form posting to its own URL.

Everything here needs Perm.MANAGE_CONSULTATIONS over the consultation's community; anything else is a 404."""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.consultations import services
from gongzhi.consultations.floor_areas import counts_area
from gongzhi.consultations.forms_staff import (
    ORGANISATION_KINDS,
    PERSON_KINDS,
    AttachmentForm,
    AttendanceForm,
    ConfirmStepForm,
    HallConfirmForm,
    HallTallyForm,
    MinutesForm,
    MotionForm,
    NoticeForm,
    ObjectionAnswerForm,
    ParticipantForm,
    ProgressForm,
    PublicForm,
    RaiseTopicForm,
    RegionParticipantsForm,
    ReviewForm,
    RosterSearchForm,
    RuleSetForm,
    TaskForm,
    VotingOpenForm,
)
from gongzhi.consultations.models import Attachment, Consultation, Origin, ParticipantKind, Stage
from gongzhi.consultations.selectors import (
    access_managed_consultation,
    consultations_managed_by,
    hall_tallies_of,
    motion_reasons,
    organisations_for,
    quorum_now,
    reply_counts,
    rule_set_regions,
    rule_sets_usable_by,
)
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.models import Region
from gongzhi.core.qr import qr_svg
from gongzhi.core.roles import Perm
from gongzhi.core.selectors import region_subtree, regions_where, resident_search, residents_visible_to
from gongzhi.matters.selectors import access_matter

# Rule sets -------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def rule_sets(request):
    regions = rule_set_regions(request.user)
    if not regions.exists():
        raise Http404
    form = RuleSetForm(request.POST or None, regions=regions, auto_id="id_rules_%s")
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        region, name = fields.pop("region"), fields.pop("name")
        try:
            rule_set = services.rule_set_create(by=request.user, region=region, name=name, **fields)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Rule set “%(name)s” saved.") % {"name": rule_set.name})
            return redirect("consultations:rules")
    context = {"form": form, "rule_sets": list(rule_sets_usable_by(request.user))}
    return render(request, "consultations/staff_rules.html", context, status=400 if form.errors else 200)


# The desk --------------------------------------------------------------------------------------------------

DESK_STAGES = [
    (Stage.REVIEW, "review_deadline"),
    (Stage.PREPARING, "created_at"),
    (Stage.VOTING, "voting_closes_at"),
    (Stage.DECIDED, "voting_closed_at"),
    (Stage.PUBLISHED, "publication_ends_at"),
    (Stage.IMPLEMENTING, "created_at"),
    (Stage.EVALUATION, "created_at"),
]
DESK_ROWS = 50


@login_required
@require_http_methods(["GET", "POST"])
def desk(request):
    user = request.user
    communities = regions_where(user, Perm.MANAGE_CONSULTATIONS, levels=[Region.Level.COMMUNITY])
    if not communities.exists():
        raise Http404
    form = RaiseTopicForm(
        request.POST or None,
        communities=communities,
        rule_sets=rule_sets_usable_by(user),
        auto_id="id_raise_%s",
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            consultation = services.consultation_propose(
                by=user,
                community=data["community"],
                rule_set=data["rule_set"],
                title=data["title"],
                description=data["description"],
                origin=data["origin"],
                source_matter=_matter(user, data["source_matter"])
                if data["origin"] == Origin.MATTER
                else None,
                source_note=data["source_note"],
                is_major=data["is_major"],
                is_public=not data["keep_private"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The topic is raised; choose its participants."))
            return redirect("consultations:manage", consultation.pk)
    managed = consultations_managed_by(user).select_related("community")
    groups = [
        (stage.label, stage.value, list(managed.filter(stage=stage).order_by(order, "pk")[:DESK_ROWS]))
        for stage, order in DESK_STAGES
    ]
    context = {"form": form, "groups": groups, "now": timezone.now()}
    return render(request, "consultations/staff_desk.html", context, status=400 if form.errors else 200)


def _matter(user, matter_id: int | None):
    try:
        return access_matter(user, matter_id)
    except Http404:
        raise ServiceError(_("There is no matter with this number."), field="source_matter") from None


# One consultation: the page and its actions ----------------------------------------------------------------

PARTICIPANTS_SHOWN = 200
PERSON_CHOICES = [(value, label) for value, label in ParticipantKind.choices if value in PERSON_KINDS]
ORGANISATION_OR_EXPERT = [
    (value, label)
    for value, label in ParticipantKind.choices
    if value in (*ORGANISATION_KINDS, ParticipantKind.EXPERT)
]
ROSTER_MATCHES = 20

# The single forms each step offers (the per-row ones are built beside their rows).
STAGE_FORMS = {
    Stage.REVIEW: ["review"],
    Stage.PREPARING: ["participants_region", "participant", "motion", "notice", "voting_open"],
    Stage.VOTING: ["voting_close"],
    Stage.DECIDED: ["publish"],
    Stage.PUBLISHED: ["conclude_publication"],
    Stage.IMPLEMENTING: ["task", "evaluation_open"],
    Stage.EVALUATION: ["conclude"],
}
MINUTES_STAGES = (Stage.PREPARING, Stage.VOTING, Stage.DECIDED)
MEETING_STAGES = (Stage.PREPARING, Stage.VOTING)


def _form(action: str, consultation: Consultation, data=None, files=None, **kwargs):
    """The form of an action, bound to the consultation's own choices."""
    if action == "participants_region":
        kwargs["regions"] = region_subtree(consultation.community).select_related("parent")
    elif action in ("participant", "task"):
        kwargs["organisations"] = organisations_for(consultation)
    elif action in ("sign_in", "leave"):
        kwargs["rows"] = consultation.participants.all()
    elif action == "hall_tally":
        kwargs["rows"] = consultation.motions.all()
        kwargs["counts_area"] = counts_area(consultation)
    elif action == "hall_confirm":
        kwargs["rows"] = hall_tallies_of(consultation)
    elif action == "answer":
        kwargs["rows"] = consultation.objections.all()
    elif action == "progress":
        kwargs["rows"] = consultation.tasks.all()
    kwargs.setdefault("auto_id", f"id_{action}_%s")
    return FORMS[action](data, files, **kwargs)


def _participant_add(consultation, user, data):
    resident = None
    if data["resident"]:
        resident = (
            residents_visible_to(user)
            .filter(community_id=consultation.community_id, pk=data["resident"])
            .first()
        )
        if resident is None:
            raise ServiceError(_("Choose a resident of this community."))
    return services.participant_add(
        consultation=consultation,
        by=user,
        kind=data["kind"],
        resident=resident,
        organisation=data["organisation"],
        name=data["name"],
        floor_area=data["floor_area"],
    )


def _notice(consultation, user, data):
    return services.consultation_notice(
        consultation=consultation,
        by=user,
        meeting_at=data["meeting_at"],
        materials=data["materials"],
        place=data["place"],
        online=data["online"],
    )


def _hall_tally(consultation, user, data):
    areas = {f"{choice}_area": data.get(f"{choice}_area") or 0 for choice in ("yes", "no", "abstain")}
    return services.hall_tally_enter(
        motion=data["motion"],
        by=user,
        yes_heads=data["yes_heads"],
        no_heads=data["no_heads"],
        abstain_heads=data["abstain_heads"],
        **areas,
    )


# action: (form class, call the service with the consultation, the user and the cleaned data, done message)
ACTIONS = {
    "review": (
        ReviewForm,
        lambda c, u, d: services.consultation_review(
            consultation=c, by=u, accept=d["decision"] == "accept", reason=d["reason"]
        ),
        gettext_lazy("The committee's decision is recorded."),
    ),
    "public": (
        PublicForm,
        lambda c, u, d: services.consultation_set_public(consultation=c, by=u, is_public=d["is_public"]),
        gettext_lazy("Who can read the record is saved."),
    ),
    "participants_region": (
        RegionParticipantsForm,
        lambda c, u, d: services.participants_add_region(
            consultation=c, by=u, region=d["region"], households=d["households"]
        ),
        gettext_lazy("Participants added."),
    ),
    "participant": (ParticipantForm, _participant_add, gettext_lazy("Participant added.")),
    "motion": (
        MotionForm,
        lambda c, u, d: services.motion_add(consultation=c, by=u, text=d["text"]),
        gettext_lazy("Motion added."),
    ),
    "notice": (NoticeForm, _notice, gettext_lazy("The notice is sent to the participants.")),
    "attachment": (
        AttachmentForm,
        lambda c, u, d: services.attachment_add(consultation=c, by=u, kind=d["kind"], upload=d["file"]),
        gettext_lazy("File attached."),
    ),
    "sign_in": (
        AttendanceForm,
        lambda c, u, d: services.attendance_sign_in(consultation=c, participant=d["participant"], by=u),
        gettext_lazy("Signed in."),
    ),
    "leave": (
        AttendanceForm,
        lambda c, u, d: services.attendance_leave(consultation=c, participant=d["participant"], by=u),
        gettext_lazy("Recorded as gone."),
    ),
    "minutes": (
        MinutesForm,
        lambda c, u, d: services.minutes_record(consultation=c, by=u, minutes=d["minutes"]),
        gettext_lazy("Minutes saved."),
    ),
    "voting_open": (
        VotingOpenForm,
        lambda c, u, d: services.voting_open(consultation=c, by=u, closes_at=d["closes_at"]),
        gettext_lazy("Voting is open."),
    ),
    "hall_tally": (
        HallTallyForm,
        _hall_tally,
        gettext_lazy("The hall's count is entered; a second staff member confirms it."),
    ),
    "hall_confirm": (
        HallConfirmForm,
        lambda c, u, d: services.hall_tally_confirm(tally=d["tally"], by=u),
        gettext_lazy("The hall's count is confirmed."),
    ),
    "voting_close": (
        ConfirmStepForm,
        lambda c, u, d: services.voting_close(consultation=c, by=u),
        gettext_lazy("Voting is closed; the results are below."),
    ),
    "publish": (
        ConfirmStepForm,
        lambda c, u, d: services.consultation_publish(consultation=c, by=u),
        gettext_lazy("The resolution is published."),
    ),
    "answer": (
        ObjectionAnswerForm,
        lambda c, u, d: services.objection_answer(objection=d["objection"], by=u, answer=d["answer"]),
        gettext_lazy("The answer is published."),
    ),
    "conclude_publication": (
        ConfirmStepForm,
        lambda c, u, d: services.consultation_conclude_publication(consultation=c, by=u),
        gettext_lazy("The publication period is concluded."),
    ),
    "task": (
        TaskForm,
        lambda c, u, d: services.task_add(
            consultation=c,
            by=u,
            title=d["title"],
            responsible=d["responsible"],
            due_on=d["due_on"],
            organisation=d["organisation"],
        ),
        gettext_lazy("Task added."),
    ),
    "progress": (
        ProgressForm,
        lambda c, u, d: services.progress_report(task=d["task"], by=u, text=d["text"], done=d["done"]),
        gettext_lazy("Progress reported."),
    ),
    "evaluation_open": (
        ConfirmStepForm,
        lambda c, u, d: services.evaluation_open(consultation=c, by=u),
        gettext_lazy("The participants are asked to evaluate the result."),
    ),
    "conclude": (
        ConfirmStepForm,
        lambda c, u, d: services.consultation_conclude(consultation=c, by=u),
        gettext_lazy("The consultation is concluded."),
    ),
}
FORMS = {action: form_class for action, (form_class, _perform, _done) in ACTIONS.items()}
# Where the page opens after an action.
ANCHORS = {
    "sign_in": "meeting",
    "leave": "meeting",
    "hall_tally": "motions",
    "hall_confirm": "motions",
    "public": "public",
}


@login_required
@require_GET
def manage(request, consultation_id: int):
    consultation = access_managed_consultation(request.user, consultation_id)
    return _manage_page(request, consultation)


@login_required
@require_POST
def act(request, consultation_id: int, action: str):
    consultation = access_managed_consultation(request.user, consultation_id)
    if action not in ACTIONS:
        raise Http404
    _form_class, perform, done = ACTIONS[action]
    form = _form(action, consultation, request.POST, request.FILES)
    if form.is_valid():
        try:
            perform(consultation, request.user, form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, str(done))
            anchor = ANCHORS.get(action, "step")
            return redirect(reverse("consultations:manage", args=[consultation.pk]) + f"#{anchor}")
    consultation.refresh_from_db()
    return _manage_page(request, consultation, failed=(action, form))


def _manage_page(request, consultation: Consultation, *, failed: tuple[str, object] | None = None):
    """The consultation's page for its staff; after a refused action, with that form and its errors."""
    stage = consultation.stage
    failed_action, failed_form = failed or ("", None)

    def single(action: str, **initial):
        if action == failed_action:
            return failed_form
        return _form(action, consultation, initial=initial or None)

    def row_forms(action: str, rows: list, field: str, **initial) -> list:
        """(row, form) pairs: the failed form beside the row it was about."""
        failed_pk = str(failed_form.data.get(field, "")) if failed_action == action else None
        pairs = []
        for row in rows:
            if failed_pk == str(row.pk):
                pairs.append((row, failed_form))
            else:
                form = _form(action, consultation, initial={field: row.pk, **initial})
                form.auto_id = f"id_{action}_{row.pk}_%s"
                pairs.append((row, form))
        return pairs

    forms = {action: single(action) for action in STAGE_FORMS.get(stage, [])}
    if "participant" in forms and not forms["participant"].is_bound:
        forms["participant"].fields["kind"].choices = ORGANISATION_OR_EXPERT
    if "notice" in forms:
        if failed_action != "notice":
            forms["notice"] = _form("notice", consultation, initial=_notice_initial(consultation))
        forms["materials"] = _attachment_form(Attachment.Kind.MATERIALS, failed)
    if stage == Stage.PREPARING and consultation.notice_sent_at is None:
        forms.pop("voting_open", None)
    # Who can read the record is open to change at every step (services.consultation_set_public).
    forms["public"] = single("public", is_public="public" if consultation.is_public else "private")
    if stage in MINUTES_STAGES and consultation.meeting_at:
        forms["minutes"] = single("minutes", minutes=consultation.minutes)
        forms["minutes_file"] = _attachment_form(Attachment.Kind.MINUTES, failed)

    motions = list(
        consultation.motions.prefetch_related("hall_tallies__entered_by", "hall_tallies__confirmed_by")
    )
    for motion in motions:
        tallies = list(motion.hall_tallies.all())
        motion.tally = tallies[0] if tallies else None
        motion.reasons = motion_reasons(motion)
    tally_forms, confirm_forms = {}, {}
    if stage == Stage.VOTING:
        tally_forms = dict(row_forms("hall_tally", [m for m in motions if m.tally is None], "motion"))
        waiting = [m.tally for m in motions if m.tally and not m.tally.confirmed_at]
        confirm_forms = {tally.motion_id: form for tally, form in row_forms("hall_confirm", waiting, "tally")}
    motion_rows = [(motion, tally_forms.get(motion), confirm_forms.get(motion.pk)) for motion in motions]

    meeting_on = stage in MEETING_STAGES and consultation.meeting_at is not None
    participants, participant_total, attendance = _participants(request, consultation)
    attachments = list(consultation.attachments.select_related("uploaded_by"))
    objections = list(consultation.objections.select_related("by", "answered_by"))
    open_objections = [objection for objection in objections if objection.answered_at is None]
    tasks = list(consultation.tasks.select_related("organisation").prefetch_related("reports__by"))
    context = {
        "c": consultation,
        "rule_set": consultation.rule_set,
        "forms": forms,
        "failed_action": failed_action,
        "attendance_form": failed_form if failed_action in ("sign_in", "leave") else None,
        "motion_rows": motion_rows,
        "counts_area": counts_area(consultation),
        "results_shown": stage not in (Stage.COSIGNING, Stage.REVIEW, Stage.LAPSED, Stage.DECLINED)
        and consultation.voting_closed_at is not None,
        "meeting_on": meeting_on,
        "quorum": quorum_now(consultation) if meeting_on else None,
        "code": _code_context(request, consultation) if meeting_on else None,
        "speech_rules": [line for line in consultation.rule_set.speech_rules.splitlines() if line.strip()],
        "participants": participants,
        "participant_total": participant_total,
        "replies": reply_counts(consultation) if consultation.notice_sent_at else None,
        "attendance": attendance,
        "who": request.GET.get("who", "").strip(),
        "roster": _roster_context(request, consultation) if stage == Stage.PREPARING else None,
        "materials": [a for a in attachments if a.kind == Attachment.Kind.MATERIALS],
        "minutes_files": [a for a in attachments if a.kind == Attachment.Kind.MINUTES],
        "objections": objections,
        "answer_forms": dict(row_forms("answer", open_objections, "objection"))
        if stage == Stage.PUBLISHED
        else {},
        "task_rows": row_forms("progress", [task for task in tasks if task.done_at is None], "task")
        if stage == Stage.IMPLEMENTING
        else [],
        "tasks": tasks,
    }
    return render(request, "consultations/staff_manage.html", context, status=400 if failed else 200)


def _notice_initial(consultation: Consultation) -> dict:
    if consultation.meeting_at is None:
        return {"online": True}
    return {
        "meeting_at": timezone.localtime(consultation.meeting_at),
        "place": consultation.meeting_place,
        "online": consultation.meeting_online,
    }


def _attachment_form(kind: str, failed):
    failed_action, failed_form = failed or ("", None)
    if failed_action == "attachment" and failed_form.data.get("kind") == kind:
        return failed_form
    return _form("attachment", None, initial={"kind": kind}, auto_id=f"id_attachment_{kind}_%s")


def _participants(request, consultation: Consultation) -> tuple[list, int, dict]:
    """The participants shown (filtered by name, at most PARTICIPANTS_SHOWN), how many there are in all, and
    the attendance of those shown."""
    participants = consultation.participants.select_related("resident__region__parent", "organisation")
    who = request.GET.get("who", "").strip()
    if who:
        participants = participants.filter(name__contains=who)
    shown = list(participants.order_by("kind", "name", "pk")[:PARTICIPANTS_SHOWN])
    total = consultation.participants.count()
    attendance = {
        row.participant_id: row
        for row in consultation.attendance.filter(participant_id__in=[p.pk for p in shown])
    }
    for participant in shown:
        participant.attendance = attendance.get(participant.pk)
    return shown, total, attendance


def _code_context(request, consultation: Consultation) -> dict:
    code = services.meeting_code(consultation)
    url = (
        request.build_absolute_uri(reverse("consultations:signin", args=[consultation.pk])) + f"?code={code}"
    )
    return {"code": code, "qr_svg": qr_svg(url), "url": url}


def _roster_context(request, consultation: Consultation) -> dict:
    search = RosterSearchForm(request.GET or None, auto_id="id_roster_%s")
    query = search.cleaned_data["q"].strip() if search.is_valid() else ""
    matches = []
    if query:
        matches = list(
            resident_search(request.user, query=query, community_id=consultation.community_id)[
                :ROSTER_MATCHES
            ]
        )
    return {"search": search, "query": query, "matches": matches, "kinds": PERSON_CHOICES}


@login_required
@require_GET
def roster(request, consultation_id: int):
    """The HTMX panel of roster matches, each with a button adding the resident as a participant."""
    consultation = access_managed_consultation(request.user, consultation_id)
    return render(
        request,
        "consultations/staff_roster.html",
        {"c": consultation, "roster": _roster_context(request, consultation), "counts_area": True},
    )


@login_required
@require_GET
def code(request, consultation_id: int):
    """The hall's sign-in QR code, refreshed by the console every 30 seconds."""
    consultation = access_managed_consultation(request.user, consultation_id)
    meeting_on = consultation.stage in MEETING_STAGES and consultation.meeting_at is not None
    context = {"c": consultation, "code": _code_context(request, consultation) if meeting_on else None}
    return render(request, "consultations/staff_code.html", context)


@login_required
@require_GET
def quorum(request, consultation_id: int):
    """The live quorum, polled by the console every 10 seconds."""
    consultation = access_managed_consultation(request.user, consultation_id)
    return render(
        request, "consultations/staff_quorum.html", {"c": consultation, "quorum": quorum_now(consultation)}
    )


@login_required
@require_GET
def attachment(request, consultation_id: int, attachment_id: int):
    consultation = access_managed_consultation(request.user, consultation_id)
    file = get_object_or_404(consultation.attachments, pk=attachment_id)
    return FileResponse(
        file.file.open("rb"), as_attachment=True, filename=file.name or Path(file.file.name).name
    )


urls = [
    path("rules/", rule_sets, name="rules"),
    path("desk/", desk, name="desk"),
    path("<int:consultation_id>/manage/", manage, name="manage"),
    path("<int:consultation_id>/manage/roster/", roster, name="manage_roster"),
    path("<int:consultation_id>/manage/code/", code, name="manage_code"),
    path("<int:consultation_id>/manage/quorum/", quorum, name="manage_quorum"),
    path("<int:consultation_id>/manage/files/<int:attachment_id>/", attachment, name="manage_attachment"),
    path("<int:consultation_id>/manage/<slug:action>/", act, name="manage_act"),
]
