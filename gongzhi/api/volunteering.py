"""The volunteering router (志愿服务 and 积分超市): activities, sign-up, attendance and verified hours, the
volunteer's own profile and passbook, public certificate checks, the points supermarket and points awards,
all through the same selectors and services as the pages, so that every rule lives in gongzhi.volunteering.

Scope: an activity is reached through `activities_visible_to` (reads, sign-up, check-in) or, for whatever
only its organisers may do (changes, the roster, scans, attendance, verification), through
`activities_organised_by`; either way one outside it answers 404 exactly like one that does not exist. Items
are those of the caller's own community; a resident named in an award must be in the caller's roster scope.

Errors: a refused action is the service's ServiceError, answered 400 with its translated message and, where
it concerns one input, the payload's field name; the shape of the input is checked by the schemas (422), as
everywhere in this API (gongzhi/api/errors.py). A refusal changes nothing: each service is one transaction.

Idempotency: a redemption and an award carry the client's `request_token`, so that a request repeated after a
lost answer redeems or awards once and answers with what was done the first time.
"""

from django.db.models import Case, F, When
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.errors import HttpError
from ninja.pagination import paginate

from gongzhi.api.errors import payload_fields
from gongzhi.api.pagination import LimitOffset
from gongzhi.api.schemas import ErrorOut, ServiceErrorOut
from gongzhi.api.volunteering_schemas import (
    ActivityDetailOut,
    ActivityIn,
    ActivityOut,
    ActivityPatchIn,
    AttendanceIn,
    AwardIn,
    AwardOut,
    CertificateCheckOut,
    CodeIn,
    HandOverIn,
    InsuranceIn,
    ItemOut,
    MySignUpOut,
    PassbookEntryOut,
    ReasonIn,
    RedeemIn,
    RedemptionOut,
    RosterItemOut,
    SignUpOut,
    TokenIn,
    VerifyIn,
    VolunteerMeIn,
    VolunteerMeOut,
)
from gongzhi.core import selectors as core_selectors
from gongzhi.core.models import Region, Resident
from gongzhi.core.roles import Perm
from gongzhi.volunteering import selectors, services
from gongzhi.volunteering.models import Activity, ActivityStatus, SignUp

router = Router(tags=["volunteering"])

# The services name the model's fields; a client sent the payload's.
PAYLOAD_FIELDS = {"region": "region_id"}

ACTIVITY_RESPONSES = {200: ActivityDetailOut, 400: ServiceErrorOut, 404: ErrorOut}
ROSTER_RESPONSES = {200: RosterItemOut, 400: ServiceErrorOut, 404: ErrorOut}
REDEMPTION_RESPONSES = {200: RedemptionOut, 400: ServiceErrorOut, 404: ErrorOut}


def own_record(user) -> Resident:
    """The caller's resident record, for what only a resident does: sign up, check in, redeem, the passbook.
    An organisation's token acts for the organisation, never as the person who made it (the selectors'
    rule)."""
    resident = selectors.own_record(user)
    if resident is None:
        raise HttpError(404, _("Your account is not linked to a resident record; ask your community office."))
    return resident


def activity_detail_for(user, activity_id: int) -> Activity:
    """The activity as the detail schema reads it: its places, and what the caller may see and do there."""
    activity = get_object_or_404(
        selectors.with_places(selectors.activities_visible_to(user)).select_related(
            "region", "community", "organisation"
        ),
        pk=activity_id,
    )
    is_organiser = services.may_organise(user, activity)
    activity.is_organiser_for_caller = is_organiser
    activity.check_in_code_for_caller = (
        services.activity_code(activity) if is_organiser and activity.status == ActivityStatus.OPEN else None
    )
    activity.signup_of_caller = selectors.signup_of(selectors.own_record(user), activity)
    return activity


def roster_line(signup: SignUp) -> SignUp:
    """A sign-up a service returned, read again as the roster shows it."""
    return selectors.activity_roster(signup.activity).get(pk=signup.pk)


# ------------------------------------------------------------------------------------------------- activities


