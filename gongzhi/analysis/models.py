"""Community analysis (社区分析): needs surveys and the needs register.

A Survey is one version of a questionnaire. Questions carry a stable `key`, kept when the survey is repeated
the next year or revised into a new version, so that answers stay comparable across both. Once a survey has
answers its questions are frozen; a change makes a new version. A Response keeps, besides its answers, the
respondent's building, age band, sex and groups as they were when answering, so that dashboards can break
answers down by group and region without reading anyone's record; an identified survey also keeps who
answered, which only the survey's owners see. The one-answer rule (per resident or per household) holds by a
unique keyed hash of the respondent, which does not reveal who they are.
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gongzhi.core.models import Household, Region, Resident


class Group(models.TextChoices):
    """The groups a survey can be aimed at and its answers broken down by (Jing'an's needs by group)."""

    ALL = "all", _("All residents")
    ELDERLY = "elderly", _("Elderly (60+)")
    CHILDREN = "children", _("Children and youth")
    DISABILITY = "disability", _("People with disabilities")
    VULNERABLE = "vulnerable", _("Vulnerable families")


class NeedCategory(models.TextChoices):
    ELDERLY_CARE = "elderly_care", _("Elderly care")
    CHILDCARE = "childcare", _("Childcare and youth")
    HEALTH = "health", _("Health")
    EMPLOYMENT = "employment", _("Employment and income")
    HOUSING = "housing", _("Housing and repairs")
    ENVIRONMENT = "environment", _("Environment and sanitation")
    SAFETY = "safety", _("Safety")
    CULTURE = "culture", _("Culture, sports and learning")
    LEGAL = "legal", _("Legal and social assistance")
    NEIGHBOURHOOD = "neighbourhood", _("Neighbourhood relations and participation")
    OTHER = "other", _("Other")


class OnePer(models.TextChoices):
    RESIDENT = "resident", _("One answer per resident")
    HOUSEHOLD = "household", _("One answer per household")


class SurveyStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", pgettext_lazy("survey", "Open for answers")
    CLOSED = "closed", pgettext_lazy("survey", "Closed")


def new_link_token() -> str:
    return secrets.token_urlsafe(12)


class Survey(models.Model):
    Status = SurveyStatus

    # The region that owns it: a community, or a street surveying all its communities.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("run by"))
    title = models.CharField(_("title"), max_length=100)
    intro = models.TextField(_("introduction"), blank=True)
    audience_group = models.CharField(_("for"), max_length=16, choices=Group.choices, default=Group.ALL)
    # Within the owner's region: e.g. the residents of one compound.
    audience_region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("living in")
    )
    anonymous = models.BooleanField(_("anonymous"), default=True)
    one_per = models.CharField(_("answers"), max_length=12, choices=OnePer.choices, default=OnePer.RESIDENT)
    # Every year's edition and every version of one questionnaire share a lineage.
    lineage = models.UUIDField(default=uuid.uuid4, editable=False)
    year = models.PositiveSmallIntegerField(_("year"))
    version = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(_("status"), max_length=8, choices=SurveyStatus.choices, default="draft")
    link_token = models.CharField(max_length=24, unique=True, default=new_link_token, editable=False)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["-year", "title", "-version"]
        constraints = [
            models.CheckConstraint(condition=Q(audience_group__in=Group.values), name="survey_group_valid"),
            models.CheckConstraint(condition=Q(one_per__in=OnePer.values), name="survey_one_per_valid"),
            models.CheckConstraint(condition=Q(status__in=SurveyStatus.values), name="survey_status_valid"),
            models.UniqueConstraint(fields=["lineage", "year", "version"], name="survey_edition_unique"),
        ]
        indexes = [models.Index(fields=["region", "status"], name="survey_list")]

    def __str__(self):
        return f"{self.title} ({self.year})"


class QuestionKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    SCALE = "scale", _("Rating scale")
    NUMBER = "number", _("Number")
    SHORT_TEXT = "short_text", _("Short text")
    LONG_TEXT = "long_text", _("Long text")
    NEEDS = "needs", _("Needs categories")


CHOICE_KINDS = (QuestionKind.SINGLE, QuestionKind.MULTIPLE, QuestionKind.NEEDS)


class Question(models.Model):
    Kind = QuestionKind

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    number = models.PositiveSmallIntegerField()
    # Stable across editions and versions: answers to the same key are compared year on year.
    key = models.SlugField(max_length=40)
    kind = models.CharField(_("kind"), max_length=12, choices=QuestionKind.choices)
    text = models.CharField(_("question"), max_length=300)
    help_text = models.CharField(_("help"), max_length=300, blank=True)
    required = models.BooleanField(_("required"), default=True)
    # The options of a choice question, in order; a needs question's options are NeedCategory values.
    options = models.JSONField(default=list, blank=True)
    minimum = models.IntegerField(null=True, blank=True)
    maximum = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "number"], name="question_number_unique"),
            models.UniqueConstraint(fields=["survey", "key"], name="question_key_unique"),
            models.CheckConstraint(condition=Q(kind__in=QuestionKind.values), name="question_kind_valid"),
            models.CheckConstraint(
                condition=Q(minimum__isnull=True) | Q(maximum__isnull=True) | Q(maximum__gte=F("minimum")),
                name="question_range_ordered",
            ),
        ]

    def __str__(self):
        return self.text[:40]


class Mode(models.TextChoices):
    ONLINE = "online", _("Answered online")
    ASSISTED = "assisted", _("Entered by staff with the resident (assisted)")
    PAPER = "paper", _("Typed in from a paper questionnaire")


class AgeBand(models.TextChoices):
    CHILD = "0-17", "0-17"
    YOUNG = "18-34", "18-34"
    MIDDLE = "35-59", "35-59"
    OLDER = "60-79", "60-79"
    OLDEST = "80+", "80+"
    UNKNOWN = "", _("Unknown")


class Response(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    # Who answered: kept only for an identified survey.
    resident = models.ForeignKey(Resident, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    household = models.ForeignKey(
        Household, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A keyed hash of the resident or household the one-answer rule counts; empty for an unnamed paper form.
    respondent_key = models.CharField(max_length=64, blank=True)
    # Facts for the breakdowns, as they were when answering.
    building = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    age_band = models.CharField(max_length=8, choices=AgeBand.choices, blank=True)
    sex = models.CharField(max_length=1, blank=True)
    # ",elderly,vulnerable,": a plain string, so "in this group" is one LIKE on SQLite and PostgreSQL alike.
    groups = models.CharField(max_length=100, blank=True)
    mode = models.CharField(_("how"), max_length=10, choices=Mode.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "respondent_key"],
                condition=~Q(respondent_key=""),
                name="response_one_per_key",
            ),
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="response_mode_valid"),
            models.CheckConstraint(
                condition=Q(mode=Mode.ONLINE) | Q(entered_by__isnull=False), name="response_entry_has_staff"
            ),
        ]
        indexes = [models.Index(fields=["survey", "submitted_at"], name="response_by_time")]

    def __str__(self):
        return f"{self.survey_id}:{self.pk}"


class Answer(models.Model):
    """One value of a response to a question: one row per chosen option, or one number or text."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    option = models.PositiveSmallIntegerField(null=True, blank=True)
    number = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    text = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question", "option"],
                condition=Q(option__isnull=False),
                name="answer_option_once",
            ),
        ]
        indexes = [models.Index(fields=["question", "option"], name="answer_count")]

    def __str__(self):
        return f"{self.response_id}:{self.question_id}"


