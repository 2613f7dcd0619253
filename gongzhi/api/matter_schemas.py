"""Schemas of the matters router. Personal data stays out unless the caller may see it: the reporter's name
goes only to the reporter and to whoever oversees the matter's place (Perm.VIEW_MATTERS there), and the
timeline names staff, never the reporter nor neighbours who said "me too"."""

import datetime

from django.utils.translation import gettext
from ninja import Field, Schema

from gongzhi.api.schemas import OrganisationRef, RegionRef
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_at
from gongzhi.matters.models import DESCRIPTION_MAX_LENGTH, CoHandler, DeadlineUnit, Event, Matter, Urgency
from gongzhi.matters.services import is_reporter

RATING_COMMENT_MAX_LENGTH = Matter._meta.get_field("rating_comment").max_length
CO_HANDLER_REPORT_MAX_LENGTH = CoHandler._meta.get_field("report").max_length


def reporter_name_for(user, matter: Matter) -> str | None:
    """The reporter's name, for the reporter and those who oversee the matter's place; None for anyone else,
    whether or not the reporter chose to hide it from the public (the API never shows it to the public)."""
    if not (is_reporter(user, matter) or has_perm_at(user, Perm.VIEW_MATTERS, matter.region.path)):
        return None
    if matter.reporter_id is not None:
        return matter.reporter.name
    # Reported for a resident who has no account.
    return matter.on_behalf_of.name if matter.on_behalf_of_id else None


# ---------------------------------------------------------------------------------------------- categories


class DeadlineOut(Schema):
    amount: int
    unit: str = Field(description='"hours" (every day, on the clock) or "working_days" (China\'s calendar).')
    unit_label: str


class CategoryRef(Schema):
    id: int
    code: str
    name: str

    @staticmethod
    def resolve_name(category) -> str:
        # Stored as an English msgid, shown translated.
        return gettext(category.name)


class CategoryOut(CategoryRef):
    group: str
    description: str
    category_class: str
    first_tier: str = Field(
        description="Where a matter of this category enters: compound, community, street…"
    )
    first_tier_label: str
    response_deadline: DeadlineOut
    resolution_deadline: DeadlineOut
    is_private: bool = Field(description="Private matters (e.g. neighbour disputes) are never public.")
    community_id: int | None = Field(description="The community's own setting, or null for the platform's.")

    @staticmethod
    def resolve_group(category) -> str:
        return gettext(category.group) if category.group else ""

    @staticmethod
    def resolve_description(category) -> str:
        return gettext(category.description) if category.description else ""

    @staticmethod
    def resolve_first_tier_label(category) -> str:
        return str(category.get_first_tier_display())

    @staticmethod
    def resolve_response_deadline(category) -> dict:
        return _deadline(category.response_amount, category.response_unit)

    @staticmethod
    def resolve_resolution_deadline(category) -> dict:
        return _deadline(category.resolution_amount, category.resolution_unit)


def _deadline(amount: int, unit: str) -> dict:
    return {"amount": amount, "unit": unit, "unit_label": str(DeadlineUnit(unit).label)}


# -------------------------------------------------------------------------------------------------- matters


class MatterOut(Schema):
    id: int
    category: CategoryRef
    summary: str = Field(description="The first line of the description, shortened.")
    status: str
    status_label: str
    urgency: str
    tier: str = Field(description="The tier handling it now.")
    tier_label: str
    region: RegionRef = Field(description="Where the matter is.")
    community: RegionRef
    is_private: bool
    submitted_at: datetime.datetime
    response_due: datetime.datetime
    resolution_due: datetime.datetime
    first_response_at: datetime.datetime | None
    resolved_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    me_too_count: int
    reporter_name: str | None = Field(
        description="Only for the reporter and for those who oversee the matter's place; null otherwise."
    )

    @staticmethod
    def resolve_status_label(matter) -> str:
        return str(matter.get_status_display())

    @staticmethod
    def resolve_tier_label(matter) -> str:
        return str(matter.get_tier_display())

    @staticmethod
    def resolve_reporter_name(matter, context) -> str | None:
        return reporter_name_for(context["request"].auth, matter)


class PhotoOut(Schema):
    id: int
    stage: str = Field(description='"report" or "resolution".')
    url: str
    uploaded_at: datetime.datetime

    @staticmethod
    def resolve_url(photo) -> str:
        return photo.get_absolute_url()


