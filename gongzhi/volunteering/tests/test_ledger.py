import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import translation

from gongzhi.core.exceptions import ServiceError
from gongzhi.volunteering import services
from gongzhi.volunteering.models import AccountKind, LedgerEntry, LedgerTransaction, PointsAccount
from gongzhi.volunteering.selectors import ledger_drift, passbook


def award(people, amount, key, reason="Cleaned the stairwell"):
    return services.points_award(
        community=people.community,
        resident=people.resident_record,
        amount=amount,
        reason=reason,
        awarded_by=people.community_worker,
        idempotency_key=key,
    )


def assert_no_drift():
    drift = ledger_drift()
    assert not drift, drift


def test_it_updates_cached_balances_when_a_balanced_transaction_is_posted(people, funded):
    budget, issued, _redeemed = funded
    posted = award(people, 30, "award-1")
    passbook_account = services.points_account_for(resident=people.resident_record)
    budget.refresh_from_db()
    issued.refresh_from_db()
    assert (passbook_account.balance, budget.balance, issued.balance) == (30, 70, -100)
    assert posted.entries.count() == 2
    assert posted.created_by == people.community_worker
    assert_no_drift()


@pytest.mark.parametrize(
    "amounts", [(5, -4), (5, 0, -5), (5,), (True, -1)], ids=["unbalanced", "zero", "single", "bool"]
)
def test_it_refuses_malformed_entries_and_writes_nothing(people, funded, amounts):
    budget, _issued, redeemed = funded
    accounts = [budget, redeemed, budget]
    before = (LedgerTransaction.objects.count(), LedgerEntry.objects.count())
    with pytest.raises(ServiceError):
        services.ledger_post(
            idempotency_key="bad",
            memo="bad",
            entries=list(zip(accounts, amounts, strict=False)),
        )
    assert (LedgerTransaction.objects.count(), LedgerEntry.objects.count()) == before
    budget.refresh_from_db()
    assert budget.balance == 100


def test_it_posts_once_under_the_same_idempotency_key(people, funded):
    first = award(people, 10, "verify:activity-1:resident-1")
    again = award(people, 10, "verify:activity-1:resident-1")
    assert again.pk == first.pk
    assert services.points_account_for(resident=people.resident_record).balance == 10
    assert LedgerTransaction.objects.filter(idempotency_key="verify:activity-1:resident-1").count() == 1


def test_it_restores_balances_by_reversal_and_reverses_only_once(people, funded):
    budget, _issued, _redeemed = funded
    posted = award(people, 40, "award-1")
    reversal = services.ledger_reverse(
        transaction=posted, idempotency_key="undo-1", memo="Awarded by mistake", created_by=people.admin
    )
    assert reversal.reverses == posted
    assert services.points_account_for(resident=people.resident_record).balance == 0
    budget.refresh_from_db()
    assert budget.balance == 100
    # The same request again returns the same reversal; a second, different reversal is refused.
    assert (
        services.ledger_reverse(transaction=posted, idempotency_key="undo-1", memo="again").pk == reversal.pk
    )
    with translation.override("en"), pytest.raises(ServiceError, match="already been reversed"):
        services.ledger_reverse(transaction=posted, idempotency_key="undo-2", memo="again")
    assert LedgerTransaction.objects.count() == 3
    assert_no_drift()


def test_it_refuses_a_reversal_twice_in_the_database_too(people, funded):
    posted = award(people, 5, "award-1")
    services.ledger_reverse(transaction=posted, idempotency_key="undo-1", memo="undo")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerTransaction.objects.create(idempotency_key="undo-2", memo="undo", reverses=posted)


def test_it_never_lets_a_resident_balance_go_negative(people, funded):
    _budget, _issued, redeemed = funded
    award(people, 3, "award-1")
    account = services.points_account_for(resident=people.resident_record)
    with translation.override("en"), pytest.raises(ServiceError, match="Not enough points."):
        services.ledger_post(
            idempotency_key="spend", memo="Vegetables", entries=[(account, -4), (redeemed, 4)]
        )
    account.refresh_from_db()
    assert account.balance == 3
    assert not LedgerTransaction.objects.filter(idempotency_key="spend").exists()
    # Nor can anything bypass the service: the database refuses a negative balance.
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsAccount.objects.filter(pk=account.pk).update(balance=-1)


def test_it_refuses_an_award_beyond_the_budget(people, funded):
    with translation.override("en"), pytest.raises(ServiceError, match="award budget is not enough"):
        award(people, 101, "award-1")
    assert not LedgerEntry.objects.filter(account__kind=AccountKind.RESIDENT).exists()


def test_it_refuses_an_award_to_a_resident_of_another_community(people, funded):
    with pytest.raises(ServiceError):
        services.points_award(
            community=people.community,
            resident=people.other_resident_record,
            amount=1,
            reason="x",
            awarded_by=people.community_worker,
            idempotency_key="k",
        )


