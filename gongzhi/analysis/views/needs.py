"""The needs register and the needs dashboard.

The register lists the needs of the communities the user oversees (VIEW_ANALYSIS or MANAGE_ANALYSIS); those
who keep a community's register (MANAGE_ANALYSIS) add needs, rest them on survey answers or observations,
and record what was done. Everyone else who may read a need sees it read-only; a need outside the user's
scope, like every page for someone with no analysis role, is a 404.

The dashboard ranks the needs categories residents chose in a region's surveys of a year against the year
before, by group, with links down to the regions below and the register's needs by status."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.analysis import selectors, services
from gongzhi.analysis.forms_needs import (
    NEED_GROUPS,
    ActionForm,
    DashboardForm,
    NeedFilterForm,
    NeedForm,
    NoteEvidenceForm,
    RecordEvidenceForm,
    SurveyEvidenceForm,
)
from gongzhi.analysis.models import (
    CHOICE_KINDS,
    Answer,
    EvidenceKind,
    Group,
    Need,
    NeedCategory,
    NeedStatus,
    Question,
    QuestionKind,
    SurveyStatus,
)
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.models import RegionLevel
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_anywhere, has_perm_in
from gongzhi.core.selectors import region_children

PAGE_SIZE = 30
# The evidence picker offers the choice questions of the community's latest surveys.
SURVEYS_OFFERED = 20
# Drill-down stops at communities: below them counts get too small to show.
DRILL_LEVELS = [RegionLevel.CITY, RegionLevel.DISTRICT, RegionLevel.STREET]


def _require_analysis(user) -> None:
    if not (has_perm_anywhere(user, Perm.VIEW_ANALYSIS) or has_perm_anywhere(user, Perm.MANAGE_ANALYSIS)):
        raise Http404


def _group_labels(groups: list[str]) -> list[str]:
    names = dict(NEED_GROUPS)
    return [str(names.get(group, group)) for group in groups]


# ---------------------------------------------------------------------------------------------------------
# The register
# ---------------------------------------------------------------------------------------------------------


@login_required
@require_GET
def needs(request):
    user = request.user
    _require_analysis(user)
    filters = NeedFilterForm(request.GET, user=user)
    register = filters.filter(selectors.needs_visible_to(user)).select_related("community")
    page = Paginator(register.order_by("-people_count", "title", "pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for need in page.object_list:
        need.group_labels = _group_labels(need.groups)
    context = {
        "filters": filters,
        "page": page,
        "may_add": has_perm_anywhere(user, Perm.MANAGE_ANALYSIS),
    }
    return render(request, "analysis/needs.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def need_new(request):
    user = request.user
    if not has_perm_anywhere(user, Perm.MANAGE_ANALYSIS):
        raise Http404
    form = NeedForm(request.POST if request.method == "POST" else None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            need = services.need_create(
                by=user,
                community=data["community"],
                title=data["title"],
                description=data["description"],
                category=data["category"],
                need_type=data["need_type"],
                groups=data["groups"],
                regions=list(data["regions"]),
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The need is added to the register."))
            return redirect("analysis:need", need.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "analysis/need_form.html", {"form": form}, status=status)


def _option_label(question: Question, option: int) -> str:
    value = question.options[option]
    if question.kind == QuestionKind.NEEDS:
        return str(dict(NeedCategory.choices).get(value, value))
    return value


def _survey_sources(user, need: Need) -> list[tuple[str, str]]:
    """Every option of the choice questions of the surveys run in the need's community (or in a region
    around it), as "survey › question › option (count)", the counts in one aggregate query."""
    community = need.community
    surveys = (
        selectors.surveys_visible_to(user)
        .exclude(status=SurveyStatus.DRAFT)
        .filter(Q(region__path__startswith=community.path) | Q(region_id__in=community.ancestor_ids()))
        .order_by("-year", "-opened_at", "-pk")
        .values_list("pk", flat=True)[:SURVEYS_OFFERED]
    )
    questions = list(
        Question.objects.filter(survey__in=list(surveys), kind__in=CHOICE_KINDS)
        .select_related("survey")
        .order_by("-survey__year", "survey__title", "survey_id", "number")
    )
    counts = {
        (row["question"], row["option"]): row["n"]
        for row in Answer.objects.filter(
            question__in=questions, option__isnull=False, response__building__path__startswith=community.path
        )
        .values("question", "option")
        .annotate(n=Count("pk"))
    }
    return [
        (
            f"{question.pk}:{option}",
            f"{question.survey} › {question.text} › {_option_label(question, option)} "
            f"({counts.get((question.pk, option), 0)})",
        )
        for question in questions
        for option in range(len(question.options))
    ]


def _evidence_rows(need: Need) -> list[dict]:
    rows = []
    linked = need.evidence.select_related("question__survey", "added_by", "matter", "consultation")
    for evidence in linked.order_by("added_at", "pk"):
        if evidence.kind == EvidenceKind.SURVEY:
            question = evidence.question
            option = evidence.option if evidence.option is not None else -1
            label = _option_label(question, option) if 0 <= option < len(question.options) else ""
            source = f"{question.survey} › {question.text} › {label}"
        elif evidence.kind == EvidenceKind.MATTER:
            source = _("Matter #%(number)s: %(summary)s") % {
                "number": evidence.matter_id,
                "summary": evidence.matter.description[:60],
            }
        elif evidence.kind == EvidenceKind.CONSULTATION:
            source = _("Consultation: %(title)s") % {"title": evidence.consultation.title}
        else:
            source = evidence.note
        rows.append({"evidence": evidence, "source": source})
    return rows


def _need_page(
    request, need: Need, *, survey_form=None, note_form=None, record_form=None, action_form=None, status=200
):
    user = request.user
    may_keep = has_perm_in(user, Perm.MANAGE_ANALYSIS, need.community)
    context = {
        "need": need,
        "group_labels": _group_labels(need.groups),
        "regions": list(need.regions.select_related("parent").order_by("path")),
        "evidence": _evidence_rows(need),
        "actions": list(need.actions.select_related("by")),
        "may_keep": may_keep,
    }
    if may_keep:
        sources = _survey_sources(user, need)
        context.update(
            survey_form=survey_form or SurveyEvidenceForm(sources=sources),
            has_sources=bool(sources),
            note_form=note_form or NoteEvidenceForm(),
            record_form=record_form or RecordEvidenceForm(),
            action_form=action_form or ActionForm(initial={"status": need.status}),
        )
    return render(request, "analysis/need.html", context, status=status)


@login_required
@require_GET
def need(request, need_id: int):
    return _need_page(request, selectors.access_need(request.user, need_id))


def _kept_need(request, need_id: int) -> Need:
    """A need the user keeps; one they only read is as missing as one they cannot see."""
    need = selectors.access_need(request.user, need_id)
    if not has_perm_in(request.user, Perm.MANAGE_ANALYSIS, need.community):
        raise Http404
    return need


def _post_to_need(request, need: Need, *, form, slot: str, act, done: str):
    """One of the need page's forms: a valid form is handed to its service; a refusal shows on the page
    again, with the form as it was sent."""
    if form.is_valid():
        try:
            act(form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, done)
            return redirect("analysis:need", need.pk)
    return _need_page(request, need, status=400, **{slot: form})


@login_required
@require_POST
def need_evidence_survey(request, need_id: int):
    need = _kept_need(request, need_id)
    form = SurveyEvidenceForm(request.POST, sources=_survey_sources(request.user, need))

    def act(data):
        question_id, option = form.question_and_option
        question = Question.objects.select_related("survey__region").get(pk=question_id)
        services.evidence_add_survey(need=need, by=request.user, question=question, option=option)

    return _post_to_need(
        request,
        need,
        form=form,
        slot="survey_form",
        act=act,
        done=_("The survey answers are added as evidence."),
    )


@login_required
@require_POST
def need_evidence_note(request, need_id: int):
    need = _kept_need(request, need_id)
    return _post_to_need(
        request,
        need,
        form=NoteEvidenceForm(request.POST),
        slot="note_form",
        act=lambda data: services.evidence_add_note(
            need=need, by=request.user, note=data["note"], count=data["count"]
        ),
        done=_("The observation is added as evidence."),
    )


@login_required
@require_POST
def need_evidence_record(request, need_id: int):
    """A matter reported or a consultation held in the community, by its number, as evidence."""
    need = _kept_need(request, need_id)
    return _post_to_need(
        request,
        need,
        form=RecordEvidenceForm(request.POST),
        slot="record_form",
        act=lambda data: services.evidence_add_record(
            need=need, by=request.user, kind=data["kind"], number=data["number"]
        ),
        done=_("The record is added as evidence."),
    )


@login_required
@require_POST
def need_act(request, need_id: int):
    need = _kept_need(request, need_id)
    return _post_to_need(
        request,
        need,
        form=ActionForm(request.POST),
        slot="action_form",
        act=lambda data: services.need_act(
            need=need, by=request.user, text=data["text"], status=data["status"]
        ),
        done=_("The action is recorded."),
    )


# ---------------------------------------------------------------------------------------------------------
# The dashboard
# ---------------------------------------------------------------------------------------------------------


@login_required
@require_GET
def dashboard(request):
    user = request.user
    _require_analysis(user)
    region = selectors.access_dashboard_region(user, request.GET.get("region"))
    form = DashboardForm(
        {"year": request.GET.get("year") or timezone.localdate().year, "group": request.GET.get("group", "")}
    )
    year = form.cleaned_data["year"] if form.is_valid() else timezone.localdate().year
    group = form.cleaned_data.get("group", "") if form.is_valid() else ""
    group = "" if group == Group.ALL else group
    ranking = selectors.needs_ranking(region, year=year, group=group)
    rows = [{"rank": rank, "change": rank.change} for rank in ranking]
    by_status = dict(
        selectors.needs_visible_to(user)
        .filter(community__path__startswith=region.path)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    children = list(region_children(region)) if region.level in DRILL_LEVELS else []
    ancestors = list(
        selectors.regions_overseen_by(user).filter(pk__in=region.ancestor_ids()).exclude(pk=region.pk)
    )

    def query(**changes) -> str:
        return urlencode({"region": region.pk, "year": year, "group": group} | changes)

    context = {
        "form": form,
        "region": region,
        "year": year,
        "group": group,
        "rows": rows,
        "tabs": [
            (label, query(group="" if value == Group.ALL else value), value == (group or Group.ALL))
            for value, label in Group.choices
        ],
        "children": [(child, query(region=child.pk)) for child in children],
        "ancestors": [(ancestor, query(region=ancestor.pk)) for ancestor in ancestors],
        "by_status": [(value, label, by_status.get(value, 0)) for value, label in NeedStatus.choices],
        "register_total": sum(by_status.values()),
        "chart": {
            "categories": [rank.label for rank in ranking],
            "series": [
                {"name": str(year), "data": [rank.count for rank in ranking]},
                {"name": str(year - 1), "data": [rank.last_year for rank in ranking]},
            ],
            "axis": _("People"),
        },
    }
    return render(request, "analysis/dashboard.html", context)


urls = [
    path("needs/", needs, name="needs"),
    path("needs/new/", need_new, name="need_new"),
    path("needs/<int:need_id>/", need, name="need"),
    path("needs/<int:need_id>/evidence/survey/", need_evidence_survey, name="need_evidence_survey"),
    path("needs/<int:need_id>/evidence/note/", need_evidence_note, name="need_evidence_note"),
    path("needs/<int:need_id>/evidence/record/", need_evidence_record, name="need_evidence_record"),
    path("needs/<int:need_id>/act/", need_act, name="need_act"),
    path("dashboard/", dashboard, name="dashboard"),
]
