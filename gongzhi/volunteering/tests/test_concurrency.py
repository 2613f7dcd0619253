"""The ledger under real parallel transactions on PostgreSQL: each thread has its own connection and its own
transaction, released together by a barrier. The row locks let exactly the affordable spends through, and the
unique idempotency key lets a doubled request post once."""

import datetime
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import translation

from gongzhi.core.exceptions import ServiceError
from gongzhi.core.services import resident_create
from gongzhi.volunteering import services
from gongzhi.volunteering.models import (
    AccountKind,
    Item,
    LedgerEntry,
    LedgerTransaction,
    Outlet,
    PointsAccount,
    Redemption,
    SignUp,
    SignUpStatus,
)
from gongzhi.volunteering.selectors import ledger_drift

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks (SELECT ... FOR UPDATE) are tested on PostgreSQL"
)

TIMEOUT = 30


def race(count: int, work) -> list[object]:
    """Runs work(index) in `count` threads released at once; returns each one's result or exception."""
    barrier = threading.Barrier(count, timeout=TIMEOUT)
    outcomes: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            with translation.override("en"), transaction.atomic():
                # Touch the database first, so that every transaction has begun before any locks a row.
                PointsAccount.objects.exists()
                barrier.wait()
                outcomes[index] = work(index)
        except Exception as error:
            outcomes[index] = error
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def assert_ledger_consistent():
    assert not PointsAccount.objects.filter(balance__lt=0).exclude(kind=AccountKind.ISSUED).exists()
    drift = ledger_drift()
    assert not drift, drift


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_five_of_ten_spends_through_with_five_points(people):
    services.budget_fund(community=people.community, amount=5, by=people.admin, idempotency_key="fund")
    services.points_award(
        community=people.community,
        resident=people.resident_record,
        amount=5,
        reason="Planted vegetables",
        awarded_by=people.community_worker,
        idempotency_key="award",
    )
    account = services.points_account_for(resident=people.resident_record)
    redeemed = services.community_account(community=people.community, kind=AccountKind.REDEEMED)

    def spend(index: int):
        return services.ledger_post(
            idempotency_key=f"spend-{index}", memo="One cabbage", entries=[(account, -1), (redeemed, 1)]
        )

    outcomes = race(10, spend)
    spent = [outcome for outcome in outcomes if isinstance(outcome, LedgerTransaction)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, ServiceError)]
    assert (len(spent), len(refused)) == (5, 5), outcomes
    assert all(error.message == "Not enough points." for error in refused)
    account.refresh_from_db()
    redeemed.refresh_from_db()
    assert (account.balance, redeemed.balance) == (0, 5)
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_it_posts_once_when_five_requests_share_an_idempotency_key(people):
    services.budget_fund(community=people.community, amount=50, by=people.admin, idempotency_key="fund")
    budget = services.community_account(community=people.community, kind=AccountKind.AWARD_BUDGET)
    account = services.points_account_for(resident=people.resident_record)

    def award(index: int):
        return services.ledger_post(
            idempotency_key="verify:activity-7:resident-1",
            memo="Verified hours",
            entries=[(budget, -10), (account, 10)],
        )

    outcomes = race(5, award)
    assert all(isinstance(outcome, LedgerTransaction) for outcome in outcomes), outcomes
    assert len({outcome.pk for outcome in outcomes}) == 1
    assert LedgerTransaction.objects.filter(idempotency_key="verify:activity-7:resident-1").count() == 1
    assert LedgerEntry.objects.filter(account=account).count() == 1
    account.refresh_from_db()
    assert account.balance == 10
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_it_reverses_once_when_two_reversals_race(people):
    services.budget_fund(community=people.community, amount=5, by=people.admin, idempotency_key="fund")
    posted = services.points_award(
        community=people.community,
        resident=people.resident_record,
        amount=5,
        reason="Planted vegetables",
        awarded_by=people.community_worker,
        idempotency_key="award",
    )

    def reverse(index: int):
        return services.ledger_reverse(transaction=posted, idempotency_key=f"undo-{index}", memo="Mistake")

    outcomes = race(2, reverse)
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["LedgerTransaction", "ServiceError"]
    assert services.points_account_for(resident=people.resident_record).balance == 0
    assert_ledger_consistent()


# The volunteering services under the same races: the points supermarket and sign-up ----------------------


def residents_with_points(people, count: int, points: int) -> list:
    """Registers `count` residents of 清波社区 (as staff do) and awards each `points`."""
    if points:
        services.budget_fund(
            community=people.community, amount=count * points, by=people.admin, idempotency_key="fund-race"
        )
    residents = []
    for number in range(count):
        resident = resident_create(created_by=people.admin, region=people.building, name=f"居民{number}")
        if points:
            services.points_award(
                community=people.community,
                resident=resident,
                amount=points,
                reason="Cleaned the stairwell",
                awarded_by=people.community_worker,
                idempotency_key=f"award-race-{number}",
            )
        residents.append(resident)
    return residents


def shop_item(people, *, price: int, stock: int) -> Item:
    office = services.outlet_save(
        outlet=Outlet(community=people.community, name="社区办公室", kind=Outlet.Kind.OFFICE),
        by=people.community_worker,
    )
    # The redeemed account exists before the race, as it does once a community has redeemed anything.
    services.community_account(community=people.community, kind=AccountKind.REDEEMED)
    return services.item_save(
        item=Item(outlet=office, name="青菜", price=price, stock=stock), by=people.community_worker
    )


