"""Every write of community analysis: building questionnaires, answering them (online, assisted, from paper),
and keeping the needs register."""

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from gongzhi.analysis.models import (
    CHOICE_KINDS,
    Action,
    AgeBand,
    Evidence,
    EvidenceKind,
    Group,
    Mode,
    Need,
    NeedCategory,
    NeedStatus,
    OnePer,
    Question,
    QuestionKind,
    Response,
    Survey,
    SurveyParticipation,
    SurveyStatus,
)
from gongzhi.consultations import selectors as consultations_selectors
from gongzhi.core.crypto import lookup_hash
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Region, Resident, ResidentTag, User
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_in
from gongzhi.core.services import clean_text, community_of, validate_or_raise
from gongzhi.matters import selectors as matters_selectors

MAX_OPTIONS = 30
MAX_SCALE_STEPS = 11  # 0-10 is the widest scale people answer reliably
SHORT_TEXT_MAX = 300
LONG_TEXT_MAX = 5000


class AnswersInvalid(ServiceError):
    """Some answers were refused; `errors` maps each question's key to its message, so a form shows all."""

    def __init__(self, errors: dict[str, str]):
        first_key, first_message = next(iter(errors.items()))
        super().__init__(first_message, field=first_key)
        self.errors = errors


def may_run(user: User, survey: Survey) -> bool:
    return has_perm_in(user, Perm.MANAGE_ANALYSIS, survey.region)


def _require_runner(user: User, survey: Survey) -> None:
    if not may_run(user, survey):
        raise ServiceError(_("Only the survey's owners can do that."))


def _lock(survey: Survey) -> Survey:
    return Survey.objects.select_for_update().get(pk=survey.pk)


# Building a questionnaire ---------------------------------------------------------------------------------


def survey_create(
    *,
    by: User,
    region: Region,
    title: str,
    intro: str = "",
    audience_group: str = Group.ALL,
    audience_region: Region | None = None,
    anonymous: bool = True,
    one_per: str = OnePer.RESIDENT,
    year: int | None = None,
) -> Survey:
    if not has_perm_in(by, Perm.MANAGE_ANALYSIS, region):
        raise ServiceError(_("You cannot run surveys here."))
    audience_region = audience_region or region
    if not audience_region.is_within(region):
        raise ServiceError(
            _("The residents surveyed must live within the survey's region."), field="audience_region"
        )
    survey = Survey(
        region=region,
        title=clean_text(title, field="title", max_length=100),
        intro=clean_text(intro, field="intro", max_length=2000, required=False),
        audience_group=audience_group,
        audience_region=audience_region,
        anonymous=anonymous,
        one_per=one_per,
        year=year or timezone.localdate().year,
        created_by=by,
    )
    validate_or_raise(survey)
    survey.save()
    return survey


def _require_editable(survey: Survey) -> None:
    """Questions change only before anyone answers; afterwards a change would break comparison."""
    if survey.status == SurveyStatus.CLOSED or survey.responses.exists():
        raise ServiceError(
            _("This survey has answers; its questions cannot change. Make a new version instead.")
        )


def _clean_options(kind: str, options: list[str]) -> list[str]:
    if kind == QuestionKind.NEEDS:
        chosen = list(dict.fromkeys(options or NeedCategory.values))
        if any(option not in NeedCategory.values for option in chosen):
            raise ServiceError(_("A needs question offers the register's categories."), field="options")
        return chosen
    if kind not in CHOICE_KINDS:
        if options:
            raise ServiceError(_("Only a choice question has options."), field="options")
        return []
    cleaned = [str(option).strip() for option in options or [] if str(option).strip()]
    if len(cleaned) < 2:
        raise ServiceError(_("A choice question needs at least two options."), field="options")
    if len(set(cleaned)) != len(cleaned):
        raise ServiceError(_("Two options are the same."), field="options")
    if len(cleaned) > MAX_OPTIONS or any(len(option) > 100 for option in cleaned):
        raise ServiceError(_("At most 30 options of 100 characters each."), field="options")
    return cleaned


