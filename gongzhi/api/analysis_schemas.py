"""Schemas of the analysis router (社区分析). Results and rankings are aggregates: a count of people under 5
in any breakdown goes out as null (suppressed), never as its number. Nothing here names who answered a
survey."""

import datetime
from decimal import Decimal

from ninja import Field, Schema

from gongzhi.analysis.models import Mode, NeedCategory, QuestionKind
from gongzhi.api.schemas import RegionRef, ServiceErrorOut

SUPPRESSED = "null when under 5 (suppressed, so no one can be singled out)."


def _category_label(value: str) -> str:
    return str(NeedCategory(value).label) if value in NeedCategory.values else value


# --------------------------------------------------------------------------------------------------- surveys


class SurveyOut(Schema):
    id: int
    title: str
    intro: str
    year: int
    version: int
    status: str = Field(description='"draft" (its owners only), "open" or "closed".')
    status_label: str
    region: RegionRef = Field(description="The region running it.")
    audience_group: str = Field(
        description='Who it is for: "all", "elderly", "children", "disability" or "vulnerable".'
    )
    audience_group_label: str
    audience_region: RegionRef = Field(description="Residents living in this region are asked.")
    anonymous: bool = Field(description="An identified survey keeps who answered, for its owners only.")
    one_per: str = Field(description='"resident" or "household": whose one answer it takes.')
    open_to_me: bool = Field(description="Open, and meant for the caller as a resident.")
    answered: bool = Field(description="The caller (or their household) has answered it.")

    @staticmethod
    def resolve_status_label(survey) -> str:
        return str(survey.get_status_display())

    @staticmethod
    def resolve_audience_group_label(survey) -> str:
        return str(survey.get_audience_group_display())

    # The router works these out for the caller (gongzhi.api.analysis.with_caller_flags).
    @staticmethod
    def resolve_open_to_me(survey) -> bool:
        return survey.open_to_caller

    @staticmethod
    def resolve_answered(survey) -> bool:
        return survey.answered_by_caller


class OptionOut(Schema):
    index: int = Field(description="What an answer sends for this option.")
    value: str = Field(description="The option; for a needs question, its category (also accepted).")
    label: str


class QuestionOut(Schema):
    number: int
    key: str = Field(description="Answers are sent by key; it stays the same from year to year.")
    kind: str = Field(
        description='"single", "multiple", "scale", "number", "short_text", "long_text" or "needs".'
    )
    kind_label: str
    text: str
    help_text: str
    required: bool
    options: list[OptionOut] = Field(description="The options of a choice question, in order.")
    minimum: int | None
    maximum: int | None

    @staticmethod
    def resolve_kind_label(question) -> str:
        return str(question.get_kind_display())

    @staticmethod
    def resolve_options(question) -> list[dict]:
        needs = question.kind == QuestionKind.NEEDS
        return [
            {"index": index, "value": value, "label": _category_label(value) if needs else value}
            for index, value in enumerate(question.options)
        ]


class SurveyDetailOut(SurveyOut):
    questions: list[QuestionOut]

    @staticmethod
    def resolve_questions(survey) -> list:
        return list(survey.questions.all())


AnswerValue = int | float | str | list[int | str] | None


class ResponseIn(Schema):
    answers: dict[str, AnswerValue] = Field(
        description="By question key: a single choice's option index; a multiple choice's list of indexes (a "
        'needs question\'s may give its categories, e.g. ["health"]); a number; a text.',
        examples=[{"needs": ["health", "elderly_care"], "years": 1, "rating": 4, "comment": "多些活动"}],
    )
    mode: Mode = Field(
        Mode.ONLINE,
        description="\"online\": the caller answers for themselves. The survey's owners enter a resident's "
        'answers as "assisted" (with the resident) or "paper" (from a paper questionnaire), naming '
        "resident_id.",
    )
    resident_id: int | None = Field(None, description="Whose answers staff are entering.")


class ResponseOut(Schema):
    id: int
    survey_id: int
    mode: str
    mode_label: str
    submitted_at: datetime.datetime

    @staticmethod
    def resolve_mode_label(response) -> str:
        return str(response.get_mode_display())


class AnswersErrorOut(ServiceErrorOut):
    errors: dict[str, str] = Field(
        default_factory=dict,
        description="When answers are refused: every refused question's key with its message, all at once.",
    )


class OptionResultOut(Schema):
    label: str
    count: int | None = Field(description="People choosing it; " + SUPPRESSED)
    share: Decimal | None = Field(description="Of those who answered the question, 0 to 1.")


