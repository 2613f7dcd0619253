"""Every read of community analysis, scoped to the user. Survey owners (MANAGE_ANALYSIS in the survey's
region) see who answered an identified survey; everyone else who may read results (VIEW_ANALYSIS) sees
aggregates only, and any count under SMALL_COUNT in a breakdown is suppressed so no one can be singled out."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Avg, Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from gongzhi.analysis import services
from gongzhi.analysis.models import (
    CHOICE_KINDS,
    Answer,
    Need,
    NeedCategory,
    Question,
    QuestionKind,
    Response,
    Survey,
    SurveyStatus,
)
from gongzhi.core.models import Region, Resident
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, in_scope, scope_regions

# Counts below this are shown as "<5" in any breakdown (PIPL: aggregates must not identify a person).
SMALL_COUNT = 5


def suppress(count: int) -> int | None:
    return None if 0 < count < SMALL_COUNT else count


def in_analysis_scope(user, *, field: str | None = "region") -> Q:
    """Rows of the regions the user oversees: where they read analysis or run it."""
    return in_scope(user, Perm.VIEW_ANALYSIS, field=field) | in_scope(user, Perm.MANAGE_ANALYSIS, field=field)


def surveys_visible_to(user) -> QuerySet[Survey]:
    """Surveys whose results the user may read: those of regions the user oversees."""
    if acts_as_superuser(user):
        return Survey.objects.all()
    return Survey.objects.filter(in_analysis_scope(user))


def surveys_run_by(user) -> QuerySet[Survey]:
    if acts_as_superuser(user):
        return Survey.objects.all()
    return Survey.objects.filter(in_scope(user, Perm.MANAGE_ANALYSIS))


def access_survey(user, survey_id: int) -> Survey:
    return get_object_or_404(
        surveys_visible_to(user).select_related("region", "audience_region"), pk=survey_id
    )


def access_run_survey(user, survey_id: int) -> Survey:
    return get_object_or_404(surveys_run_by(user).select_related("region", "audience_region"), pk=survey_id)


def survey_by_link(token: str) -> Survey | None:
    return Survey.objects.filter(link_token=token).select_related("region", "audience_region").first()


def resident_of(user) -> Resident | None:
    if not user.is_authenticated:
        return None
    return Resident.objects.filter(user=user).select_related("region", "household").first()


def surveys_open_to(user) -> list[Survey]:
    """Open surveys the signed-in resident may answer, with whether they (or their household) already have."""
    resident = resident_of(user)
    if resident is None:
        return []
    today = timezone.localdate()
    candidates = Survey.objects.filter(
        status=SurveyStatus.OPEN, audience_region_id__in=resident.region.ancestor_ids()
    ).select_related("audience_region")
    return [survey for survey in candidates if services.is_eligible(survey, resident, today)]


def has_answered(survey: Survey, resident: Resident) -> bool:
    try:
        key = services._respondent_key(survey, resident)
    except services.ServiceError:
        return False
    return Response.objects.filter(survey=survey, respondent_key=key).exists()


# Results -------------------------------------------------------------------------------------------------


@dataclass
class OptionResult:
    label: str
    count: int | None  # None: suppressed
    share: Decimal | None


@dataclass
class QuestionResult:
    question: Question
    answered: int
    options: list[OptionResult] = field(default_factory=list)
    average: Decimal | None = None
    texts: int = 0


def _responses(survey: Survey, *, group: str = "", region: Region | None = None) -> QuerySet[Response]:
    responses = Response.objects.filter(survey=survey)
    if group:
        responses = responses.filter(**services.in_group(group))
    if region is not None:
        responses = responses.filter(building__path__startswith=region.path)
    return responses


def survey_results(survey: Survey, *, group: str = "", region: Region | None = None) -> tuple[int, list]:
    """The answers counted question by question, in four queries whatever the number of answers. With a
    group or region the counts are a breakdown, so small ones are suppressed."""
    responses = _responses(survey, group=group, region=region)
    total = responses.count()
    breakdown = bool(group or region)
    answers = Answer.objects.filter(response__in=responses.values("pk"))
    option_counts = {
        (row["question"], row["option"]): row["n"]
        for row in answers.filter(option__isnull=False).values("question", "option").annotate(n=Count("pk"))
    }
    per_question = {
        row["question"]: row
        for row in answers.values("question").annotate(
            people=Count("response", distinct=True),
            average=Avg("number"),
            texts=Count("pk", filter=~Q(text="")),
        )
    }
    results = []
    for question in survey.questions.all():
        row = per_question.get(question.pk, {"people": 0, "average": None, "texts": 0})
        answered = row["people"]
        result = QuestionResult(question=question, answered=suppress(answered) if breakdown else answered)
        if question.kind in CHOICE_KINDS:
            labels = _labels(question)
            for index, label in enumerate(labels):
                count = option_counts.get((question.pk, index), 0)
                shown = suppress(count) if breakdown else count
                share = (
                    (Decimal(count) / answered).quantize(Decimal("0.001"))
                    if answered and shown is not None
                    else None
                )
                result.options.append(OptionResult(label, shown, share))
        elif question.kind in (QuestionKind.SCALE, QuestionKind.NUMBER):
            enough = not breakdown or answered >= SMALL_COUNT
            result.average = (
                Decimal(row["average"]).quantize(Decimal("0.01"))
                if row["average"] is not None and enough
                else None
            )
        else:
            result.texts = row["texts"]
        results.append(result)
    return (suppress(total) if breakdown else total), results


def _labels(question: Question) -> list[str]:
    if question.kind == QuestionKind.NEEDS:
        names = dict(NeedCategory.choices)
        return [str(names.get(value, value)) for value in question.options]
    return list(question.options)


@dataclass
class NeedRank:
    category: str
    label: str
    count: int | None
    last_year: int | None

    @property
    def change(self) -> int | None:
        """Since last year; unknown when either year's count is suppressed."""
        return None if self.count is None or self.last_year is None else self.count - self.last_year