def _clean_range(kind: str, minimum: int | None, maximum: int | None) -> tuple[int | None, int | None]:
    if kind == QuestionKind.SCALE:
        minimum = 1 if minimum is None else minimum
        maximum = 5 if maximum is None else maximum
        if not minimum < maximum or maximum - minimum + 1 > MAX_SCALE_STEPS:
            raise ServiceError(
                _("A scale runs from a lower to a higher number, at most 11 steps."), field="maximum"
            )
        return minimum, maximum
    if kind == QuestionKind.NUMBER:
        if minimum is not None and maximum is not None and maximum < minimum:
            raise ServiceError(_("The largest number cannot be below the smallest."), field="maximum")
        return minimum, maximum
    return None, None


def question_add(
    *,
    survey: Survey,
    by: User,
    kind: str,
    text: str,
    options: list[str] | None = None,
    required: bool = True,
    minimum: int | None = None,
    maximum: int | None = None,
    key: str = "",
    help_text: str = "",
) -> Question:
    if kind not in QuestionKind.values:
        raise ServiceError(_("Choose a kind of question."), field="kind")
    text = clean_text(text, field="text", max_length=300)
    options = _clean_options(kind, options or [])
    minimum, maximum = _clean_range(kind, minimum, maximum)
    with transaction.atomic():
        survey = _lock(survey)
        _require_runner(by, survey)
        _require_editable(survey)
        existing = list(survey.questions.values_list("key", flat=True))
        key = slugify(key) or f"q{len(existing) + 1}"
        while key in existing:
            key = f"{key}-{len(existing) + 1}"
        return Question.objects.create(
            survey=survey,
            number=len(existing) + 1,
            key=key,
            kind=kind,
            text=text,
            help_text=clean_text(help_text, field="help_text", max_length=300, required=False),
            required=required,
            options=options,
            minimum=minimum,
            maximum=maximum,
        )


def question_remove(*, question: Question, by: User) -> None:
    with transaction.atomic():
        survey = _lock(question.survey)
        _require_runner(by, survey)
        _require_editable(survey)
        number = question.number
        question.delete()
        # Upwards, one at a time: each question moves into the number just freed.
        for later in survey.questions.filter(number__gt=number).order_by("number"):
            Question.objects.filter(pk=later.pk).update(number=later.number - 1)


def survey_open(*, survey: Survey, by: User, now: datetime.datetime | None = None) -> Survey:
    """Opens the survey for answers. Opening a new version closes the earlier versions of the same year."""
    now = now or timezone.now()
    with transaction.atomic():
        survey = _lock(survey)
        _require_runner(by, survey)
        if survey.status != SurveyStatus.DRAFT:
            raise ServiceError(_("Only a draft survey can be opened."))
        if not survey.questions.exists():
            raise ServiceError(_("Add at least one question first."))
        Survey.objects.filter(lineage=survey.lineage, year=survey.year, status=SurveyStatus.OPEN).update(
            status=SurveyStatus.CLOSED, closed_at=now
        )
        survey.status, survey.opened_at = SurveyStatus.OPEN, now
        survey.save(update_fields=["status", "opened_at"])
    return survey


def survey_close(*, survey: Survey, by: User, now: datetime.datetime | None = None) -> Survey:
    with transaction.atomic():
        survey = _lock(survey)
        _require_runner(by, survey)
        if survey.status != SurveyStatus.OPEN:
            raise ServiceError(_("Only an open survey can be closed."))
        survey.status, survey.closed_at = SurveyStatus.CLOSED, now or timezone.now()
        survey.save(update_fields=["status", "closed_at"])
    return survey


