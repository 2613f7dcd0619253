"""The analysis router (社区分析): needs surveys (reading them, answering them online or, for their owners,
entering a resident's answers given in person or on paper, and their results), the needs register and the
needs dashboard, through the same selectors and services as the pages, so that every rule lives in
gongzhi.analysis.

Scope: a survey is reached by those who read its results (`surveys_visible_to`: staff overseeing its region)
and by the residents it is open to (`surveys_open_to`); its results only by the former. Needs and the
dashboard are of the regions the caller oversees (`needs_visible_to`, `access_dashboard_region`). Anything
outside answers 404 exactly like something that does not exist.

Errors: refused answers are answered 400 with every refused question's key and message at once (`errors`),
so that a client shows them all; any other refusal is the service's ServiceError, 400 with its translated
message. The shape of the input is checked by the schemas (422), as everywhere in this API
(gongzhi/api/errors.py). A refusal saves nothing: every answer is checked before any is written.

Privacy: results and rankings are aggregates with small counts suppressed (null); nothing here names who
answered a survey.
"""

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Status
from ninja.pagination import paginate

from gongzhi.analysis import selectors, services
from gongzhi.analysis.exports import register_counts
from gongzhi.analysis.forms_needs import NeedFilterForm
from gongzhi.analysis.models import Group, Mode, NeedCategory, NeedStatus, Survey
from gongzhi.api.analysis_schemas import (
    AnswersErrorOut,
    DashboardOut,
    NeedDetailOut,
    NeedOut,
    ResponseIn,
    ResponseOut,
    ResultsOut,
    SurveyDetailOut,
    SurveyOut,
)
from gongzhi.api.errors import payload_fields
from gongzhi.api.pagination import LimitOffset
from gongzhi.api.schemas import ErrorOut
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.selectors import region_subtree, resident_search

router = Router(tags=["analysis"])

# The services name the model's fields; a client sent the payload's.
PAYLOAD_FIELDS = {"resident": "resident_id"}
FIRST_YEAR, LAST_YEAR = 2000, 2100


def surveys_for(user) -> QuerySet[Survey]:
    """The surveys whose results the caller reads, and those open to them as a resident, each once, with
    whether it is open to them and whether they (or their household) have answered it. The open ones are
    few: they are worked out in Python, as the pages do, and the rest is one query."""
    resident = selectors.resident_of(user)
    open_to_caller = selectors.surveys_open_to(user)
    open_ids = [survey.pk for survey in open_to_caller]
    answered_ids = [survey.pk for survey in open_to_caller if selectors.has_answered(survey, resident)]
    surveys = selectors.surveys_visible_to(user) | Survey.objects.filter(pk__in=open_ids)
    return surveys.annotate(
        open_to_caller=ExpressionWrapper(Q(pk__in=open_ids), output_field=BooleanField()),
        answered_by_caller=ExpressionWrapper(Q(pk__in=answered_ids), output_field=BooleanField()),
    ).select_related("region", "audience_region")


def reachable_survey(user, survey_id: int) -> Survey:
    return get_object_or_404(surveys_for(user), pk=survey_id)


# --------------------------------------------------------------------------------------------------- surveys


@router.get(
    "/surveys", response={200: list[SurveyOut]}, summary="Surveys the caller runs, reads or may answer"
)
@paginate(LimitOffset)
def survey_list(request, open_to_me: bool = False):
    """Staff see the surveys of the regions they oversee; a resident those open to them. Latest year first.
    `open_to_me` keeps those the caller may answer as a resident (see `answered`)."""
    surveys = surveys_for(request.auth)
    if open_to_me:
        surveys = surveys.filter(open_to_caller=True)
    return surveys.order_by("-year", "title", "-version", "pk")


@router.get(
    "/surveys/{survey_id}",
    response={200: SurveyDetailOut, 404: ErrorOut},
    summary="One survey with its questions",
)
def survey_detail(request, survey_id: int):
    return reachable_survey(request.auth, survey_id)