def needs_ranking(region: Region, *, year: int, group: str = "") -> list[NeedRank]:
    """Needs categories chosen in the region's surveys of a year, most chosen first, with last year's count
    of the same category: the year-on-year comparison. One query for both years, reading the district's
    answers once (bench/README.md: p95 817 -> 301 ms for a district of 80,000 responses)."""
    answers = Answer.objects.filter(
        question__kind=QuestionKind.NEEDS,
        response__survey__year__in=[year, year - 1],
        response__building__path__startswith=region.path,
        option__isnull=False,
    )
    if group:
        answers = answers.filter(
            **{f"response__{key}": value for key, value in services.in_group(group).items()}
        )
    tally: dict[int, dict[str, int]] = {year: {}, year - 1: {}}
    rows = (
        answers.values_list("response__survey__year", "question__options", "option")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for answered_in, options, option, n in rows:
        if option < len(options):
            counts = tally[answered_in]
            counts[options[option]] = counts.get(options[option], 0) + n
    this_year, last_year = tally[year], tally[year - 1]
    names = dict(NeedCategory.choices)
    ranking = [
        NeedRank(
            category, str(names.get(category, category)), suppress(n), suppress(last_year.get(category, 0))
        )
        for category, n in this_year.items()
    ]
    return sorted(ranking, key=lambda rank: (-(rank.count or 0), rank.category))


def regions_overseen_by(user) -> QuerySet[Region]:
    """The regions whose analysis the user reads: every region below one where they hold an analysis role."""
    return Region.objects.filter(in_analysis_scope(user, field=None))


def access_dashboard_region(user, region_id: int | str | None) -> Region:
    """The region a dashboard, export or report is of, if the user oversees it (404 otherwise); without one,
    the top of their scope."""
    if not region_id:
        if acts_as_superuser(user):
            roots = list(Region.objects.filter(parent=None).order_by("id")[:1])
        else:
            regions = scope_regions(user, Perm.VIEW_ANALYSIS) + scope_regions(user, Perm.MANAGE_ANALYSIS)
            roots = sorted(regions, key=lambda region: (region.depth, region.path))
        if not roots:
            raise Http404
        return roots[0]
    try:
        region_id = int(region_id)
    except ValueError:
        raise Http404 from None
    return get_object_or_404(regions_overseen_by(user), pk=region_id)


def needs_visible_to(user) -> QuerySet[Need]:
    if acts_as_superuser(user):
        return Need.objects.all()
    return Need.objects.filter(in_analysis_scope(user, field="community"))


def access_need(user, need_id: int) -> Need:
    return get_object_or_404(needs_visible_to(user).select_related("community"), pk=need_id)


def respondents_of(survey: Survey) -> QuerySet[Response]:
    """Who answered an identified survey: for its owners only (callers check with access_run_survey)."""
    return Response.objects.filter(survey=survey, resident__isnull=False).select_related("resident")