def _copy(survey: Survey, *, by: User, year: int, version: int) -> Survey:
    copy = Survey.objects.create(
        region=survey.region,
        title=survey.title,
        intro=survey.intro,
        audience_group=survey.audience_group,
        audience_region=survey.audience_region,
        anonymous=survey.anonymous,
        one_per=survey.one_per,
        lineage=survey.lineage,
        year=year,
        version=version,
        created_by=by,
    )
    Question.objects.bulk_create(
        Question(
            survey=copy,
            number=q.number,
            key=q.key,
            kind=q.kind,
            text=q.text,
            help_text=q.help_text,
            required=q.required,
            options=q.options,
            minimum=q.minimum,
            maximum=q.maximum,
        )
        for q in survey.questions.all()
    )
    return copy


def survey_new_version(*, survey: Survey, by: User) -> Survey:
    """A draft copy to change: the same keys, so the answers to unchanged questions stay comparable."""
    _require_runner(by, survey)
    with transaction.atomic():
        latest = (
            Survey.objects.select_for_update()
            .filter(lineage=survey.lineage, year=survey.year)
            .order_by("-version")
            .first()
        )
        if latest.status == SurveyStatus.DRAFT:
            raise ServiceError(_("A draft version already exists; change that one."))
        return _copy(survey, by=by, year=survey.year, version=latest.version + 1)


def survey_repeat(*, survey: Survey, by: User, year: int) -> Survey:
    """Next year's edition of the same questionnaire, for year-on-year comparison."""
    _require_runner(by, survey)
    if year <= survey.year:
        raise ServiceError(_("A repeat is for a later year."), field="year")
    if Survey.objects.filter(lineage=survey.lineage, year=year).exists():
        raise ServiceError(
            _("This survey already has an edition for %(year)s.") % {"year": year}, field="year"
        )
    try:
        with transaction.atomic():
            return _copy(survey, by=by, year=year, version=1)
    except IntegrityError:
        raise ServiceError(_("This survey already has an edition for %(year)s.") % {"year": year}) from None


# Answering ------------------------------------------------------------------------------------------------


def age_band(birth_date: datetime.date | None, today: datetime.date) -> str:
    if birth_date is None:
        return AgeBand.UNKNOWN
    age = today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
    for band, upper in ((AgeBand.CHILD, 17), (AgeBand.YOUNG, 34), (AgeBand.MIDDLE, 59), (AgeBand.OLDER, 79)):
        if age <= upper:
            return band
    return AgeBand.OLDEST


def groups_of(resident: Resident, today: datetime.date) -> list[str]:
    """The survey groups a resident belongs to, from their age and the roster's tags."""
    tags = {tag.tag for tag in resident.tags.all()}
    band = age_band(resident.birth_date, today)
    groups = []
    if band in (AgeBand.OLDER, AgeBand.OLDEST) or tags & {
        ResidentTag.Tag.ELDERLY,
        ResidentTag.Tag.LIVING_ALONE,
    }:
        groups.append(Group.ELDERLY)
    if band == AgeBand.CHILD or ResidentTag.Tag.CHILD in tags:
        groups.append(Group.CHILDREN)
    if ResidentTag.Tag.DISABILITY in tags:
        groups.append(Group.DISABILITY)
    if tags & {ResidentTag.Tag.LOW_INCOME, ResidentTag.Tag.LIVING_ALONE}:
        groups.append(Group.VULNERABLE)
    return groups


def groups_field(groups: list[str]) -> str:
    return f",{','.join(groups)}," if groups else ""


def in_group(group: str) -> dict:
    """The filter for responses of a group."""
    return {"groups__contains": f",{group},"}


def is_eligible(survey: Survey, resident: Resident, today: datetime.date) -> bool:
    if not resident.region.is_within(survey.audience_region):
        return False
    return survey.audience_group == Group.ALL or survey.audience_group in groups_of(resident, today)


@dataclass
class _Value:
    option: int | None = None
    number: Decimal | None = None
    text: str = ""