def test_it_refuses_an_award_without_reason_or_with_a_bad_amount(people, funded):
    for amount, reason in ((5, "  "), (0, "ok"), (-5, "ok"), (2.5, "ok")):
        with pytest.raises(ServiceError):
            award(people, amount, f"k{amount}", reason=reason)
    assert LedgerTransaction.objects.count() == 1  # the funding only


@pytest.mark.parametrize("model", [LedgerEntry, LedgerTransaction])
@pytest.mark.parametrize("change", ["update", "delete"])
def test_it_refuses_updates_and_deletes_of_the_ledger_in_the_database(people, funded, model, change):
    award(people, 5, "award-1")
    rows = model.objects.all()
    with pytest.raises(DatabaseError), transaction.atomic():
        if change == "delete":
            rows._raw_delete(rows.db)  # a plain DELETE, past Django's on_delete=PROTECT
        elif model is LedgerEntry:
            rows.update(amount=500)
        else:
            rows.update(memo="rewritten")
    assert model.objects.count() == (4 if model is LedgerEntry else 2)


def test_it_shows_the_passbook_newest_first_with_a_running_balance(people, funded, django_assert_num_queries):
    _budget, _issued, redeemed = funded
    award(people, 20, "award-1", reason="Planted vegetables")
    account = services.points_account_for(resident=people.resident_record)
    services.ledger_post(idempotency_key="spend", memo="Two cabbages", entries=[(account, -8), (redeemed, 8)])
    award(people, 5, "award-2", reason="Helped an elderly neighbour")
    with django_assert_num_queries(1):
        rows = [(row.memo, row.amount, row.balance_after) for row in passbook(people.resident_record)]
    assert rows == [
        ("Helped an elderly neighbour", 5, 17),
        ("Two cabbages", -8, 12),
        ("Planted vegetables", 20, 20),
    ]
    assert passbook(people.neighbour_record).count() == 0


def test_it_orders_the_passbook_by_date_then_id(people, funded):
    budget, _issued, _redeemed = funded
    award(people, 1, "a")
    award(people, 2, "b")
    account = services.points_account_for(resident=people.resident_record)
    # Inserting is allowed: a back-dated, balanced transaction written directly sorts before the others.
    earlier = LedgerEntry.objects.order_by("id").first().created_at - datetime.timedelta(days=1)
    posted = LedgerTransaction.objects.create(idempotency_key="c", memo="c", created_at=earlier)
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(transaction=posted, account=account, amount=4, created_at=earlier),
            LedgerEntry(transaction=posted, account=budget, amount=-4, created_at=earlier),
        ]
    )
    # What ledger_post would have done to the cached balances.
    PointsAccount.objects.filter(pk=account.pk).update(balance=F("balance") + 4)
    PointsAccount.objects.filter(pk=budget.pk).update(balance=F("balance") - 4)
    rows = [(row.amount, row.balance_after) for row in passbook(people.resident_record)]
    assert rows == [(2, 7), (1, 5), (4, 4)]


def test_it_keeps_cached_balances_equal_to_the_sum_of_entries(people, funded):
    _budget, _issued, redeemed = funded
    account = services.points_account_for(resident=people.resident_record)
    neighbour = services.points_account_for(resident=people.neighbour_record)
    for number in range(10):
        award(people, number + 1, f"award-{number}")
    services.ledger_post(idempotency_key="gift", memo="Gift", entries=[(account, -7), (neighbour, 7)])
    services.ledger_post(idempotency_key="spend", memo="Eggs", entries=[(neighbour, -3), (redeemed, 3)])
    with pytest.raises(ServiceError):
        services.ledger_post(idempotency_key="spend-2", memo="Eggs", entries=[(neighbour, -5), (redeemed, 5)])
    account.refresh_from_db()
    neighbour.refresh_from_db()
    assert (account.balance, neighbour.balance) == (48, 4)
    assert_no_drift()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the deferred balance trigger is PostgreSQL's")
def test_it_refuses_an_unbalanced_transaction_at_commit_on_postgresql(people, funded):
    budget, _issued, redeemed = funded
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        posted = LedgerTransaction.objects.create(idempotency_key="raw", memo="bypassing the service")
        LedgerEntry.objects.create(transaction=posted, account=redeemed, amount=5)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_reconcile_finds_a_sound_ledger_sound(people, funded):
    award(people, 10, "award-reconcile")
    out = io.StringIO()
    call_command("points_reconcile", stdout=out)
    assert not ledger_drift()


def test_reconcile_reports_a_cached_balance_that_drifted_and_fails(people, funded):
    award(people, 10, "award-drift")
    account = services.points_account_for(resident=people.resident_record)
    PointsAccount.objects.filter(pk=account.pk).update(balance=11)  # a bug elsewhere, simulated
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("points_reconcile", stdout=out)
    drift = ledger_drift()
    assert [(row["id"], row["balance"], row["entries_total"]) for row in drift.accounts] == [
        (account.pk, 11, 10)
    ]
    assert str(account.pk) in out.getvalue()
