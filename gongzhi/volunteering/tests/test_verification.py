"""Verifying hours: what the record proposes, the organiser's decision, and the points paid for it out of the
community's award budget in the same transaction."""

import datetime
from decimal import Decimal

import pytest

from gongzhi.core.exceptions import ServiceError
from gongzhi.volunteering import services
from gongzhi.volunteering.models import (
    AccountKind,
    LedgerTransaction,
    SignUp,
    SignUpStatus,
    Verification,
    VolunteerProfile,
)
from gongzhi.volunteering.selectors import ledger_drift

pytestmark = pytest.mark.usefixtures("english_messages")

MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)


def attended(people, activity, resident, *, arrived=None, left=None) -> SignUp:
    """Signs the resident up the day before and ticks them in (and out) by hand."""
    signup = services.signup_create(
        activity=activity, resident=resident, now=activity.starts_at - datetime.timedelta(days=1)
    )
    arrived = arrived or activity.starts_at
    signup = services.attendance_mark(
        signup=signup, by=people.community_worker, action="check_in", now=arrived
    )
    if left is not None:
        signup = services.attendance_mark(
            signup=signup, by=people.community_worker, action="check_out", now=left
        )
    return signup


def verify(people, signup, decision, **fields) -> SignUp:
    fields.setdefault("now", signup.activity.ends_at + HOUR)
    return services.hours_verify(signup=signup, by=people.community_worker, decision=decision, **fields)


def balance(resident) -> int:
    return services.points_account_for(resident=resident).balance


def budget_balance(people) -> int:
    return services.community_account(community=people.community, kind=AccountKind.AWARD_BUDGET).balance


def assert_no_drift():
    drift = ledger_drift()
    assert not drift, drift


# hours_proposed -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arrived, left, proposed",
    [
        (None, None, "0"),
        (-30, 112, "1.75"),  # early arrivals count from the start; 1h52 rounds down to 1¾
        (0, 60, "1"),
        (5, 59, "0.75"),
        (0, None, "2"),  # never checked out: the planned end
        (10, 300, "1.75"),  # stayed on after the end: counted to the end
        (130, None, "0"),  # arrived after the end
        (0, 14, "0"),
    ],
    ids=[
        "absent",
        "early",
        "one-hour",
        "rounded-down",
        "no-check-out",
        "stayed-on",
        "after-end",
        "too-short",
    ],
)
def test_it_proposes_the_time_within_the_activity_rounded_down_to_a_quarter(
    activity, arrived, left, proposed
):
    signup = SignUp(
        activity=activity,
        checked_in_at=None if arrived is None else activity.starts_at + arrived * MINUTE,
        checked_out_at=None if left is None else activity.starts_at + left * MINUTE,
    )
    assert services.hours_proposed(signup, activity) == Decimal(proposed)


def test_it_proposes_at_most_twenty_four_hours(people, make_activity):
    three_days = make_activity()
    three_days.ends_at = three_days.starts_at + datetime.timedelta(days=3)
    signup = SignUp(activity=three_days, checked_in_at=three_days.starts_at)
    assert services.hours_proposed(signup, three_days) == Decimal(24)


# points_for ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule, points, hours, paid",
    [
        ("per_hour", 10, "1.75", 18),  # 17.5 rounds half up
        ("per_hour", 10, "1.74", 17),
        ("per_hour", 3, "1.25", 4),  # 3.75
        ("per_hour", 2, "0.25", 1),  # 0.5
        ("per_hour", 1, "0.25", 0),  # 0.25
        ("per_hour", 10, "0", 0),
        ("per_hour", 0, "2", 0),
        ("fixed", 30, "0.25", 30),
        ("fixed", 30, "8", 30),
        ("fixed", 30, "0", 0),
    ],
)
def test_it_pays_points_per_hour_rounded_or_a_fixed_number(activity, rule, points, hours, paid):
    activity.points_rule, activity.points = rule, points
    assert services.points_for(activity, Decimal(hours)) == paid


# hours_verify -------------------------------------------------------------------------------------------


def test_approving_records_the_proposed_hours_and_pays_the_points(people, activity):
    signup = attended(
        people,
        activity,
        people.resident_record,
        arrived=activity.starts_at - 30 * MINUTE,
        left=activity.starts_at + 112 * MINUTE,
    )
    verified = verify(people, signup, "approve")

    assert (verified.verification, verified.hours, verified.verification_reason) == (
        Verification.APPROVED,
        Decimal("1.75"),
        "",
    )
    assert (verified.verified_by, verified.verified_at) == (people.community_worker, activity.ends_at + HOUR)
    assert (balance(people.resident_record), budget_balance(people)) == (18, 82)
    posted = verified.points_transaction
    assert posted.memo == "清理楼道" and posted.created_by == people.community_worker
    assert VolunteerProfile.objects.get(pk=signup.volunteer_id).hours == Decimal("1.75")
    assert_no_drift()