@router.get("/activities", response={200: list[ActivityOut]}, summary="Activities the caller can see")
@paginate(LimitOffset)
def activity_list(request, upcoming: bool = False, status: ActivityStatus | None = None):
    """Those not yet over first, soonest first, then past ones, latest first. `upcoming` keeps only those not
    yet over. A resident sees the published activities meant for them; organisers also see their drafts."""
    now = timezone.now()
    activities = selectors.with_places(selectors.activities_visible_to(request.auth)).select_related(
        "region", "community", "organisation"
    )
    if upcoming:
        activities = activities.filter(ends_at__gt=now)
    if status:
        activities = activities.filter(status=status)
    not_over_start = Case(When(ends_at__gt=now, then=F("starts_at")))
    return activities.order_by(not_over_start.asc(nulls_last=True), F("starts_at").desc(), "-pk")


@router.get(
    "/activities/{activity_id}", response={200: ActivityDetailOut, 404: ErrorOut}, summary="One activity"
)
def activity_detail(request, activity_id: int):
    return activity_detail_for(request.auth, activity_id)


@router.post(
    "/activities",
    response={201: ActivityDetailOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Create a draft activity",
)
def activity_create(request, payload: ActivityIn):
    """Community staff create activities in their community; an organisation's staff for their organisation,
    within its area. Open it for sign-up with POST /activities/{id}/open."""
    user = request.auth
    # Region names are public (any resident may be in an activity's audience): whether the caller may
    # organise there is the service's rule, answered 400 with its reason.
    region = get_object_or_404(Region.objects.all(), pk=payload.region_id)
    organisation = (
        core_selectors.access_organisation(user, payload.organisation_id)
        if payload.organisation_id is not None
        else None
    )
    fields = payload.model_dump(exclude={"region_id", "organisation_id"})
    if fields["cancel_deadline"] is None:
        del fields["cancel_deadline"]  # the service's default: the start
    with payload_fields(PAYLOAD_FIELDS):
        activity = services.activity_create(
            created_by=user, region=region, organisation=organisation, **fields
        )
    return Status(201, activity_detail_for(user, activity.pk))


@router.patch("/activities/{activity_id}", response=ACTIVITY_RESPONSES, summary="Change an activity")
def activity_update(request, activity_id: int, payload: ActivityPatchIn):
    """Only before it starts; the places cannot drop below those already taken, and places added go to the
    waiting list first come, first served."""
    activity = selectors.access_organised_activity(request.auth, activity_id)
    with payload_fields(PAYLOAD_FIELDS):
        services.activity_update(activity=activity, by=request.auth, **payload.model_dump(exclude_unset=True))
    return activity_detail_for(request.auth, activity_id)


@router.post(
    "/activities/{activity_id}/open", response=ACTIVITY_RESPONSES, summary="Open a draft for sign-up"
)
def activity_open(request, activity_id: int):
    activity = selectors.access_organised_activity(request.auth, activity_id)
    services.activity_open(activity=activity, by=request.auth)
    return activity_detail_for(request.auth, activity_id)


@router.post(
    "/activities/{activity_id}/insurance",
    response=ACTIVITY_RESPONSES,
    summary="Confirm the volunteers' insurance (needed to open a risky activity)",
)
def activity_insurance(request, activity_id: int, payload: InsuranceIn):
    activity = selectors.access_organised_activity(request.auth, activity_id)
    services.activity_confirm_insurance(activity=activity, by=request.auth, policy=payload.policy)
    return activity_detail_for(request.auth, activity_id)


@router.post("/activities/{activity_id}/cancel", response=ACTIVITY_RESPONSES, summary="Call an activity off")
def activity_cancel(request, activity_id: int, payload: ReasonIn):
    """Everyone signed up or waiting is told, with the reason."""
    activity = selectors.access_organised_activity(request.auth, activity_id)
    services.activity_cancel(activity=activity, by=request.auth, reason=payload.reason)
    return activity_detail_for(request.auth, activity_id)


# ------------------------------------------------------------------------------------- sign-up and attendance


@router.post(
    "/activities/{activity_id}/signup",
    response={201: SignUpOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Sign up (a place, or the waiting list when full)",
)
def signup_create(request, activity_id: int):
    resident = own_record(request.auth)
    activity = selectors.access_activity(request.auth, activity_id)
    return Status(201, services.signup_create(activity=activity, resident=resident))


@router.delete(
    "/activities/{activity_id}/signup",
    response={200: SignUpOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Give up your place or leave the waiting list",
)
def signup_cancel(request, activity_id: int):
    """Until the cancellation deadline; the place goes to the first person waiting."""
    resident = own_record(request.auth)
    activity = selectors.access_activity(request.auth, activity_id)
    signup = selectors.signup_of(resident, activity)
    if signup is None:
        raise HttpError(404, _("You have not signed up for this activity."))
    return services.signup_cancel(signup=signup, by=request.auth)


@router.get(
    "/activities/{activity_id}/roster",
    response={200: list[RosterItemOut], 404: ErrorOut},
    summary="The organiser's roster: places, waiting list, attendance and hours",
)
@paginate(LimitOffset)
def activity_roster(request, activity_id: int):
    activity = selectors.access_organised_activity(request.auth, activity_id)
    return selectors.activity_roster(activity)


@router.post(
    "/activities/{activity_id}/check-in",
    response={200: SignUpOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Check yourself in (or out) with the activity's code",
)
def checkin_by_activity_code(request, activity_id: int, payload: CodeIn):
    """The first valid code checks in, the next one out. The code changes every three minutes."""
    resident = own_record(request.auth)
    activity = selectors.access_activity(request.auth, activity_id)
    return services.checkin_by_activity_code(activity=activity, resident=resident, code=payload.code)


@router.post(
    "/activities/{activity_id}/scan",
    response=ROSTER_RESPONSES,
    summary="Scan a volunteer's personal code to check them in (or out)",
)
def checkin_by_personal_code(request, activity_id: int, payload: TokenIn):
    activity = selectors.access_organised_activity(request.auth, activity_id)
    signup = services.checkin_by_personal_code(activity=activity, token=payload.token, by=request.auth)
    return roster_line(signup)


@router.post(
    "/signups/{signup_id}/attendance",
    response=ROSTER_RESPONSES,
    summary="Tick a volunteer in or out by hand, or mark them absent",
)
def attendance_mark(request, signup_id: int, payload: AttendanceIn):
    signup = selectors.access_organised_signup(request.auth, signup_id)
    services.attendance_mark(signup=signup, by=request.auth, action=payload.action)
    return roster_line(signup)


@router.post(
    "/signups/{signup_id}/verify",
    response=ROSTER_RESPONSES,
    summary="Verify a volunteer's hours (and pay their points)",
)
def hours_verify(request, signup_id: int, payload: VerifyIn):
    """Final: the hours join the volunteer's permanent record and the points move from the community's award
    budget to their passbook in the same transaction."""
    signup = selectors.access_organised_signup(request.auth, signup_id)
    services.hours_verify(
        signup=signup, by=request.auth, decision=payload.decision, hours=payload.hours, reason=payload.reason
    )
    return roster_line(signup)


# ---------------------------------------------------------------------------------------------- the volunteer


def _volunteer_me(resident: Resident):
    volunteer = services.volunteer_profile_for(resident=resident)
    volunteer.resident = resident
    volunteer.points_balance = services.points_account_for(resident=resident).balance
    return volunteer


@router.get(
    "/me", response={200: VolunteerMeOut, 404: ErrorOut}, summary="Your volunteer profile and points balance"
)
def volunteer_me(request):
    """Made on first use, with a volunteer number and the personal code organisers scan."""
    return _volunteer_me(own_record(request.auth))


@router.patch(
    "/me",
    response={200: VolunteerMeOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Change your skills and whether you appear on the honour roll",
)
def volunteer_me_update(request, payload: VolunteerMeIn):
    resident = own_record(request.auth)
    services.volunteer_profile_update(
        volunteer=services.volunteer_profile_for(resident=resident),
        skills=payload.skills,
        on_honour_roll=payload.on_honour_roll,
    )
    return _volunteer_me(resident)


@router.get(
    "/me/passbook",
    response={200: list[PassbookEntryOut], 404: ErrorOut},
    summary="Your points passbook (积分存折), newest first",
)
@paginate(LimitOffset)
def passbook(request):
    return selectors.passbook(own_record(request.auth))


@router.get(
    "/me/signups", response={200: list[MySignUpOut], 404: ErrorOut}, summary="Your sign-ups, newest first"
)
@paginate(LimitOffset)
def my_signups(request):
    return selectors.signups_of(own_record(request.auth))


@router.get(
    "/me/redemptions",
    response={200: list[RedemptionOut], 404: ErrorOut},
    summary="What you have redeemed, newest first, with the codes to collect it",
)
@paginate(LimitOffset)
def my_redemptions(request):
    # The schema reads the resident (a masked name, whose the code is): joined, not read once per row.
    return (
        selectors.redemptions_of(own_record(request.auth))
        .select_related("resident")
        .defer("resident__id_number", "resident__phone")
    )


# ----------------------------------------------------------------------------------------------- certificates


@router.get(
    "/certificates/{number}",
    auth=None,
    response={200: CertificateCheckOut, 404: ErrorOut},
    summary="Check a volunteer certificate by its number (public)",
)
def certificate_check(request, number: str):
    """Anyone may check that a certificate was issued: what it certifies, with the name masked."""
    certificate = selectors.certificate_by_number(number)
    if certificate is None:
        raise HttpError(404, _("No certificate has this number."))
    return certificate


# ------------------------------------------------------------------------------------- the points supermarket


@router.get(
    "/items", response={200: list[ItemOut], 404: ErrorOut}, summary="Your community's points supermarket"
)
@paginate(LimitOffset)
def item_list(request):
    """Items on sale at your community's open outlets."""
    return selectors.shop_items(own_record(request.auth))


@router.post(
    "/items/{item_id}/redeem",
    response={201: RedemptionOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Spend points on an item",
)
def item_redeem(request, item_id: int, payload: RedeemIn):
    """The points and the stock move together, or not at all. Show the answer's `code` at the outlet."""
    resident = own_record(request.auth)
    item = selectors.access_item(request.auth, item_id)
    redemption = services.redemption_create(
        item=item,
        resident=resident,
        request_token=payload.request_token,
        quantity=payload.quantity,
        by=request.auth,
    )
    return Status(201, selectors.access_redemption(request.auth, redemption.pk))


@router.post(
    "/redemptions/hand-over",
    response=REDEMPTION_RESPONSES,
    summary="Hand an item over against its code (outlet staff)",
)
def redemption_hand_over(request, payload: HandOverIn):
    """A code is used once; one from an outlet the caller does not serve is refused like an unknown one."""
    redemption = services.redemption_hand_over(code=payload.code, by=request.auth)
    return selectors.access_redemption(request.auth, redemption.pk)


@router.post(
    "/redemptions/{redemption_id}/cancel",
    response=REDEMPTION_RESPONSES,
    summary="Cancel a redemption before collection (points and stock come back)",
)
def redemption_cancel(request, redemption_id: int):
    redemption = selectors.access_redemption(request.auth, redemption_id)
    services.redemption_cancel(redemption=redemption, by=request.auth)
    return selectors.access_redemption(request.auth, redemption_id)


# ----------------------------------------------------------------------------------------------------- awards


@router.post(
    "/communities/{community_id}/awards",
    response={201: AwardOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Award a resident points for a contribution",
)
def points_award(request, community_id: int, payload: AwardIn):
    """Out of the community's award budget, with a reason the resident sees on their passbook."""
    user = request.auth
    community = core_selectors.access_region_where(user, Perm.AWARD_POINTS, community_id)
    resident = core_selectors.access_resident(user, payload.resident_id)
    posted = services.points_award(
        community=community,
        resident=resident,
        amount=payload.amount,
        reason=payload.reason,
        awarded_by=user,
        idempotency_key=f"award:{payload.request_token}",
    )
    return Status(
        201,
        {
            "id": posted.pk,
            "resident_id": resident.pk,
            "amount": payload.amount,
            "reason": posted.memo,
            "created_at": posted.created_at,
            "balance": services.points_account_for(resident=resident).balance,
        },
    )