def _values(question: Question, raw) -> list[_Value]:
    """The rows an answer is stored as; raises ValueError with the message for a value out of place."""
    kind = question.kind
    if kind == QuestionKind.SINGLE:
        index = _option_index(question, raw)
        return [_Value(option=index)]
    if kind in (QuestionKind.MULTIPLE, QuestionKind.NEEDS):
        chosen = raw if isinstance(raw, list | tuple) else [raw]
        indices = [_option_index(question, value) for value in chosen]
        if len(set(indices)) != len(indices):
            raise ValueError(_("An option is chosen twice."))
        return [_Value(option=index) for index in indices]
    if kind in (QuestionKind.SCALE, QuestionKind.NUMBER):
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValueError(_("Give a number.")) from None
        if not number.is_finite() or (kind == QuestionKind.SCALE and number != number.to_integral_value()):
            raise ValueError(_("Choose a point on the scale."))
        if (question.minimum is not None and number < question.minimum) or (
            question.maximum is not None and number > question.maximum
        ):
            raise ValueError(
                _("Give a number from %(minimum)s to %(maximum)s.")
                % {
                    "minimum": question.minimum if question.minimum is not None else "…",
                    "maximum": question.maximum if question.maximum is not None else "…",
                }
            )
        if abs(number) >= Decimal("1e10") or number.as_tuple().exponent < -2:
            raise ValueError(_("Give a number with at most two decimals."))
        return [_Value(number=number)]
    limit = SHORT_TEXT_MAX if kind == QuestionKind.SHORT_TEXT else LONG_TEXT_MAX
    text = str(raw).strip()
    if len(text) > limit:
        raise ValueError(_("At most %(limit)s characters.") % {"limit": limit})
    return [_Value(text=text)]


def _option_index(question: Question, value) -> int:
    """An option given by its index (a form's value) or, for a needs question, by its category."""
    if question.kind == QuestionKind.NEEDS and value in question.options:
        return question.options.index(value)
    try:
        index = int(value)
    except (TypeError, ValueError):
        raise ValueError(_("Choose one of the options.")) from None
    if not 0 <= index < len(question.options):
        raise ValueError(_("Choose one of the options."))
    return index


def _is_blank(raw) -> bool:
    return (
        raw is None
        or (isinstance(raw, str) and not raw.strip())
        or (isinstance(raw, list | tuple) and not raw)
    )


def answers_check(survey: Survey, answers: dict) -> dict[Question, list[_Value]]:
    """Every answer checked against its question, all errors at once; `answers` maps keys to values."""
    questions = list(survey.questions.all())
    known = {question.key for question in questions}
    errors: dict[str, str] = {}
    for key in answers:
        if key not in known:
            errors[str(key)] = _("This survey has no such question.")
    checked = {}
    for question in questions:
        raw = answers.get(question.key)
        if _is_blank(raw):
            if question.required:
                errors[question.key] = _("This question must be answered.")
            continue
        try:
            checked[question] = _values(question, raw)
        except ValueError as error:
            errors[question.key] = str(error)
    if errors:
        raise AnswersInvalid(errors)
    return checked


def _respondent_key(survey: Survey, resident: Resident) -> str:
    """Keyed, so the one-answer rule holds without the row saying who answered."""
    if survey.one_per == OnePer.HOUSEHOLD:
        if resident.household_id is None:
            raise ServiceError(
                _("This survey takes one answer per household; the resident has no household.")
            )
        return lookup_hash(f"survey:{survey.pk}:household:{resident.household_id}")
    return lookup_hash(f"survey:{survey.pk}:resident:{resident.pk}")