@router.post(
    "/surveys/{survey_id}/responses",
    response={201: ResponseOut, 400: AnswersErrorOut, 404: ErrorOut},
    summary="Answer a survey, or enter a resident's answers (its owners)",
)
def response_submit(request, survey_id: int, payload: ResponseIn):
    """Online, the caller answers for themselves, once (or once for their household). The survey's owners
    enter a resident's answers given in person (`assisted`) or on paper (`paper`), naming the resident.
    Every answer is checked first: refused answers come back all at once in `errors`, by question key, and
    nothing is saved."""
    user = request.auth
    survey = reachable_survey(user, survey_id)
    resident = None
    if payload.resident_id is not None:
        if payload.mode == Mode.ONLINE:
            raise ServiceError(
                _("Answers for a resident are entered as assisted or from paper."), field="mode"
            )
        if services.may_run(user, survey):
            resident = get_object_or_404(
                resident_search(user, within=survey.audience_region), pk=payload.resident_id
            )
    try:
        with payload_fields(PAYLOAD_FIELDS):
            response = services.response_submit(
                survey=survey, by=user, answers=payload.answers, resident=resident, mode=payload.mode
            )
    except services.AnswersInvalid as invalid:
        return Status(400, {"detail": str(invalid.message), "field": invalid.field, "errors": invalid.errors})
    return Status(201, response)


@router.get(
    "/surveys/{survey_id}/results",
    response={200: ResultsOut, 404: ErrorOut},
    summary="A survey's answers counted question by question (staff)",
)
def survey_results(request, survey_id: int, group: Group | None = None, region_id: int | None = None):
    """For everyone, or broken down by a group or by a part of the survey's audience (`region_id`: a compound
    or building, say); in a breakdown any count under 5 is null."""
    survey = selectors.access_survey(request.auth, survey_id)
    region = (
        get_object_or_404(region_subtree(survey.audience_region), pk=region_id)
        if region_id is not None
        else None
    )
    group = "" if group in (None, Group.ALL) else group
    total, results = selectors.survey_results(survey, group=group, region=region)
    return {"survey_id": survey.pk, "group": group, "region": region, "total": total, "questions": results}


# ----------------------------------------------------------------------------------------------------- needs


@router.get("/needs", response={200: list[NeedOut], 404: ErrorOut}, summary="The needs register")
@paginate(LimitOffset)
def need_list(
    request,
    community_id: int | None = None,
    category: NeedCategory | None = None,
    status: NeedStatus | None = None,
    group: Group | None = None,
):
    """The needs of the communities the caller oversees, those counting most people first. A community
    outside the caller's scope answers 404."""
    user = request.auth
    filters = NeedFilterForm(
        {
            "community": community_id or "",
            "category": category or "",
            "status": status or "",
            "group": "" if group in (None, Group.ALL) else group,
        },
        user=user,
    )
    if not filters.is_valid():
        # The other filters are checked by their types: only the community can be out of scope.
        raise Http404
    needs = filters.filter(selectors.needs_visible_to(user)).select_related("community")
    return needs.order_by("-people_count", "title", "pk")


@router.get("/needs/{need_id}", response={200: NeedDetailOut, 404: ErrorOut}, summary="One need")
def need_detail(request, need_id: int):
    """With the regions it concerns, its evidence and what was done about it."""
    return selectors.access_need(request.auth, need_id)


# ------------------------------------------------------------------------------------------------ dashboard


@router.get(
    "/dashboard", response={200: DashboardOut, 404: ErrorOut}, summary="The needs ranking of a region"
)
def dashboard(
    request,
    region_id: int | None = None,
    year: int | None = Query(None, ge=FIRST_YEAR, le=LAST_YEAR),
    group: Group | None = None,
):
    """The needs categories residents chose in the region's surveys of a year (this year by default), against
    the year before, for everyone or a group; and the register's needs there by status. By default the
    region is the top of the caller's scope."""
    user = request.auth
    region = selectors.access_dashboard_region(user, region_id)
    year = year or timezone.localdate().year
    group = "" if group in (None, Group.ALL) else group
    counts = register_counts(user, region)
    return {
        "region": region,
        "year": year,
        "group": group,
        "ranking": selectors.needs_ranking(region, year=year, group=group),
        "needs_by_status": [
            {
                "status": status,
                "label": str(label),
                "count": sum(n for (_category, of_status), n in counts.items() if of_status == status),
            }
            for status, label in NeedStatus.choices
        ],
    }
