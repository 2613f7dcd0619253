"""Points expiry: in a community whose points expire after N years, each passbook loses the points earned
before the cut-off that have not been spent since, oldest first. Hours never expire."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import F

from gongzhi.volunteering import services
from gongzhi.volunteering.models import AccountKind, LedgerEntry, LedgerTransaction, PointsAccount
from gongzhi.volunteering.selectors import ledger_drift, passbook

pytestmark = pytest.mark.usefixtures("english_messages")

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


NOW = local(2025, 6, 11, 2, 0)  # the nightly run; with a two-year expiry the cut-off is 2023-06-11 02:00


def post_at(when, key, memo, entries, reverses=None) -> LedgerTransaction:
    """Writes a balanced transaction dated `when`, as the ledger did then: the ledger only appends, so a past
    posting is inserted with its date, and the cached balances move with it."""
    with transaction.atomic():
        posted = LedgerTransaction.objects.create(
            idempotency_key=key, memo=memo, created_at=when, reverses=reverses
        )
        LedgerEntry.objects.bulk_create(
            LedgerEntry(transaction=posted, account=account, amount=amount, created_at=when)
            for account, amount in entries
        )
        for account, amount in entries:
            PointsAccount.objects.filter(pk=account.pk).update(balance=F("balance") + amount)
    return posted


@pytest.fixture
def ledger(people, funded):
    """Earn and spend on given dates: `ledger.earn(resident, 10, when)`, `ledger.spend(resident, 6, when)`."""
    budget, _issued, redeemed = funded
    keys = iter(range(1, 10_000))

    class Ledger:
        @staticmethod
        def earn(resident, amount, when, community=None):
            source = budget
            if community is not None:
                source = services.community_account(community=community, kind=AccountKind.AWARD_BUDGET)
            account = services.points_account_for(resident=resident)
            return post_at(
                when, f"earn-{next(keys)}", "Planted vegetables", [(source, -amount), (account, amount)]
            )

        @staticmethod
        def spend(resident, amount, when):
            account = services.points_account_for(resident=resident)
            return post_at(when, f"spend-{next(keys)}", "青菜", [(account, -amount), (redeemed, amount)])

        @staticmethod
        def reverse(posted, when):
            entries = [(entry.account, -entry.amount) for entry in posted.entries.select_related("account")]
            return post_at(when, f"undo-{next(keys)}", posted.memo, entries, reverses=posted)

    return Ledger


@pytest.fixture
def two_years(people):
    return services.settings_update(
        community=people.community,
        by=people.community_secretary,
        points_expire_after_years=2,
        person_in_charge="",
        handler_name="",
        handler_contact="",
    )


def balance(resident) -> int:
    return services.points_account_for(resident=resident).balance


def issued_balance(people) -> int:
    return services.community_account(community=people.community, kind=AccountKind.ISSUED).balance


def assert_no_drift():
    drift = ledger_drift()
    assert not drift, drift


def test_spending_uses_the_oldest_points_and_the_rest_of_them_expire(people, ledger, two_years):
    resident = people.resident_record
    ledger.earn(resident, 10, local(2022, 3, 1, 10, 0))
    ledger.earn(resident, 5, local(2024, 6, 1, 10, 0))
    ledger.spend(resident, 6, local(2025, 5, 1, 10, 0))
    issued_before = issued_balance(people)

    assert services.points_expire(now=NOW) == 4

    assert balance(resident) == 5
    assert issued_balance(people) == issued_before + 4
    newest = passbook(resident).first()
    assert (newest.memo, newest.amount, newest.balance_after) == ("Points expired", -4, 5)
    assert_no_drift()


def test_expiry_runs_once_a_day_however_often_it_is_run(people, ledger, two_years):
    ledger.earn(people.resident_record, 10, local(2022, 3, 1, 10, 0))
    assert services.points_expire(now=NOW) == 10
    assert services.points_expire(now=NOW) == 0
    assert services.points_expire(now=NOW + datetime.timedelta(hours=12)) == 0
    assert services.points_expire(now=NOW + datetime.timedelta(days=1)) == 0
    assert LedgerTransaction.objects.filter(memo="Points expired").count() == 1
    assert balance(people.resident_record) == 0
    assert_no_drift()


def test_points_expire_when_they_reach_the_cut_off(people, ledger, two_years):
    ledger.earn(people.resident_record, 10, local(2023, 6, 11, 2, 30))
    assert services.points_expire(now=NOW) == 0
    assert services.points_expire(now=NOW + datetime.timedelta(days=1)) == 10
    assert balance(people.resident_record) == 0
    assert_no_drift()


@pytest.mark.parametrize(
    "earned_old, earned_new, spent, expired, left",
    [
        (10, 0, 10, 0, 0),  # all spent: nothing to expire, and never below zero
        (10, 20, 25, 0, 5),  # the spending used the old points first
        (10, 20, 4, 6, 20),
        (10, 0, 0, 10, 0),
    ],
    ids=["all-spent", "old-spent-first", "partly-spent", "none-spent"],
)
def test_it_never_expires_more_than_the_unspent_old_points(
    people, ledger, two_years, earned_old, earned_new, spent, expired, left
):
    resident = people.resident_record
    ledger.earn(resident, earned_old, local(2021, 1, 1, 9, 0))
    if earned_new:
        ledger.earn(resident, earned_new, local(2025, 1, 1, 9, 0))
    if spent:
        ledger.spend(resident, spent, local(2025, 3, 1, 9, 0))
    assert services.points_expire(now=NOW) == expired
    assert balance(resident) == left >= 0
    assert_no_drift()


def test_communities_without_expiry_keep_their_points(people, ledger):
    services.budget_fund(community=people.other_community, amount=50, by=people.admin, idempotency_key="jifu")
    ledger.earn(people.other_resident_record, 10, local(2015, 1, 1, 9, 0), community=people.other_community)
    ledger.earn(people.resident_record, 10, local(2015, 1, 1, 9, 0))
    services.settings_for(people.community)  # settings without an expiry
    assert services.points_expire(now=NOW) == 0
    assert (balance(people.resident_record), balance(people.other_resident_record)) == (10, 10)
    assert_no_drift()


def test_only_the_community_with_expiry_loses_points(people, ledger, two_years):
    services.budget_fund(community=people.other_community, amount=50, by=people.admin, idempotency_key="jifu")
    ledger.earn(people.other_resident_record, 10, local(2015, 1, 1, 9, 0), community=people.other_community)
    ledger.earn(people.resident_record, 7, local(2015, 1, 1, 9, 0))
    assert services.points_expire(now=NOW) == 7
    assert (balance(people.resident_record), balance(people.other_resident_record)) == (0, 10)
    assert_no_drift()


def test_hours_never_expire(people, ledger, two_years, activity):
    signup = services.signup_create(
        activity=activity,
        resident=people.resident_record,
        now=activity.starts_at - datetime.timedelta(days=1),
    )
    services.attendance_mark(
        signup=signup, by=people.community_worker, action="check_in", now=activity.starts_at
    )
    services.hours_verify(signup=signup, by=people.community_worker, decision="approve", now=activity.ends_at)
    ledger.earn(people.resident_record, 10, local(2015, 1, 1, 9, 0))
    far_future = activity.ends_at + datetime.timedelta(days=365 * 10)

    # The verified 20 points are young at NOW, so only the old 10 go; ten years on, everything has gone.
    assert services.points_expire(now=NOW) == 10
    assert services.points_expire(now=far_future) == 20
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    volunteer.refresh_from_db()
    assert volunteer.hours == Decimal(2)
    assert balance(people.resident_record) == 0
    assert_no_drift()


def test_it_handles_a_cut_off_on_29_february(people, ledger):
    services.settings_update(
        community=people.community,
        by=people.community_secretary,
        points_expire_after_years=1,
        person_in_charge="",
        handler_name="",
        handler_contact="",
    )
    ledger.earn(people.resident_record, 3, local(2027, 2, 27, 9, 0))
    assert services.points_expire(now=local(2028, 2, 29, 10, 0)) == 3
    assert_no_drift()


def test_a_credit_reaching_the_cut_off_later_the_same_day_does_not_stop_the_run(people, ledger, two_years):
    ledger.earn(people.resident_record, 10, local(2023, 6, 11, 1, 0))
    ledger.earn(people.resident_record, 5, local(2023, 6, 11, 13, 0))
    ledger.earn(people.neighbour_record, 8, local(2023, 6, 11, 13, 0))
    for moment in (NOW, local(2025, 6, 11, 14, 0), local(2025, 6, 12, 2, 0)):
        services.points_expire(now=moment)
    assert (balance(people.resident_record), balance(people.neighbour_record)) == (0, 0)
    assert_no_drift()


@pytest.mark.parametrize("reversed_posting", ["cancelled-redemption", "reversed-award"])
def test_reversed_postings_neither_spend_nor_renew_old_points(people, ledger, two_years, reversed_posting):
    resident = people.resident_record
    ledger.earn(resident, 10, local(2022, 1, 1, 9, 0))
    if reversed_posting == "cancelled-redemption":
        ledger.reverse(ledger.spend(resident, 10, local(2025, 6, 1, 9, 0)), local(2025, 6, 2, 9, 0))
    else:
        ledger.reverse(ledger.earn(resident, 5, local(2025, 6, 1, 9, 0)), local(2025, 6, 2, 9, 0))
    assert balance(resident) == 10
    assert services.points_expire(now=NOW) == 10
    assert balance(resident) == 0