def response_submit(
    *,
    survey: Survey,
    by: User,
    answers: dict,
    resident: Resident | None = None,
    mode: str = Mode.ONLINE,
    now: datetime.datetime | None = None,
) -> Response:
    """Records one resident's answers: online by themselves, or entered by staff (assisted, or from paper)
    for a resident of the roster. Every answer is checked before anything is written."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if mode not in Mode.values:
        raise ServiceError(_("Choose how the answers were given."), field="mode")
    # As it is now: the survey may have closed since the form was shown.
    survey = Survey.objects.select_related("audience_region").get(pk=survey.pk)
    if mode == Mode.ONLINE:
        resident = Resident.objects.filter(user=by).select_related("region", "household").first()
        if resident is None:
            raise ServiceError(_("Claim your resident record before answering."))
    else:
        if not may_run(by, survey):
            raise ServiceError(_("Only the survey's owners can enter answers for residents."))
        if resident is None:
            raise ServiceError(_("Choose the resident whose answers these are."), field="resident")
    if survey.status != SurveyStatus.OPEN:
        raise ServiceError(_("This survey is not open for answers."))
    if not is_eligible(survey, resident, today):
        raise ServiceError(_("This survey is for other residents."))
    checked = answers_check(survey, answers)
    key = _respondent_key(survey, resident)
    response = Response(
        survey=survey,
        resident=None if survey.anonymous else resident,
        household=None if survey.anonymous else resident.household,
        respondent_key=key,
        building=resident.region,
        age_band=age_band(resident.birth_date, today),
        sex=resident.sex,
        groups=groups_field(groups_of(resident, today)),
        mode=mode,
        entered_by=None if mode == Mode.ONLINE else by,
        submitted_at=now,
    )
    try:
        with transaction.atomic():
            response.save()
            SurveyParticipation.objects.get_or_create(resident=resident, month=today.replace(day=1))
            response.answers.bulk_create(
                response.answers.model(
                    response=response, question=question, option=v.option, number=v.number, text=v.text
                )
                for question, values in checked.items()
                for v in values
            )
    except IntegrityError:
        if survey.one_per == OnePer.HOUSEHOLD:
            raise ServiceError(_("This household has already answered this survey.")) from None
        raise ServiceError(_("This resident has already answered this survey.")) from None
    return response


# The needs register ---------------------------------------------------------------------------------------


def _require_register(user: User, community: Region) -> None:
    if not has_perm_in(user, Perm.MANAGE_ANALYSIS, community):
        raise ServiceError(_("Only the community's staff keep its needs register."))


def need_create(
    *,
    by: User,
    community: Region,
    title: str,
    category: str,
    need_type: str,
    description: str = "",
    groups: list[str] | None = None,
    regions: list[Region] | None = None,
) -> Need:
    community = community_of(community)
    _require_register(by, community)
    groups = list(dict.fromkeys(groups or []))
    if any(group not in Group.values for group in groups):
        raise ServiceError(_("Choose groups from the list."), field="groups")
    regions = regions or []
    if any(not region.is_within(community) for region in regions):
        raise ServiceError(_("The regions concerned lie within the community."), field="regions")
    need = Need(
        community=community,
        title=clean_text(title, field="title", max_length=100),
        description=clean_text(description, field="description", max_length=2000, required=False),
        category=category,
        need_type=need_type,
        groups=groups,
        created_by=by,
    )
    validate_or_raise(need)
    with transaction.atomic():
        need.save()
        need.regions.set(regions)
    return need


def _recount(need: Need) -> None:
    need.people_count = sum(need.evidence.values_list("count", flat=True))
    need.updated_at = timezone.now()
    need.save(update_fields=["people_count", "updated_at"])


def evidence_add_survey(*, need: Need, by: User, question: Question, option: int) -> Evidence:
    """Links the answers that chose an option of a question (a needs category, say) as the need's evidence,
    counting them now."""
    _require_register(by, need.community)
    if not question.survey.region.is_within(need.community) and not need.community.is_within(
        question.survey.region
    ):
        raise ServiceError(_("The survey was not run in this community."), field="question")
    if question.kind not in CHOICE_KINDS or not 0 <= option < len(question.options):
        raise ServiceError(_("Choose an option of a choice question."), field="option")
    count = question.answers.filter(
        option=option, response__building__path__startswith=need.community.path
    ).count()
    with transaction.atomic():
        evidence = Evidence.objects.create(
            need=need, kind=EvidenceKind.SURVEY, question=question, option=option, count=count, added_by=by
        )
        _recount(need)
    return evidence


def evidence_add_matter(*, need: Need, by: User, matter_id: int) -> Evidence:
    """A matter a resident reported (诉求) as evidence of an expressed need: one person asking."""
    _require_register(by, need.community)
    matter = _sibling_or_refused(matters_selectors.access_matter, by, matter_id, field="matter")
    if matter.community_id != need.community_id:
        raise ServiceError(_("The matter was reported in another community."), field="matter")
    if need.evidence.filter(matter=matter).exists():
        raise ServiceError(_("This matter is already evidence of the need."), field="matter")
    with transaction.atomic():
        evidence = Evidence.objects.create(
            need=need, kind=EvidenceKind.MATTER, matter=matter, count=1, added_by=by
        )
        _recount(need)
    return evidence


def evidence_add_consultation(*, need: Need, by: User, consultation_id: int) -> Evidence:
    """A consultation on the need as its evidence, counting the residents who co-signed the topic."""
    _require_register(by, need.community)
    consultation = _sibling_or_refused(
        consultations_selectors.access_consultation, by, consultation_id, field="consultation"
    )
    if consultation.community_id != need.community_id:
        raise ServiceError(_("The consultation belongs to another community."), field="consultation")
    if need.evidence.filter(consultation=consultation).exists():
        raise ServiceError(_("This consultation is already evidence of the need."), field="consultation")
    with transaction.atomic():
        evidence = Evidence.objects.create(
            need=need,
            kind=EvidenceKind.CONSULTATION,
            consultation=consultation,
            count=consultation.cosigns.count(),
            added_by=by,
        )
        _recount(need)
    return evidence


def evidence_add_record(*, need: Need, by: User, kind: str, number: int) -> Evidence:
    """A matter or a consultation, by the number on its page; a refusal names the form's "number" field."""
    add = {
        EvidenceKind.MATTER: evidence_add_matter,
        EvidenceKind.CONSULTATION: evidence_add_consultation,
    }.get(kind)
    if add is None:
        raise ServiceError(_("Choose a matter or a consultation."), field="kind")
    key = "matter_id" if kind == EvidenceKind.MATTER else "consultation_id"
    try:
        return add(need=need, by=by, **{key: number})
    except ServiceError as error:
        raise ServiceError(error.message, field="number") from error