def test_adjusting_needs_a_reason_and_hours_within_bounds(people, activity):
    signup = attended(people, activity, people.resident_record)
    with pytest.raises(ServiceError, match="This field is required.") as refused:
        verify(people, signup, "adjust", hours=Decimal("1.5"))
    assert refused.value.field == "reason"
    for hours, message in (
        (None, "Enter the hours as a number."),
        ("一小时", "Enter the hours as a number."),
        (0, "Hours must be more than 0 and at most 24."),
        (-1, "Hours must be more than 0 and at most 24."),
        ("24.01", "Hours must be more than 0 and at most 24."),
    ):
        with pytest.raises(ServiceError, match=message) as refused:
            verify(people, signup, "adjust", hours=hours, reason="提前离开")
        assert refused.value.field == "hours"
    signup.refresh_from_db()
    assert (signup.verification, signup.hours) == (Verification.PENDING, None)
    assert not LedgerTransaction.objects.filter(entries__account__kind=AccountKind.RESIDENT).exists()

    adjusted = verify(people, signup, "adjust", hours="1.5", reason="提前离开")
    assert (adjusted.verification, adjusted.hours, adjusted.verification_reason) == (
        Verification.ADJUSTED,
        Decimal("1.5"),
        "提前离开",
    )
    assert balance(people.resident_record) == 15
    assert_no_drift()


def test_rejecting_needs_a_reason_and_pays_nothing(people, activity):
    signup = attended(people, activity, people.resident_record, left=activity.ends_at)
    with pytest.raises(ServiceError, match="This field is required."):
        verify(people, signup, "reject", reason="")
    rejected = verify(people, signup, "reject", reason="代签")
    assert (rejected.verification, rejected.hours, rejected.points_transaction) == (
        Verification.REJECTED,
        0,
        None,
    )
    assert balance(people.resident_record) == 0
    assert budget_balance(people) == 100
    assert VolunteerProfile.objects.get(pk=signup.volunteer_id).hours == 0
    assert_no_drift()


def test_someone_who_never_checked_in_can_only_be_rejected(people, activity):
    signup = services.signup_create(
        activity=activity,
        resident=people.resident_record,
        now=activity.starts_at - datetime.timedelta(days=1),
    )
    for decision, fields in (("approve", {}), ("adjust", {"hours": 2, "reason": "补录"})):
        with pytest.raises(ServiceError, match="张居民 never checked in; check them in first or reject."):
            verify(people, signup, decision, **fields)
    assert verify(people, signup, "reject", reason="未到").verification == Verification.REJECTED


def test_it_refuses_an_unknown_decision(people, activity):
    signup = attended(people, activity, people.resident_record)
    with pytest.raises(ServiceError):
        verify(people, signup, "maybe", hours=1, reason="?")
    signup.refresh_from_db()
    assert signup.verification == Verification.PENDING


def test_verifying_twice_is_refused_and_changes_nothing(people, activity):
    signup = attended(people, activity, people.resident_record, left=activity.ends_at)
    verify(people, signup, "approve")
    for decision, fields in (
        ("approve", {}),
        ("adjust", {"hours": 1, "reason": "改"}),
        ("reject", {"reason": "改"}),
    ):
        with pytest.raises(ServiceError, match="These hours have already been verified."):
            verify(people, signup, decision, **fields)
    signup.refresh_from_db()
    assert (signup.verification, signup.hours) == (Verification.APPROVED, Decimal(2))
    assert balance(people.resident_record) == 20
    assert VolunteerProfile.objects.get(pk=signup.volunteer_id).hours == Decimal(2)
    assert_no_drift()


def test_it_verifies_only_once_the_activity_has_started_and_only_by_organisers(people, activity):
    signup = services.signup_create(
        activity=activity,
        resident=people.resident_record,
        now=activity.starts_at - datetime.timedelta(days=1),
    )
    with pytest.raises(ServiceError, match="Hours are verified once the activity has started."):
        verify(people, signup, "reject", reason="未到", now=activity.starts_at - MINUTE)
    for someone in (people.resident, people.street_officer, people.outsider, people.provider_staff):
        with pytest.raises(ServiceError, match="Only the activity's organisers can do that."):
            services.hours_verify(
                signup=signup, by=someone, decision="reject", reason="未到", now=activity.ends_at
            )
    signup.refresh_from_db()
    assert signup.verification == Verification.PENDING