@pytest.mark.django_db(transaction=True)
def test_fifty_residents_race_for_the_last_ten_items(people):
    residents = residents_with_points(people, 50, 5)
    item = shop_item(people, price=5, stock=10)

    def redeem(index: int):
        return services.redemption_create(item=item, resident=residents[index], request_token=f"form-{index}")

    outcomes = race(50, redeem)
    redeemed = [outcome for outcome in outcomes if isinstance(outcome, Redemption)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, ServiceError)]
    assert (len(redeemed), len(refused)) == (10, 40), outcomes
    assert {error.message for error in refused} == {"Sold out."}
    item.refresh_from_db()
    assert item.stock == 0
    assert Redemption.objects.count() == 10
    balances = sorted(
        PointsAccount.objects.filter(kind=AccountKind.RESIDENT).values_list("balance", flat=True)
    )
    assert balances == [0] * 10 + [5] * 40
    assert services.community_account(community=people.community, kind=AccountKind.REDEEMED).balance == 50
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_one_resident_firing_twenty_redemptions_gets_what_the_points_pay_for(people):
    (resident,) = residents_with_points(people, 1, 15)
    item = shop_item(people, price=5, stock=100)

    def redeem(index: int):
        return services.redemption_create(item=item, resident=resident, request_token=f"tab-{index}")

    outcomes = race(20, redeem)
    redeemed = [outcome for outcome in outcomes if isinstance(outcome, Redemption)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, ServiceError)]
    assert (len(redeemed), len(refused)) == (3, 17), outcomes
    assert {error.message for error in refused} == {"Not enough points."}
    item.refresh_from_db()
    assert item.stock == 97
    assert services.points_account_for(resident=resident).balance == 0
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_twenty_identical_requests_redeem_once(people):
    (resident,) = residents_with_points(people, 1, 50)
    item = shop_item(people, price=5, stock=10)

    def redeem(index: int):
        return services.redemption_create(item=item, resident=resident, request_token="one-form")

    outcomes = race(20, redeem)
    assert all(isinstance(outcome, Redemption) for outcome in outcomes), outcomes
    assert len({outcome.pk for outcome in outcomes}) == 1
    assert Redemption.objects.count() == 1
    item.refresh_from_db()
    assert item.stock == 9
    assert services.points_account_for(resident=resident).balance == 45
    assert LedgerTransaction.objects.filter(idempotency_key__startswith="redeem:").count() == 1
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_thirty_residents_race_for_twenty_places(people):
    residents = residents_with_points(people, 30, 0)
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(days=3)
    activity = services.activity_open(
        activity=services.activity_create(
            created_by=people.community_worker,
            region=people.community,
            title="社区义诊",
            place="社区活动室",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            capacity=20,
        ),
        by=people.community_worker,
    )

    def sign_up(index: int):
        return services.signup_create(activity=activity, resident=residents[index])

    outcomes = race(30, sign_up)
    assert all(isinstance(outcome, SignUp) for outcome in outcomes), outcomes
    statuses = sorted(SignUp.objects.filter(activity=activity).values_list("status", flat=True))
    assert statuses == [SignUpStatus.CONFIRMED] * 20 + [SignUpStatus.WAITLISTED] * 10


@pytest.mark.django_db(transaction=True)
def test_two_staff_scanning_one_code_hand_the_item_over_once(people):
    (resident,) = residents_with_points(people, 1, 5)
    item = shop_item(people, price=5, stock=1)
    redemption = services.redemption_create(item=item, resident=resident, request_token="form")
    staff = [people.community_worker, people.community_secretary]

    def hand_over(index: int):
        return services.redemption_hand_over(code=redemption.code, by=staff[index])

    outcomes = race(2, hand_over)
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Redemption", "ServiceError"], outcomes
    refused = next(outcome for outcome in outcomes if isinstance(outcome, ServiceError))
    assert refused.message.startswith("This code was already used")


@pytest.mark.django_db(transaction=True)
def test_a_cancellation_racing_a_hand_over_does_one_or_the_other(people):
    rounds = 10  # the deadlock shows in about half of the races; ten make it certain
    services.budget_fund(
        community=people.community, amount=5 * rounds, by=people.admin, idempotency_key="fund"
    )
    services.points_award(
        community=people.community,
        resident=people.resident_record,
        amount=5 * rounds,
        reason="Planted vegetables",
        awarded_by=people.community_worker,
        idempotency_key="award",
    )
    item = shop_item(people, price=5, stock=rounds)
    for number in range(rounds):
        redemption = services.redemption_create(
            item=item, resident=people.resident_record, request_token=f"form-{number}"
        )

        def act(index: int, redemption=redemption):
            if index == 0:
                return services.redemption_hand_over(code=redemption.code, by=people.community_worker)
            return services.redemption_cancel(redemption=redemption, by=people.resident)

        outcomes = race(2, act)
        assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Redemption", "ServiceError"], (
            outcomes
        )

    handed_over = Redemption.objects.filter(status="handed_over").count()
    cancelled = Redemption.objects.filter(status="cancelled").count()
    assert handed_over + cancelled == rounds
    item.refresh_from_db()
    assert item.stock == cancelled
    assert services.points_account_for(resident=people.resident_record).balance == 5 * cancelled
    assert_ledger_consistent()
