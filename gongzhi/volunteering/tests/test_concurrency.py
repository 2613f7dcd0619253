"""The ledger under real parallel transactions on PostgreSQL: each thread has its own connection and its own
transaction, released together by a barrier. The row locks let exactly the affordable spends through, and the
unique idempotency key lets a doubled request post once."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import translation

from gongzhi.core.exceptions import ServiceError
from gongzhi.volunteering import services
from gongzhi.volunteering.models import AccountKind, LedgerEntry, LedgerTransaction, PointsAccount
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
