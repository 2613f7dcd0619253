"""Schemas of the volunteering router. Personal data stays with its owner: a volunteer's personal QR token
and a redemption's code go only to the resident they belong to; organisers see their volunteers' names; a
certificate checked by the public shows the name masked (张*民), never the ID number."""

import datetime
from typing import Literal

from django.utils import timezone
from django.utils.translation import gettext
from ninja import Field, Schema
from pydantic import AwareDatetime

from gongzhi.api.schemas import OrganisationRef, RegionRef
from gongzhi.core.crypto import mask_name
from gongzhi.volunteering.models import Activity, PointsRule, RiskLevel, VolunteerProfile
from gongzhi.volunteering.services import REQUEST_TOKEN_MAX_LENGTH, Decision, hours_proposed


def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


def _caller(context):
    return context["request"].auth


# ------------------------------------------------------------------------------------------------- activities


class SignUpOut(Schema):
    """A volunteer's own sign-up."""

    id: int
    activity_id: int
    status: str = Field(description='"confirmed" (a place), "waitlisted", "cancelled" or "no_show".')
    status_label: str
    signed_up_at: datetime.datetime
    checked_in_at: datetime.datetime | None
    checked_out_at: datetime.datetime | None
    verification: str = Field(description='"pending", "approved", "adjusted" or "rejected".')
    verification_label: str
    hours: float | None = Field(description="Verified hours, once verified.")

    @staticmethod
    def resolve_status_label(signup) -> str:
        return str(signup.get_status_display())

    @staticmethod
    def resolve_verification_label(signup) -> str:
        return str(signup.get_verification_display())


class ActivityOut(Schema):
    id: int
    title: str
    place: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    cancel_deadline: datetime.datetime = Field(description="A place can be given up until then.")
    status: str = Field(description='"draft" (organisers only), "open" or "cancelled".')
    status_label: str
    region: RegionRef = Field(description="The audience: residents of this region and everything in it.")
    open_to_everyone: bool = Field(description="Open to residents of other communities too.")
    community: RegionRef
    organisation: OrganisationRef | None = Field(
        description="The organisation running it, if not the community."
    )
    capacity: int
    taken: int = Field(description="People with a place.")
    waiting: int = Field(description="People on the waiting list.")
    points_rule: str = Field(description='"per_hour" (points per verified hour) or "fixed".')
    points: int
    risk_level: str

    @staticmethod
    def resolve_status_label(activity) -> str:
        return str(activity.get_status_display())


class ActivityDetailOut(ActivityOut):
    description: str
    skills_wanted: str
    min_age: int
    risk_level_label: str
    points_rule_label: str
    insured: bool = Field(description="Whether the organisers confirmed the volunteers' insurance.")
    insurance_policy: str | None = Field(description="The policy, for the organisers only.")
    created_at: datetime.datetime
    is_organiser: bool = Field(description="Whether the caller runs this activity (roster, check-in, hours).")
    check_in_code: str | None = Field(
        description="For organisers of an open activity: the rotating six-digit code volunteers scan or type "
        "to check in (it changes every three minutes; the previous one is still accepted)."
    )
    my_signup: SignUpOut | None = Field(description="The caller's own sign-up, if any.")

    @staticmethod
    def resolve_risk_level_label(activity) -> str:
        return str(activity.get_risk_level_display())

    @staticmethod
    def resolve_points_rule_label(activity) -> str:
        return str(activity.get_points_rule_display())

    @staticmethod
    def resolve_insured(activity) -> bool:
        return activity.insurance_confirmed_at is not None

    # The router reads these once per request (gongzhi.api.volunteering.activity_detail_for).
    @staticmethod
    def resolve_insurance_policy(activity) -> str | None:
        return activity.insurance_note if activity.is_organiser_for_caller else None

    @staticmethod
    def resolve_is_organiser(activity) -> bool:
        return activity.is_organiser_for_caller

    @staticmethod
    def resolve_check_in_code(activity) -> str | None:
        return activity.check_in_code_for_caller

    @staticmethod
    def resolve_my_signup(activity):
        return activity.signup_of_caller


class ActivityRef(Schema):
    id: int
    title: str
    place: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    status: str
    region: RegionRef
    organisation: OrganisationRef | None


class MySignUpOut(SignUpOut):
    activity: ActivityRef


class VolunteerRef(Schema):
    id: int
    number: str
    name: str
    building: str

    @staticmethod
    def resolve_name(volunteer) -> str:
        return volunteer.resident.name

    @staticmethod
    def resolve_building(volunteer) -> str:
        return volunteer.resident.region.label