class QuestionResultOut(Schema):
    key: str
    number: int
    text: str
    kind: str
    answered: int | None = Field(description="People who answered it; " + SUPPRESSED)
    options: list[OptionResultOut] = Field(description="A choice question's counts, option by option.")
    average: Decimal | None = Field(description="A scale or number question's average.")
    texts: int = Field(description="How many wrote an answer to a text question.")

    @staticmethod
    def resolve_key(result) -> str:
        return result.question.key

    @staticmethod
    def resolve_number(result) -> int:
        return result.question.number

    @staticmethod
    def resolve_text(result) -> str:
        return result.question.text

    @staticmethod
    def resolve_kind(result) -> str:
        return result.question.kind


class ResultsOut(Schema):
    survey_id: int
    group: str = Field(description="The group broken down, or empty for everyone.")
    region: RegionRef | None = Field(description="The part of the audience broken down, if any.")
    total: int | None = Field(description="Responses; in a breakdown (by group or region) " + SUPPRESSED)
    questions: list[QuestionResultOut]


# ----------------------------------------------------------------------------------------------------- needs


class NeedOut(Schema):
    id: int
    title: str
    community: RegionRef
    category: str
    category_label: str
    need_type: str = Field(description='"felt", "expressed", "normative" or "comparative" (Bradshaw).')
    need_type_label: str
    groups: list[str] = Field(description="The groups it concerns.")
    status: str = Field(description='"identified", "planned", "addressing" or "met".')
    status_label: str
    people_count: int = Field(description="People its evidence counts.")
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_category_label(need) -> str:
        return str(need.get_category_display())

    @staticmethod
    def resolve_need_type_label(need) -> str:
        return str(need.get_need_type_display())

    @staticmethod
    def resolve_status_label(need) -> str:
        return str(need.get_status_display())


class EvidenceOut(Schema):
    kind: str = Field(description='"survey", "matter", "consultation" or "note".')
    kind_label: str
    count: int = Field(description="People it counts.")
    note: str
    survey_id: int | None
    question_key: str | None
    option: str | None = Field(description="The survey option chosen, as its label.")
    matter_id: int | None
    consultation_id: int | None
    added_at: datetime.datetime

    @staticmethod
    def resolve_kind_label(evidence) -> str:
        return str(evidence.get_kind_display())

    @staticmethod
    def resolve_survey_id(evidence) -> int | None:
        return evidence.question.survey_id if evidence.question_id else None

    @staticmethod
    def resolve_question_key(evidence) -> str | None:
        return evidence.question.key if evidence.question_id else None

    @staticmethod
    def resolve_option(evidence) -> str | None:
        question = evidence.question
        if question is None or evidence.option is None or not 0 <= evidence.option < len(question.options):
            return None
        value = question.options[evidence.option]
        return _category_label(value) if question.kind == QuestionKind.NEEDS else value


class ActionOut(Schema):
    text: str
    status_before: str
    status_after: str
    at: datetime.datetime


class NeedDetailOut(NeedOut):
    description: str
    regions: list[RegionRef] = Field(description="The parts of the community it concerns; none: all of it.")
    evidence: list[EvidenceOut]
    actions: list[ActionOut] = Field(description="What was done, oldest first.")

    @staticmethod
    def resolve_regions(need) -> list:
        return list(need.regions.order_by("path"))

    @staticmethod
    def resolve_evidence(need) -> list:
        return list(need.evidence.select_related("question").order_by("added_at", "pk"))

    @staticmethod
    def resolve_actions(need) -> list:
        return list(need.actions.all())


# ------------------------------------------------------------------------------------------------ dashboard


class NeedRankOut(Schema):
    category: str
    label: str
    count: int | None = Field(description="People choosing it this year; " + SUPPRESSED)
    last_year: int | None = Field(description="The year before; " + SUPPRESSED)
    change: int | None = Field(description="Since the year before; null when either count is suppressed.")


class StatusCountOut(Schema):
    status: str
    label: str
    count: int


class DashboardOut(Schema):
    region: RegionRef
    year: int
    group: str = Field(description="The group ranked, or empty for everyone.")
    ranking: list[NeedRankOut] = Field(
        description="Needs categories residents chose in the region's surveys of the year, most first."
    )
    needs_by_status: list[StatusCountOut] = Field(
        description="The register's needs in the region, by status."
    )
