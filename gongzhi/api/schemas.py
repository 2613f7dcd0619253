"""Schemas shared by every router (errors, references to regions and organisations) and those of the core
router. A capability app keeps its own schemas beside its router and reuses the references from here."""

import datetime

from ninja import Field, Schema

from gongzhi.core.models import OrganisationKind
from gongzhi.core.selectors import resident_tags_visible_to


class ErrorOut(Schema):
    detail: str


class ServiceErrorOut(Schema):
    detail: str
    field: str | None = Field(None, description="The input field the message is about, if any.")


class RegionRef(Schema):
    id: int
    name: str
    level: str


class OrganisationRef(Schema):
    id: int
    name: str
    kind: str


class RegionOut(Schema):
    id: int
    name: str
    level: str
    parent_id: int | None
    path: str = Field(description='Materialised path of ancestor ids, e.g. "/1/4/17/".')
    depth: int


class RegionTreeOut(RegionOut):
    children: list["RegionTreeOut"] = []


class RoleOut(Schema):
    role: str
    label: str
    region: RegionRef | None = None
    organisation: OrganisationRef | None = None

    @staticmethod
    def resolve_label(assignment) -> str:
        return str(assignment.get_role_display())


class ResidentSummaryOut(Schema):
    id: int
    name: str
    community: RegionRef
    building: RegionRef
    room: str | None

    @staticmethod
    def resolve_building(resident):
        return resident.region

    @staticmethod
    def resolve_room(resident) -> str | None:
        return resident.household.number if resident.household else None


class MeOut(Schema):
    id: int
    name: str
    mobile_masked: str
    roles: list[RoleOut]
    resident: ResidentSummaryOut | None


class OrganisationOut(Schema):
    id: int
    name: str
    kind: str
    kind_label: str
    credit_code: str
    region: RegionRef
    address: str

    @staticmethod
    def resolve_kind_label(organisation) -> str:
        return str(organisation.get_kind_display())


class OrganisationDetailOut(OrganisationOut):
    contact_phone: str
    description: str
    created_at: datetime.datetime


class OrganisationIn(Schema):
    name: str = Field(max_length=200)
    kind: OrganisationKind
    region_id: int
    credit_code: str = Field("", max_length=18, description="Unified social credit code (GB 32100-2015).")
    address: str = Field("", max_length=200)
    contact_phone: str = Field("", max_length=20)
    description: str = ""


class TagItem(Schema):
    tag: str
    label: str


class TagOut(TagItem):
    @staticmethod
    def resolve_label(resident_tag) -> str:
        return str(resident_tag.get_tag_display())


class ResidentItem(Schema):
    """Masked numbers only: the full ones come from POST /residents/{id}/unmask, which is audited."""

    id: int
    name: str
    sex: str
    birth_year: int | None
    phone_masked: str
    id_number_masked: str
    building: RegionRef
    room: str | None
    tags: list[TagItem]


class PagedResidentsOut(Schema):
    items: list[ResidentItem]
    count: int = Field(description="How many residents match, in all.")


class ResidentOut(ResidentItem):
    tags: list[TagOut]

    @staticmethod
    def resolve_building(resident):
        return resident.region

    @staticmethod
    def resolve_birth_year(resident) -> int | None:
        return resident.birth_date.year if resident.birth_date else None

    @staticmethod
    def resolve_room(resident) -> str | None:
        return resident.household.number if resident.household else None

    @staticmethod
    def resolve_tags(resident, context) -> list:
        return resident_tags_visible_to(context["request"].auth, resident)


class ResidentDetailOut(ResidentOut):
    community: RegionRef
    is_household_head: bool
    verified_at: datetime.datetime | None
    has_account: bool

    @staticmethod
    def resolve_has_account(resident) -> bool:
        return resident.user_id is not None


class UnmaskedOut(Schema):
    phone: str
    id_number: str