class RosterItemOut(SignUpOut):
    """A line of the organiser's roster."""

    volunteer: VolunteerRef
    check_method: str = Field(
        description='"personal_code", "activity_code", "by_hand" or "" before check-in.'
    )
    hours_proposed: float = Field(description="What the check-in and check-out times suggest, to verify.")
    verification_reason: str
    verified_by_name: str | None

    @staticmethod
    def resolve_hours_proposed(signup) -> float:
        return hours_proposed(signup, signup.activity)

    @staticmethod
    def resolve_verified_by_name(signup) -> str | None:
        return signup.verified_by.name if signup.verified_by_id else None


# Input: the fields of gongzhi.volunteering.services.ACTIVITY_FIELDS, under the same names.

WHEN = "With its UTC offset, e.g. 2025-05-01T09:00:00+08:00."


class ActivityIn(Schema):
    region_id: int = Field(description="The audience: a community, or a grid, compound or building in one.")
    organisation_id: int | None = Field(None, description="The organisation running it; none: the community.")
    title: str = Field(max_length=_max_length(Activity, "title"))
    description: str = ""
    place: str = Field(max_length=_max_length(Activity, "place"))
    starts_at: AwareDatetime = Field(description=WHEN)
    ends_at: AwareDatetime = Field(description=WHEN)
    cancel_deadline: AwareDatetime | None = Field(
        None, description="Until when a place can be given up; by default the start. " + WHEN
    )
    capacity: int = Field(ge=1)
    skills_wanted: str = Field("", max_length=_max_length(Activity, "skills_wanted"))
    min_age: int = Field(0, ge=0, le=120)
    risk_level: RiskLevel = Field(
        RiskLevel.LOW,
        description="A medium or high risk activity opens only once its insurance is confirmed.",
    )
    points_rule: PointsRule = PointsRule.PER_HOUR
    points: int = Field(0, ge=0, description="Per verified hour, or in all (fixed).")
    open_to_everyone: bool = False


class ActivityPatchIn(Schema):
    """Only the fields sent are changed. (Their defaults are not null: a null is refused, not applied.)"""

    title: str = Field(None, max_length=_max_length(Activity, "title"))
    description: str = None
    place: str = Field(None, max_length=_max_length(Activity, "place"))
    starts_at: AwareDatetime = Field(None, description=WHEN)
    ends_at: AwareDatetime = Field(None, description=WHEN)
    cancel_deadline: AwareDatetime = Field(None, description=WHEN)
    capacity: int = Field(None, ge=1, description="Not fewer than the places already taken.")
    skills_wanted: str = Field(None, max_length=_max_length(Activity, "skills_wanted"))
    min_age: int = Field(None, ge=0, le=120)
    risk_level: RiskLevel = None
    points_rule: PointsRule = None
    points: int = Field(None, ge=0)
    open_to_everyone: bool = None


class InsuranceIn(Schema):
    policy: str = Field(description="The policy number or the insurer.")


class ReasonIn(Schema):
    reason: str


class CodeIn(Schema):
    code: str = Field(description="The six digits of the activity's code, or the scanned text.")


class TokenIn(Schema):
    token: str = Field(description="The volunteer's personal code as scanned (the token or the whole link).")


class AttendanceIn(Schema):
    action: Literal["check_in", "check_out", "no_show"]


class VerifyIn(Schema):
    decision: Decision = Field(
        description='"approve" the proposed hours, "adjust" them (hours and a reason) or "reject" (a reason).'
    )
    hours: float | None = Field(None, description="The hours, when adjusting: more than 0, at most 24.")
    reason: str = ""


# ---------------------------------------------------------------------------------------------- the volunteer


class VolunteerMeOut(Schema):
    id: int
    number: str = Field(description="The volunteer number.")
    name: str
    community: RegionRef
    hours: float = Field(description="Verified hours in all; they never expire.")
    no_shows: int
    skills: str
    on_honour_roll: bool
    joined_at: datetime.datetime
    qr_token: str = Field(
        description="The personal code organisers scan to check the volunteer in; sent to its owner only."
    )
    points: int = Field(description="The points balance of the passbook.")

    @staticmethod
    def resolve_name(volunteer) -> str:
        return volunteer.resident.name

    @staticmethod
    def resolve_community(volunteer):
        return volunteer.resident.community

    @staticmethod
    def resolve_points(volunteer) -> int:
        return volunteer.points_balance


