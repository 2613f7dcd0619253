"""The survey pages: the list, the builder with its distribution link and QR code, answering by link, staff
entry of assisted and paper answers, and the results with their Excel export.

Thin: parse a form, call one service or selector, render. Who runs a survey (MANAGE_ANALYSIS in its region)
builds it, enters answers and sees who answered an identified one; who may only read it (VIEW_ANALYSIS) sees
the results; anyone else gets a 404."""

import io

import openpyxl
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from openpyxl.styles import Font

from gongzhi.analysis import selectors, services
from gongzhi.analysis.forms import AnswersForm, EntryForm, QuestionForm, ResultsFilterForm, SurveyForm
from gongzhi.analysis.models import CHOICE_KINDS, Mode, SurveyStatus
from gongzhi.core.excel import xlsx_response
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.models import AuditEvent
from gongzhi.core.qr import qr_svg
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser
from gongzhi.core.selectors import regions_where, resident_search
from gongzhi.core.services import audit_record

MATCHES_SHOWN = 20


def _may_run_any(user) -> bool:
    return acts_as_superuser(user) or regions_where(user, Perm.MANAGE_ANALYSIS).exists()


@login_required
@require_GET
def survey_list(request):
    user = request.user
    # One query: the surveys with their answer counts.
    staff_surveys = list(
        selectors.surveys_visible_to(user)
        .select_related("region")
        .annotate(response_count=Count("responses"))
        .order_by("-year", "title", "-version")
    )
    resident = selectors.resident_of(user)
    open_surveys = [
        (survey, selectors.has_answered(survey, resident)) for survey in selectors.surveys_open_to(user)
    ]
    context = {
        "staff_surveys": staff_surveys,
        "open_surveys": open_surveys,
        "may_create": _may_run_any(user),
        "is_resident": resident is not None,
    }
    return render(request, "analysis/surveys.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def survey_new(request):
    user = request.user
    if not _may_run_any(user):
        raise Http404
    form = SurveyForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            survey = services.survey_create(
                by=user,
                region=data["region"],
                title=data["title"],
                intro=data["intro"],
                audience_group=data["audience_group"],
                anonymous=data["anonymous"],
                one_per=data["one_per"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            return redirect("analysis:survey", survey.pk)
    return render(request, "analysis/survey_new.html", {"form": form})


def _answer_link(request, survey) -> str:
    return request.build_absolute_uri(reverse("analysis:survey_answer", args=[survey.link_token]))


def _builder(request, survey, *, question_form=None, status=200):
    editable = survey.status == SurveyStatus.DRAFT and not survey.responses.exists()
    link = _answer_link(request, survey)
    context = {
        "survey": survey,
        "questions": list(survey.questions.all()),
        "editable": editable,
        "question_form": question_form or QuestionForm(),
        "link": link,
        "qr_code": qr_svg(link) if survey.status == SurveyStatus.OPEN else "",
        "response_count": survey.responses.count(),
        "next_year": survey.year + 1,
    }
    return render(request, "analysis/survey.html", context, status=status)


@login_required
@require_GET
@never_cache
def survey_detail(request, survey_id: int):
    """The builder for those who run the survey; those who may only read it go to its results."""
    survey = selectors.access_survey(request.user, survey_id)
    if not services.may_run(request.user, survey):
        return redirect("analysis:survey_results", survey.pk)
    return _builder(request, survey)


@login_required
@require_POST
def survey_question_add(request, survey_id: int):
    survey = selectors.access_run_survey(request.user, survey_id)
    form = QuestionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.question_add(
                survey=survey,
                by=request.user,
                kind=data["kind"],
                text=data["text"],
                help_text=data["help_text"],
                required=data["required"],
                options=form.options_list(),
                minimum=data["minimum"],
                maximum=data["maximum"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Question added."))
            return redirect(f"{reverse('analysis:survey', args=[survey.pk])}#questions")
    return _builder(request, survey, question_form=form, status=422)


@login_required
@require_POST
def survey_question_remove(request, survey_id: int, question_id: int):
    survey = selectors.access_run_survey(request.user, survey_id)
    question = get_object_or_404(survey.questions.all(), pk=question_id)
    try:
        services.question_remove(question=question, by=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Question removed."))
    return redirect("analysis:survey", survey.pk)


def _survey_action(action):
    """A button on the builder: open, close, new version, repeat next year."""

    @login_required
    @require_POST
    def view(request, survey_id: int):
        survey = selectors.access_run_survey(request.user, survey_id)
        try:
            result, message = action(request, survey)
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("analysis:survey", survey.pk)
        messages.success(request, message)
        return redirect("analysis:survey", result.pk)

    return view


def _open(request, survey):
    return services.survey_open(survey=survey, by=request.user), _("The survey is open for answers.")


def _close(request, survey):
    return services.survey_close(survey=survey, by=request.user), _("The survey is closed.")


def _new_version(request, survey):
    version = services.survey_new_version(survey=survey, by=request.user)
    return version, _("A new version to change: the same questions, as a draft.")


def _repeat(request, survey):
    try:
        year = int(request.POST.get("year", ""))
    except ValueError:
        raise ServiceError(_("Give a year.")) from None
    repeat = services.survey_repeat(survey=survey, by=request.user, year=year)
    return repeat, _("The survey for %(year)s is ready as a draft.") % {"year": year}


# Answering ------------------------------------------------------------------------------------------------


def _submit(request, form: AnswersForm, **kwargs) -> bool:
    """Submits the form's answers; on refusal every message goes onto its question (or above the form)."""
    if not form.is_valid():
        return False
    try:
        services.response_submit(by=request.user, answers=form.answers(), **kwargs)
    except services.AnswersInvalid as invalid:
        for key, message in invalid.errors.items():
            form.add_error(key if key in form.fields else None, message)
        return False
    except ServiceError as error:
        add_service_error(form, error)
        return False
    return True


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def survey_answer(request, token: str):
    survey = selectors.survey_by_link(token)
    if survey is None:
        raise Http404
    resident = selectors.resident_of(request.user)
    refusal = ""
    if survey.status != SurveyStatus.OPEN:
        refusal = _("This survey is not open for answers.")
    elif resident is None:
        refusal = _("Claim your resident record before answering.")
    elif not services.is_eligible(survey, resident, timezone.localdate()):
        refusal = _("This survey is for other residents.")
    elif selectors.has_answered(survey, resident):
        refusal = _("You have already answered this survey. Thank you!")
    form = AnswersForm(request.POST if request.method == "POST" and not refusal else None, survey=survey)
    if form.is_bound and _submit(request, form, survey=survey, mode=Mode.ONLINE):
        return render(request, "analysis/survey_thanks.html", {"survey": survey})
    status = 422 if form.is_bound else 200
    context = {"survey": survey, "form": form, "refusal": refusal}
    return render(request, "analysis/survey_answer.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def survey_enter(request, survey_id: int):
    """Answers given to staff: assisted, or typed in from a stack of paper forms, one after another."""
    survey = selectors.access_run_survey(request.user, survey_id)
    roster = resident_search(request.user, within=survey.audience_region)
    source = request.POST if request.method == "POST" else request.GET
    entry_form = EntryForm(source or None)
    mode = entry_form.cleaned_data["mode"] if entry_form.is_valid() else Mode.PAPER
    query = source.get("q", "").strip()[:50]
    matches = (
        list(resident_search(request.user, query=query, within=survey.audience_region)[:MATCHES_SHOWN])
        if query
        else []
    )
    resident = None
    if source.get("resident", "").isdigit():
        resident = roster.filter(pk=source["resident"]).first()
    form = AnswersForm(request.POST if request.method == "POST" else None, survey=survey)
    if request.method == "POST":
        if resident is None:
            form.is_valid()
            form.add_error(None, _("Choose the resident whose answers these are."))
        elif _submit(request, form, survey=survey, resident=resident, mode=mode):
            messages.success(
                request, _("Saved the answers of %(name)s. Enter the next.") % {"name": resident.name}
            )
            return redirect(f"{reverse('analysis:survey_enter', args=[survey.pk])}?mode={mode}")
    context = {
        "survey": survey,
        "entry_form": entry_form if entry_form.is_bound else EntryForm(initial={"mode": mode}),
        "mode": mode,
        "query": query,
        "matches": matches,
        "resident": resident,
        "form": form,
        "entered": survey.responses.filter(entered_by=request.user).count(),
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "analysis/survey_enter.html", context, status=status)


# Results --------------------------------------------------------------------------------------------------


def _results(request, survey):
    form = ResultsFilterForm(request.GET or None, survey=survey)
    filters = form.filters()
    total, results = selectors.survey_results(survey, **filters)
    return form, filters, total, results


def _chart(results) -> list[dict]:
    """The bar charts' data for static/js/analysis-surveys.js: one a choice question."""
    return [
        {
            "key": result.question.key,
            "title": result.question.text,
            "labels": [option.label for option in result.options],
            "counts": [option.count for option in result.options],
        }
        for result in results
        if result.question.kind in CHOICE_KINDS
    ]


@login_required
@require_GET
def survey_results(request, survey_id: int):
    survey = selectors.access_survey(request.user, survey_id)
    form, filters, total, results = _results(request, survey)
    runs = services.may_run(request.user, survey)
    respondents = (
        list(selectors.respondents_of(survey).order_by("submitted_at"))
        if runs and not survey.anonymous
        else None
    )
    context = {
        "survey": survey,
        "form": form,
        "total": total,
        "results": results,
        "chart": _chart(results),
        "runs": runs,
        "respondents": respondents,
        "export_url": reverse("analysis:survey_results_export", args=[survey.pk])
        + f"?{request.GET.urlencode()}",
    }
    return render(request, "analysis/survey_results.html", context)


@login_required
@require_GET
def survey_results_export(request, survey_id: int):
    survey = selectors.access_survey(request.user, survey_id)
    _form, filters, total, results = _results(request, survey)
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        target=survey,
        region=survey.region,
        request=request,
        detail={
            "survey": survey.pk,
            "group": filters["group"],
            "region": filters["region"].pk if filters["region"] else None,
        },
    )
    return xlsx_response(results_workbook(survey, total, results), f"survey-{survey.pk}-{survey.year}.xlsx")


def results_workbook(survey, total, results) -> bytes:
    """One sheet: a row per option (or the average, or the count of written answers) of each question, with
    suppressed counts written "<5"."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Results"))
    bold = Font(bold=True)
    sheet.append([str(survey)])
    sheet.append([_("Responses"), "<5" if total is None else total])
    header = []
    for value in (_("Question"), _("Answer"), _("Count"), _("Share")):
        cell = openpyxl.cell.WriteOnlyCell(sheet, value=value)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for result in results:
        question = f"{result.question.number}. {result.question.text}"
        for option in result.options:
            count = "<5" if option.count is None else option.count
            sheet.append(
                [question, option.label, count, None if option.share is None else float(option.share)]
            )
        if result.question.kind not in CHOICE_KINDS:
            if result.average is not None:
                sheet.append([question, _("Average"), result.answered, float(result.average)])
            else:
                sheet.append(
                    [question, _("Answered"), "<5" if result.answered is None else result.answered, None]
                )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


urls = [
    path("surveys/", survey_list, name="surveys"),
    path("surveys/new/", survey_new, name="survey_new"),
    path("surveys/<int:survey_id>/", survey_detail, name="survey"),
    path("surveys/<int:survey_id>/questions/", survey_question_add, name="survey_question_add"),
    path(
        "surveys/<int:survey_id>/questions/<int:question_id>/remove/",
        survey_question_remove,
        name="survey_question_remove",
    ),
    path("surveys/<int:survey_id>/open/", _survey_action(_open), name="survey_open"),
    path("surveys/<int:survey_id>/close/", _survey_action(_close), name="survey_close"),
    path("surveys/<int:survey_id>/version/", _survey_action(_new_version), name="survey_new_version"),
    path("surveys/<int:survey_id>/repeat/", _survey_action(_repeat), name="survey_repeat"),
    path("surveys/<int:survey_id>/enter/", survey_enter, name="survey_enter"),
    path("surveys/<int:survey_id>/results/", survey_results, name="survey_results"),
    path("surveys/<int:survey_id>/results/export/", survey_results_export, name="survey_results_export"),
    path("s/<str:token>/", survey_answer, name="survey_answer"),
]