class CoHandlerOut(Schema):
    id: int
    organisation: OrganisationRef
    state: str
    state_label: str
    called_at: datetime.datetime
    accepted_at: datetime.datetime | None
    reported_at: datetime.datetime | None
    report: str
    allowed_actions: list[str] = Field(
        description='What the caller may do now for this department: "accept" or "report" '
        "(POST /matters/co-handlers/{id}/<action>)."
    )

    @staticmethod
    def resolve_state_label(co_handler) -> str:
        return str(co_handler.get_state_display())


class EventOut(Schema):
    kind: str
    kind_label: str
    at: datetime.datetime
    tier: str
    status: str
    note: str
    actor_name: str | None = Field(description="Who did it, for staff actions; null for residents' own.")
    organisation: OrganisationRef | None = Field(description="The department, for a call-in and its answers.")

    @staticmethod
    def resolve_kind_label(event) -> str:
        return str(event.get_kind_display())

    @staticmethod
    def resolve_actor_name(event) -> str | None:
        # Residents' names stay private: the reporter's own steps and a neighbour's "me too" are anonymous.
        actor = event.actor
        if actor is None or event.kind == Event.Kind.ME_TOO or is_reporter(actor, event.matter):
            return None
        return actor.name


class MatterDetailOut(MatterOut):
    description: str
    urgency_label: str
    hide_name: bool
    latitude: float | None
    longitude: float | None
    entry_tier: str
    handling_region: RegionRef
    tier_response_due: datetime.datetime = Field(description="The current tier's deadline to accept.")
    tier_due: datetime.datetime = Field(description="The current tier's deadline to resolve.")
    confirmation: str = Field(description='"resolved", "not_resolved", "auto" or "" while unanswered.')
    rating: int | None
    rating_comment: str
    reopen_count: int
    duplicate_of_id: int | None
    photos: list[PhotoOut]
    co_handlers: list[CoHandlerOut]
    timeline: list[EventOut]
    allowed_actions: list[str] = Field(
        description="What the caller may do now: POST /matters/{id}/<action> for each of accept, start, "
        "resolve, escalate, return, duplicate, call-in (handlers), withdraw, confirm (the reporter), me-too."
    )

    @staticmethod
    def resolve_urgency_label(matter) -> str:
        return str(matter.get_urgency_display())

    @staticmethod
    def resolve_photos(matter) -> list:
        return list(matter.photos.all())

    # The router reads these once per request (gongzhi.api.matters.matter_detail_for).
    @staticmethod
    def resolve_co_handlers(matter) -> list:
        return matter.co_handlers_for_caller

    @staticmethod
    def resolve_timeline(matter) -> list:
        return matter.timeline_for_caller

    @staticmethod
    def resolve_allowed_actions(matter) -> list[str]:
        return matter.allowed_actions_for_caller


# --------------------------------------------------------------------------------------------------- input


class MatterIn(Schema):
    category_id: int = Field(description="One of GET /matters/categories for the matter's community.")
    description: str = Field(max_length=DESCRIPTION_MAX_LENGTH, description="Plain text.")
    region_id: int | None = Field(
        None,
        description="Where: a region within a community. Default: the building of the resident reported "
        "for, or the caller's own building.",
    )
    urgency: Urgency = Urgency.NORMAL
    hide_name: bool = Field(False, description="Hide the reporter's name from the public.")
    latitude: float | None = Field(None, allow_inf_nan=False)
    longitude: float | None = Field(None, allow_inf_nan=False)
    on_behalf_of_resident_id: int | None = Field(
        None, description="A grid worker or building leader reporting for a resident on the roster."
    )


class NoteIn(Schema):
    note: str = ""


class ResolveIn(Schema):
    note: str = Field(description="What was done.")


class ReasonIn(Schema):
    reason: str


class WithdrawIn(Schema):
    reason: str = ""


class DuplicateIn(Schema):
    original_id: int = Field(description="The matter this one repeats.")


class ConfirmIn(Schema):
    resolved: bool = Field(description="false reopens the matter once; a second false closes it unresolved.")
    rating: int | None = Field(None, ge=1, le=5, description="1 to 5; required when resolved.")
    comment: str = Field("", max_length=RATING_COMMENT_MAX_LENGTH)


class CallInIn(Schema):
    organisation_ids: list[int] = Field(description="Departments or organisations to handle it together.")
    note: str = ""


class CoHandlerReportIn(Schema):
    report: str = Field(max_length=CO_HANDLER_REPORT_MAX_LENGTH)