class VolunteerMeIn(Schema):
    skills: str = Field(max_length=_max_length(VolunteerProfile, "skills"))
    on_honour_roll: bool


class PassbookEntryOut(Schema):
    id: int
    at: datetime.datetime
    date: datetime.date = Field(description="The day, in China Standard Time.")
    memo: str
    amount: int = Field(description="Points in (positive) or out (negative).")
    balance_after: int
    is_reversal: bool = Field(description="A correction that gives back the points of an earlier entry.")

    @staticmethod
    def resolve_at(entry) -> datetime.datetime:
        return entry.created_at

    @staticmethod
    def resolve_date(entry) -> datetime.date:
        return timezone.localdate(entry.created_at)

    @staticmethod
    def resolve_memo(entry) -> str:
        # System memos are stored as English msgids and shown translated; free text is shown as written.
        return gettext(entry.memo) if entry.memo else ""


# ----------------------------------------------------------------------------------------------- certificates


class CertificateCheckOut(Schema):
    """What anyone may check of a certificate: masked, and as issued."""

    number: str
    valid: bool = Field(description="True: this certificate was issued as shown.")
    name: str = Field(description="Masked, e.g. 张*民.")
    hours: float
    activities: int
    period_start: datetime.date
    period_end: datetime.date
    issuer: str
    issued_on: datetime.date

    @staticmethod
    def resolve_valid(certificate) -> bool:
        # Certificates are append-only snapshots: one that exists is one that was issued.
        return True

    @staticmethod
    def resolve_name(certificate) -> str:
        return mask_name(certificate.name)

    @staticmethod
    def resolve_issued_on(certificate) -> datetime.date:
        return timezone.localdate(certificate.issued_at)


# ------------------------------------------------------------------------------------- the points supermarket


class OutletRef(Schema):
    id: int
    name: str
    kind: str
    address: str
    opening_hours: str


class ItemOut(Schema):
    id: int
    name: str
    description: str
    unit: str
    price: int = Field(description="In points, for one.")
    stock: int
    limit_per_person: int | None = Field(
        description="How many one person may redeem per period; null: no limit."
    )
    limit_period: str
    limit_period_label: str
    outlet: OutletRef

    @staticmethod
    def resolve_limit_period_label(item) -> str:
        return str(item.get_limit_period_display())


class ItemRef(Schema):
    id: int
    name: str
    unit: str


class RedemptionOut(Schema):
    id: int
    item: ItemRef
    outlet: OutletRef
    resident_name: str = Field(description="Masked, for the outlet's staff to check who collects.")
    quantity: int
    points: int
    status: str = Field(description='"reserved" (to collect), "handed_over" or "cancelled".')
    status_label: str
    code: str | None = Field(
        description="The code to show at the outlet (as a QR code); only to the resident who redeemed."
    )
    created_at: datetime.datetime
    handed_over_at: datetime.datetime | None
    cancelled_at: datetime.datetime | None

    @staticmethod
    def resolve_outlet(redemption):
        return redemption.item.outlet

    @staticmethod
    def resolve_resident_name(redemption) -> str:
        return mask_name(redemption.resident.name)

    @staticmethod
    def resolve_status_label(redemption) -> str:
        return str(redemption.get_status_display())

    @staticmethod
    def resolve_code(redemption, context) -> str | None:
        return redemption.code if redemption.resident.user_id == _caller(context).pk else None


class RedeemIn(Schema):
    quantity: int = 1
    request_token: str = Field(
        min_length=1,
        max_length=REQUEST_TOKEN_MAX_LENGTH,
        description="A fresh random string per purchase: a repeated request with it redeems only once.",
    )


class HandOverIn(Schema):
    code: str = Field(max_length=200, description="The code as typed or scanned (a link around it is fine).")


# ----------------------------------------------------------------------------------------------------- awards


class AwardIn(Schema):
    resident_id: int
    amount: int = Field(description="Whole points, more than zero, out of the community's award budget.")
    reason: str = Field(max_length=200, description="Shown on the resident's passbook.")
    request_token: str = Field(
        min_length=1,
        max_length=REQUEST_TOKEN_MAX_LENGTH,
        description="A fresh random string per award: a repeated request with it awards only once.",
    )


class AwardOut(Schema):
    id: int = Field(description="The ledger transaction.")
    resident_id: int
    amount: int
    reason: str
    created_at: datetime.datetime
    balance: int = Field(description="The resident's balance after the award.")
