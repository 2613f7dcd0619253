"""Consultation pages for residents and participants: the list, a consultation's page (co-sign, answer the
meeting's invitation, object, evaluate, and its public record), proposing a topic, voting, signing in at the
meeting by the hall's QR code, materials and minutes, and the printable resolution.

Thin: parse a form, call one service or selector, render. A consultation the viewer may not see is a 404;
one they may see but not act on says why, plainly. No page changes anything on GET."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.consultations import selectors, services
from gongzhi.consultations.forms import (
    AS_RESIDENT,
    BallotForm,
    ButtonForm,
    EvaluationForm,
    ObjectionForm,
    ProposeForm,
    ReplyForm,
    SignInForm,
)
from gongzhi.consultations.models import (
    Ballot,
    BallotReceipt,
    Consultation,
    Evaluation,
    Origin,
    Stage,
    VoteUnit,
)
from gongzhi.consultations.resolution import counts_text, vote_counts
from gongzhi.consultations.resolution import resolution_pdf as render_resolution_pdf
from gongzhi.core.crypto import mask_name
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.models import Organisation, Region, Resident
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_in, scope_organisation_ids

PAGE_SIZE = 20

# The list's filter: which stages each group holds (None: every stage).
STAGE_GROUPS = {
    "all": (gettext_lazy("All"), None),
    "cosigning": (gettext_lazy("Open for co-signing"), [Stage.COSIGNING]),
    "progress": (gettext_lazy("In progress"), [Stage.REVIEW, Stage.PREPARING, Stage.VOTING]),
    "decided": (
        gettext_lazy("Decided"),
        [
            Stage.DECIDED,
            Stage.PUBLISHED,
            Stage.CLOSED,
            Stage.IMPLEMENTING,
            Stage.EVALUATION,
            Stage.EVALUATED,
        ],
    ),
}
DECIDED_STAGES = STAGE_GROUPS["decided"][1]
MEETING_STAGES = (Stage.PREPARING, Stage.VOTING)


# ---------------------------------------------------------------------------------------------------------
# The list
# ---------------------------------------------------------------------------------------------------------


@require_GET
def consultation_list(request):
    """Consultations the viewer may see, newest first; anyone sees those whose record is public."""
    show = request.GET.get("show", "all")
    if show not in STAGE_GROUPS:
        show = "all"
    consultations = selectors.consultations_visible_to(request.user)
    stages = STAGE_GROUPS[show][1]
    if stages:
        consultations = consultations.filter(stage__in=stages)
    consultations = (
        consultations.select_related("community", "rule_set")
        .annotate(cosign_count=Count("cosigns"))
        .order_by("-created_at", "-pk")
    )
    page = Paginator(consultations, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "consultations/list.html",
        {
            "page": page,
            "show": show,
            "groups": [(key, label) for key, (label, _stages) in STAGE_GROUPS.items()],
        },
    )


# ---------------------------------------------------------------------------------------------------------
# A consultation's page and what residents and participants do there
# ---------------------------------------------------------------------------------------------------------


def detail(request, consultation_id: int):
    return _detail_page(request, selectors.access_consultation(request.user, consultation_id))


def _standing(user, consultation: Consultation) -> dict:
    """Who the viewer is to this consultation: a resident of its community, a participant, on the roll."""
    if not user.is_authenticated:
        return {"resident": False, "participant": None, "voter": None, "staff": False}
    return {
        "resident": Resident.objects.filter(user=user, community=consultation.community).exists(),
        "participant": services.participant_of(user, consultation),
        "voter": services.roll_entry_of(user, consultation) if consultation.voting_opened_at else None,
        "staff": has_perm_in(user, Perm.VIEW_CONSULTATIONS, consultation.community),
    }


def _cosign_state(user, consultation: Consultation, standing: dict, now) -> tuple[bool, str]:
    """Whether the viewer may co-sign now, and if not, why (shown instead of the button)."""
    if consultation.stage != Stage.COSIGNING:
        return False, ""
    if now > consultation.cosign_deadline:
        return False, _("The time for co-signing has ended.")
    if not user.is_authenticated:
        return False, _("Sign in to co-sign this topic.")
    if consultation.proposed_by_id == user.pk:
        return False, _("You proposed this topic; others co-sign it.")
    if consultation.cosigns.filter(user=user).exists():
        return False, _("You have co-signed this topic.")
    if not standing["resident"]:
        return False, _("Only residents of %(community)s can co-sign.") % {
            "community": consultation.community.name
        }
    return True, ""


def _objection_state(user, consultation: Consultation, standing: dict, now) -> tuple[bool, str]:
    if consultation.stage != Stage.PUBLISHED:
        return False, ""
    if now > consultation.objections_end_at:
        return False, _("The time for objections has ended.")
    if not user.is_authenticated:
        return False, _("Sign in to object to this resolution.")
    if not (standing["resident"] or standing["participant"]):
        return False, _("Only the community's residents and the participants can object.")
    return True, ""


def _reply_state(user, consultation: Consultation, standing: dict, now) -> tuple[list, str]:
    """The participants the viewer may answer the meeting's invitation for now (none: they may not), and if
    they may not, why."""
    if consultation.stage != Stage.PREPARING or consultation.notice_sent_at is None:
        return [], ""
    if now >= consultation.meeting_at or standing["participant"] is None:
        return [], ""
    invited = services.invited_as(user, consultation)
    if not invited:
        return [], _("The head of your household replies for it.")
    return invited, ""


def _evaluation_state(consultation: Consultation, standing: dict) -> tuple[bool, str]:
    if consultation.stage != Stage.EVALUATION:
        return False, ""
    participant = standing["participant"]
    if participant is None:
        return False, _("Only the participants evaluate the result.")
    if Evaluation.objects.filter(consultation=consultation, participant=participant).exists():
        return False, _("Thank you: you have evaluated this result.")
    return True, ""


def _actor_label(event, may_see_people: bool) -> str:
    """The public sees a resident's name masked (张*民); the community's staff see it whole."""
    if event.actor is None:
        return ""
    return event.actor.name if may_see_people else mask_name(event.actor.name)


def _detail_page(request, consultation: Consultation, *, failed: tuple[str, object] | None = None):
    """The consultation's page; after a refused action, with that action's form showing why."""
    user, now = request.user, timezone.now()
    standing = _standing(user, consultation)
    may_cosign, cosign_note = _cosign_state(user, consultation, standing, now)
    may_object, objection_note = _objection_state(user, consultation, standing, now)
    may_evaluate, evaluation_note = _evaluation_state(consultation, standing)
    invited, reply_note = _reply_state(user, consultation, standing, now)
    forms = {"cosign": ButtonForm(), "object": ObjectionForm(), "evaluate": EvaluationForm()}
    if invited:
        forms["reply"] = ReplyForm(
            online=consultation.meeting_online,
            initial={"reply": invited[0].reply, "note": invited[0].reply_note},
        )
    if failed:
        forms[failed[0]] = failed[1]
    motions = list(consultation.motions.all())
    by_area = consultation.rule_set.vote_unit == VoteUnit.OWNER
    for motion in motions:
        motion.reasons = selectors.motion_reasons(motion)
        motion.counts = vote_counts(motion, by_area=by_area) if motion.passed is not None else ""
    events = list(selectors.public_record(consultation))
    for event in events:
        event.actor_label = _actor_label(event, standing["staff"])
    context = {
        "consultation": consultation,
        "rule_set": consultation.rule_set,
        "quorum_percent": f"{(consultation.rule_set.quorum_share * 100).normalize():f}%",
        "standing": standing,
        "cosign_count": consultation.cosigns.count(),
        "may_cosign": may_cosign,
        "cosign_note": cosign_note,
        "may_object": may_object,
        "objection_note": objection_note,
        "may_evaluate": may_evaluate,
        "evaluation_note": evaluation_note,
        "may_reply": bool(invited),
        "reply_note": reply_note,
        "my_reply": invited[0] if invited and invited[0].reply else None,
        "forms": forms,
        "failed_action": failed[0] if failed else "",
        "motions": motions,
        "attachments": list(consultation.attachments.all()),
        "objections": list(consultation.objections.all()),
        "tasks": list(consultation.tasks.select_related("organisation").prefetch_related("reports")),
        "events": events,
        "meeting_called": consultation.meeting_at is not None,
        "in_meeting_stage": consultation.stage in MEETING_STAGES,
        "decided": consultation.stage in DECIDED_STAGES,
    }
    return render(request, "consultations/detail.html", context, status=400 if failed else 200)


ACTIONS = {
    # action: (form, call the service with the cleaned data, the message when done)
    "cosign": (
        ButtonForm,
        lambda c, u, d: services.consultation_cosign(consultation=c, by=u),
        gettext_lazy("Thank you: you co-signed this topic."),
    ),
    "object": (
        ObjectionForm,
        lambda c, u, d: services.objection_file(consultation=c, by=u, text=d["text"]),
        gettext_lazy("Your objection is filed; the committee will answer it publicly."),
    ),
    "evaluate": (
        EvaluationForm,
        lambda c, u, d: services.evaluation_submit(
            consultation=c, by=u, score=d["score"], comment=d["comment"]
        ),
        gettext_lazy("Thank you for your evaluation."),
    ),
    "reply": (
        ReplyForm,
        lambda c, u, d: services.participant_reply(consultation=c, by=u, reply=d["reply"], note=d["note"]),
        gettext_lazy("Thank you: your reply is recorded."),
    ),
}


@login_required
@require_POST
def act(request, consultation_id: int, action: str):
    consultation = selectors.access_consultation(request.user, consultation_id)
    form_class, perform, done = ACTIONS[action]
    form = form_class(request.POST)
    if form.is_valid():
        try:
            perform(consultation, request.user, form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, str(done))
            return redirect("consultations:detail", consultation.pk)
    consultation.refresh_from_db()
    return _detail_page(request, consultation, failed=(action, form))


@require_GET
def attachment(request, consultation_id: int, attachment_id: int):
    """Materials and minutes, for whoever may see the consultation: a 404 to anyone else."""
    consultation = selectors.access_consultation(request.user, consultation_id)
    document = get_object_or_404(consultation.attachments, pk=attachment_id)
    response = FileResponse(document.file.open("rb"), as_attachment=True, filename=document.name)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
def resolution_pdf(request, consultation_id: int):
    """The printable resolution, once voting has closed."""
    consultation = selectors.access_consultation(request.user, consultation_id)
    if consultation.stage not in DECIDED_STAGES:
        raise Http404
    pdf = render_resolution_pdf(consultation, list(consultation.motions.all()))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="resolution-{consultation.pk}.pdf"'
    return response


# ---------------------------------------------------------------------------------------------------------
# Proposing a topic
# ---------------------------------------------------------------------------------------------------------


def _proposal_places(user) -> dict[int, dict]:
    """The communities the user may propose in: where they live (as a resident), and those of the
    organisations they act for (for the organisation)."""
    places: dict[int, dict] = {}
    for resident in Resident.objects.filter(user=user).select_related("community"):
        place = places.setdefault(
            resident.community_id,
            {"community": resident.community, "as_resident": False, "organisations": []},
        )
        place["as_resident"] = True
    organisation_ids = scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
    community_level = Region.LEVEL_ORDER.index(Region.Level.COMMUNITY)
    for organisation in Organisation.objects.filter(pk__in=organisation_ids).select_related("region"):
        region = organisation.region
        if Region.LEVEL_ORDER.index(region.level) <= community_level:
            communities = Region.objects.filter(level=Region.Level.COMMUNITY, path__startswith=region.path)
        else:
            communities = Region.objects.filter(pk__in=region.ancestor_ids(), level=Region.Level.COMMUNITY)
        for community in communities.order_by("path"):
            place = places.setdefault(
                community.pk, {"community": community, "as_resident": False, "organisations": []}
            )
            place["organisations"].append(organisation)
    return places


@login_required
@require_http_methods(["GET", "POST"])
def propose(request):
    places = _proposal_places(request.user)
    chosen = request.GET.get("community", "")
    place = places.get(int(chosen)) if chosen.isdigit() else None
    if place is None and len(places) == 1:
        place = next(iter(places.values()))
    if place is None:
        return render(
            request,
            "consultations/propose.html",
            {"places": sorted(places.values(), key=lambda p: p["community"].path), "form": None},
        )
    community = place["community"]
    form = ProposeForm(
        request.POST or None,
        rule_sets=selectors.rule_sets_for(community),
        as_resident=place["as_resident"],
        organisations=place["organisations"],
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            consultation = services.consultation_propose(
                by=request.user,
                community=community,
                rule_set=data["rule_set"],
                title=data["title"],
                description=data["description"],
                origin=Origin.RESIDENT if data["proposer"] == AS_RESIDENT else Origin.ORGANISATION,
                organisation=data["organisation"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            if consultation.stage == Stage.COSIGNING:
                done = _("Your topic is proposed. It needs %(count)s co-signers by %(date)s.") % {
                    "count": consultation.rule_set.cosign_threshold,
                    "date": timezone.localtime(consultation.cosign_deadline).strftime("%Y-%m-%d"),
                }
            else:
                done = _("Your topic is proposed and sent to the committee for review.")
            messages.success(request, done)
            return redirect("consultations:detail", consultation.pk)
    return render(
        request,
        "consultations/propose.html",
        {"form": form, "community": community, "has_rule_sets": form.fields["rule_set"].queryset.exists()},
        status=400 if form.errors else 200,
    )


# ---------------------------------------------------------------------------------------------------------
# Voting and signing in at the meeting
# ---------------------------------------------------------------------------------------------------------


def _vote_page(request, consultation: Consultation, voter, *, failed: tuple[int, BallotForm] | None = None):
    rule_set = consultation.rule_set
    motions = list(consultation.motions.all())
    if rule_set.secret_ballot:
        voted = set(
            BallotReceipt.objects.filter(voter=voter, motion__in=motions).values_list("motion_id", flat=True)
        )
        mine = {}
    else:
        mine = dict(Ballot.objects.filter(voter=voter, motion__in=motions).values_list("motion_id", "choice"))
        voted = set(mine)
    open_ = consultation.stage == Stage.VOTING and timezone.now() < consultation.voting_closes_at
    by_area = rule_set.vote_unit == VoteUnit.OWNER
    for motion in motions:
        motion.consultation = consultation
        motion.voted = motion.pk in voted
        motion.my_choice = mine.get(motion.pk, "")
        motion.form = (
            failed[1] if failed and failed[0] == motion.pk else BallotForm(initial={"motion": motion.pk})
        )
        if motion.passed is not None:
            motion.counts = vote_counts(motion, by_area=by_area)
        elif open_ and rule_set.results_before_close:
            count, _took_part = services.motion_count(motion)
            motion.counts = counts_text(count.__dict__, by_area=by_area)
        else:
            motion.counts = ""
    return render(
        request,
        "consultations/vote.html",
        {
            "consultation": consultation,
            "motions": motions,
            "voting_open": open_,
            "refusal": "",
            # A refused vote on no motion of this page (a forged or stale motion number).
            "stray_form": failed[1] if failed and failed[0] not in {m.pk for m in motions} else None,
        },
        status=400 if failed else 200,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def vote(request, consultation_id: int):
    consultation = selectors.access_consultation(request.user, consultation_id)
    if consultation.voting_opened_at is None:
        refusal = _("Voting has not opened yet.")
        return render(request, "consultations/vote.html", {"consultation": consultation, "refusal": refusal})
    voter = services.roll_entry_of(request.user, consultation)
    if voter is None:
        refusal = _("You are not on this consultation's roll of voters, so you cannot vote on it.")
        return render(
            request, "consultations/vote.html", {"consultation": consultation, "refusal": refusal}, status=403
        )
    if request.method == "GET":
        return _vote_page(request, consultation, voter)
    form = BallotForm(request.POST)
    motion_id = request.POST.get("motion", "")
    if form.is_valid():
        motion = consultation.motions.filter(pk=form.cleaned_data["motion"]).first()
        if motion is None:
            form.add_error(None, _("Choose a motion of this consultation."))
        else:
            motion.consultation = consultation
            try:
                services.ballot_cast(motion=motion, by=request.user, choice=form.cleaned_data["choice"])
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(request, _("Your vote on motion %(n)s is recorded.") % {"n": motion.number})
                return redirect("consultations:vote", consultation.pk)
    consultation.refresh_from_db()
    return _vote_page(
        request, consultation, voter, failed=(int(motion_id) if motion_id.isdigit() else 0, form)
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def signin(request, consultation_id: int):
    """Where the hall's QR code leads (…/sign-in/?code=123456). GET only shows the confirm button; the POST
    signs the participant in."""
    consultation = selectors.access_consultation(request.user, consultation_id)
    participant = services.participant_of(request.user, consultation)
    context = {"consultation": consultation, "participant": participant}
    if participant is None:
        context["refusal"] = _("You are not a participant of this consultation, so you cannot sign in to it.")
        return render(request, "consultations/signin.html", context, status=403)
    if request.method == "POST":
        form = SignInForm(request.POST)
        if form.is_valid():
            try:
                attendance = services.attendance_self_sign_in(
                    consultation=consultation, by=request.user, code=form.cleaned_data["code"]
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    _("Signed in at %(time)s. Welcome!")
                    % {"time": timezone.localtime(attendance.signed_in_at).strftime("%H:%M")},
                )
                return redirect("consultations:detail", consultation.pk)
    else:
        form = SignInForm(initial={"code": request.GET.get("code", "")[:6]})
    context["form"] = form
    return render(request, "consultations/signin.html", context, status=400 if form.errors else 200)


urls = [
    path("", consultation_list, name="list"),
    path("propose/", propose, name="propose"),
    path("<int:consultation_id>/", detail, name="detail"),
    path("<int:consultation_id>/co-sign/", act, {"action": "cosign"}, name="cosign"),
    path("<int:consultation_id>/object/", act, {"action": "object"}, name="object"),
    path("<int:consultation_id>/evaluate/", act, {"action": "evaluate"}, name="evaluate"),
    path("<int:consultation_id>/reply/", act, {"action": "reply"}, name="reply"),
    path("<int:consultation_id>/vote/", vote, name="vote"),
    path("<int:consultation_id>/sign-in/", signin, name="signin"),
    path("<int:consultation_id>/attachments/<int:attachment_id>/", attachment, name="attachment"),
    path("<int:consultation_id>/resolution.pdf", resolution_pdf, name="resolution_pdf"),
]