def test_a_fixed_rule_pays_the_same_points_for_any_hours(people, make_activity):
    fixed = make_activity(points_rule="fixed", points=30)
    signup = attended(people, fixed, people.resident_record, left=fixed.starts_at + 20 * MINUTE)
    verified = verify(people, signup, "approve")
    assert (verified.hours, balance(people.resident_record)) == (Decimal("0.25"), 30)
    assert_no_drift()


def test_it_pays_nothing_and_records_hours_when_the_activity_gives_no_points(people, make_activity):
    unpaid = make_activity(points=0)
    signup = attended(people, unpaid, people.resident_record, left=unpaid.ends_at)
    verified = verify(people, signup, "approve")
    assert (verified.hours, verified.points_transaction) == (Decimal(2), None)
    assert VolunteerProfile.objects.get(pk=signup.volunteer_id).hours == Decimal(2)
    assert balance(people.resident_record) == 0


def test_a_budget_too_small_refuses_the_verification_and_changes_nothing(people, make_activity):
    costly = make_activity(points=60)  # two hours: 120 points, the budget holds 100
    signup = attended(people, costly, people.resident_record, left=costly.ends_at)
    before = LedgerTransaction.objects.count()
    with pytest.raises(ServiceError, match="The community's award budget is not enough."):
        verify(people, signup, "approve")

    signup.refresh_from_db()
    assert (signup.verification, signup.hours, signup.verified_at, signup.points_transaction) == (
        Verification.PENDING,
        None,
        None,
        None,
    )
    assert VolunteerProfile.objects.get(pk=signup.volunteer_id).hours == 0
    assert (LedgerTransaction.objects.count(), balance(people.resident_record), budget_balance(people)) == (
        before,
        0,
        100,
    )
    assert_no_drift()
    # Once the budget is topped up, the same verification goes through.
    services.budget_fund(
        community=people.community, amount=50, by=people.community_secretary, idempotency_key="more"
    )
    assert verify(people, signup, "approve").hours == Decimal(2)
    assert (balance(people.resident_record), budget_balance(people)) == (120, 30)
    assert_no_drift()


def test_the_profile_caches_the_sum_of_verified_hours(people, activity, make_activity):
    second = make_activity(points=1)
    for paid, left in ((activity, activity.starts_at + 105 * MINUTE), (second, second.ends_at)):
        verify(people, attended(people, paid, people.resident_record, left=left), "approve")
    third = make_activity(points=1)
    verify(
        people,
        attended(people, third, people.resident_record, left=third.ends_at),
        "adjust",
        hours="0.5",
        reason="迟到",
    )
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    assert volunteer.hours == Decimal("1.75") + Decimal(2) + Decimal("0.5")
    assert volunteer.hours == sum(SignUp.objects.filter(volunteer=volunteer).values_list("hours", flat=True))
    assert balance(people.resident_record) == 18 + 2 + 1
    assert_no_drift()


def test_each_volunteer_is_paid_once_per_activity(people, activity):
    first = attended(people, activity, people.resident_record, left=activity.ends_at)
    second = attended(people, activity, people.neighbour_record, left=activity.ends_at)
    verify(people, first, "approve")
    verify(people, second, "approve")
    keys = set(
        LedgerTransaction.objects.filter(idempotency_key__startswith="activity:").values_list(
            "idempotency_key", flat=True
        )
    )
    assert len(keys) == 2
    assert (balance(people.resident_record), balance(people.neighbour_record), budget_balance(people)) == (
        20,
        20,
        60,
    )
    assert_no_drift()


def test_it_refuses_to_pay_for_a_cancelled_activity(people, activity):
    signup = attended(people, activity, people.resident_record)
    services.activity_cancel(
        activity=activity, by=people.community_worker, reason="暴雨", now=activity.starts_at
    )
    with pytest.raises(ServiceError):
        verify(people, signup, "approve")
    assert balance(people.resident_record) == 0


def test_a_no_show_can_be_rejected_for_the_record(people, activity):
    signup = services.signup_create(
        activity=activity,
        resident=people.resident_record,
        now=activity.starts_at - datetime.timedelta(days=1),
    )
    services.attendance_mark(
        signup=signup, by=people.community_worker, action="no_show", now=activity.starts_at
    )
    rejected = verify(people, signup, "reject", reason="未到")
    assert (rejected.status, rejected.verification) == (SignUpStatus.NO_SHOW, Verification.REJECTED)