class NeedType(models.TextChoices):
    """Bradshaw's taxonomy of social need, as social workers use it."""

    FELT = "felt", _("Felt (what people say they want)")
    EXPRESSED = "expressed", _("Expressed (what people ask for: matters, requests)")
    NORMATIVE = "normative", _("Normative (below a standard professionals set)")
    COMPARATIVE = "comparative", _("Comparative (others like them have it)")


class NeedStatus(models.TextChoices):
    IDENTIFIED = "identified", _("Identified")
    PLANNED = "planned", _("Planned")
    ADDRESSING = "addressing", _("Being addressed")
    MET = "met", _("Met")


class Need(models.Model):
    Status = NeedStatus

    community = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("community")
    )
    title = models.CharField(_("need"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(_("category"), max_length=16, choices=NeedCategory.choices)
    need_type = models.CharField(_("type"), max_length=12, choices=NeedType.choices)
    groups = models.JSONField(_("groups concerned"), default=list, blank=True)
    regions = models.ManyToManyField(
        Region, blank=True, related_name="+", verbose_name=_("regions concerned")
    )
    status = models.CharField(_("status"), max_length=12, choices=NeedStatus.choices, default="identified")
    # How many people the evidence counts (answers choosing it, matters reporting it).
    people_count = models.PositiveIntegerField(_("people"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("need")
        verbose_name_plural = _("needs")
        ordering = ["-people_count", "title"]
        constraints = [
            models.CheckConstraint(condition=Q(category__in=NeedCategory.values), name="need_category_valid"),
            models.CheckConstraint(condition=Q(need_type__in=NeedType.values), name="need_type_valid"),
            models.CheckConstraint(condition=Q(status__in=NeedStatus.values), name="need_status_valid"),
        ]
        indexes = [models.Index(fields=["community", "status"], name="need_list")]

    def __str__(self):
        return self.title


class EvidenceKind(models.TextChoices):
    SURVEY = "survey", _("Survey answers")
    MATTER = "matter", _("Matters reported")
    CONSULTATION = "consultation", _("Consultation")
    NOTE = "note", _("Observation")


class Evidence(models.Model):
    """What a need rests on: a survey question's option (with the count of answers choosing it), a matter, a
    consultation, or a worker's observation."""

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=14, choices=EvidenceKind.choices)
    question = models.ForeignKey(Question, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    option = models.PositiveSmallIntegerField(null=True, blank=True)
    matter = models.ForeignKey(
        "matters.Matter", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    consultation = models.ForeignKey(
        "consultations.Consultation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    count = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=300, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=EvidenceKind.values), name="evidence_kind_valid"),
            models.CheckConstraint(
                condition=(Q(kind=EvidenceKind.SURVEY) & Q(question__isnull=False))
                | (Q(kind=EvidenceKind.MATTER) & Q(matter__isnull=False))
                | (Q(kind=EvidenceKind.CONSULTATION) & Q(consultation__isnull=False))
                | (Q(kind=EvidenceKind.NOTE) & ~Q(note="")),
                name="evidence_names_its_source",
            ),
        ]

    def __str__(self):
        return f"{self.need_id}:{self.kind}"


class Action(models.Model):
    """What was done about a need, moving its status; the register's history, append-only."""

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="actions")
    text = models.CharField(_("action"), max_length=300)
    status_before = models.CharField(max_length=12, choices=NeedStatus.choices)
    status_after = models.CharField(max_length=12, choices=NeedStatus.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return self.text[:40]


class SurveyParticipation(models.Model):
    """That a resident answered some survey in a month, for the participation ladder. Only the month and not
    the survey, so it cannot be joined to an anonymous response."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resident", "month"], name="survey_participation_once_a_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="survey_participation_month_starts"),
        ]

    def __str__(self):
        return f"{self.resident_id}:{self.month:%Y-%m}"


class AssetKind(models.TextChoices):
    """Asset-based community development's inventory (Kretzmann and McKnight): people's gifts, associations,
    institutions, physical spaces, and the community's culture and history."""

    SKILL = "skill", _("A resident's skill")
    ASSOCIATION = "association", _("Association or group")
    INSTITUTION = "institution", _("Institution")
    WORK_UNIT = "work_unit", _("Work unit")
    SPACE = "space", _("Physical space")
    CULTURE = "culture", _("Culture and history")


class Asset(models.Model):
    Kind = AssetKind

    community = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("community")
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("where"))
    kind = models.CharField(_("kind"), max_length=12, choices=AssetKind.choices)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    # What it offers or opens to residents (a unit's canteen, a retired doctor's free blood-pressure checks).
    offers = models.CharField(_("what it offers residents"), max_length=300, blank=True)
    # A skill belongs to a resident (with their consent); an association, institution or work unit may be an
    # organisation on the platform.
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    organisation = models.ForeignKey(
        "core.Organisation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    willing_to_help = models.BooleanField(_("willing to help"), default=False)
    keywords = models.CharField(_("keywords"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("community asset")
        verbose_name_plural = _("community assets")
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AssetKind.values), name="asset_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind=AssetKind.SKILL) | Q(resident__isnull=False),
                name="asset_skill_has_resident",
            ),
        ]
        indexes = [models.Index(fields=["community", "kind"], name="asset_list")]

    def __str__(self):
        return self.name