def _sibling_or_refused(access, user: User, pk, *, field: str):
    """A matter or consultation through its own app's access rule: one the user may not see is refused
    the same way as one that does not exist."""
    try:
        return access(user, int(pk))
    except (Http404, TypeError, ValueError):
        raise ServiceError(_("No such record in your area."), field=field) from None


def evidence_add_note(*, need: Need, by: User, note: str, count: int = 0) -> Evidence:
    _require_register(by, need.community)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ServiceError(_("Give a count of people, or 0."), field="count")
    with transaction.atomic():
        evidence = Evidence.objects.create(
            need=need,
            kind=EvidenceKind.NOTE,
            note=clean_text(note, field="note", max_length=300),
            count=count,
            added_by=by,
        )
        _recount(need)
    return evidence


def need_act(*, need: Need, by: User, text: str, status: str) -> Action:
    """Records what was done about a need and moves its status (met, or back to planned if it returns)."""
    _require_register(by, need.community)
    if status not in NeedStatus.values:
        raise ServiceError(_("Choose a status."), field="status")
    text = clean_text(text, field="text", max_length=300)
    with transaction.atomic():
        need = Need.objects.select_for_update().get(pk=need.pk)
        action = Action.objects.create(
            need=need, text=text, status_before=need.status, status_after=status, by=by
        )
        need.status, need.updated_at = status, timezone.now()
        need.save(update_fields=["status", "updated_at"])
    return action
