"""The points supermarket (积分超市): spending points moves the balance and the stock together, once per
request; a reservation is cancelled (points and stock restored) or handed over with its code."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone

from gongzhi.core.exceptions import ServiceError
from gongzhi.volunteering import services
from gongzhi.volunteering.models import (
    AccountKind,
    Item,
    LedgerTransaction,
    Outlet,
    Redemption,
    RedemptionStatus,
)
from gongzhi.volunteering.selectors import ledger_drift, passbook

pytestmark = pytest.mark.usefixtures("english_messages")

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def balance(resident) -> int:
    return services.points_account_for(resident=resident).balance


def redeemed_balance(people) -> int:
    return services.community_account(community=people.community, kind=AccountKind.REDEEMED).balance


def stock(item) -> int:
    return Item.objects.get(pk=item.pk).stock


def assert_no_drift():
    drift = ledger_drift()
    assert not drift, drift


def buy(people, item, token="form-1", quantity=1, resident=None, **fields):
    return services.redemption_create(
        item=item,
        resident=resident or people.resident_record,
        request_token=token,
        quantity=quantity,
        **fields,
    )


@pytest.fixture
def shopper(people, give_points):
    """张居民 with 20 points."""
    give_points(people.resident_record, 20)
    return people.resident_record


@pytest.fixture
def shop(people):
    """A shop in 清波社区 run by the work unit 蜀都银行, whose staff hand items over there."""
    return services.outlet_save(
        outlet=Outlet(
            community=people.community,
            name="银行便民点",
            kind=Outlet.Kind.SHOP,
            organisation=people.work_unit,
        ),
        by=people.community_worker,
    )


# redemption_create --------------------------------------------------------------------------------------


def test_spending_moves_the_points_and_the_stock_together(people, shopper, vegetables):
    redemption = buy(people, vegetables, quantity=2)
    assert (redemption.status, redemption.points, redemption.quantity) == (RedemptionStatus.RESERVED, 10, 2)
    assert len(redemption.code) == 10 and redemption.code.isalnum() and redemption.code.isupper()
    assert (balance(shopper), stock(vegetables), redeemed_balance(people)) == (10, 8, 10)
    assert redemption.points_transaction.memo == "青菜 ×2"
    assert_no_drift()


def test_a_doubled_request_redeems_once(people, shopper, vegetables):
    first = buy(people, vegetables, token="form-1")
    again = buy(people, vegetables, token="form-1")
    assert again.pk == first.pk
    assert (Redemption.objects.count(), balance(shopper), stock(vegetables)) == (1, 15, 9)
    # Another request is another redemption.
    buy(people, vegetables, token="form-2")
    assert (Redemption.objects.count(), balance(shopper), stock(vegetables)) == (2, 10, 8)
    assert_no_drift()


def test_two_residents_may_use_the_same_token(people, shopper, give_points, vegetables):
    give_points(people.neighbour_record, 5)
    mine = buy(people, vegetables, token="form-1")
    hers = buy(people, vegetables, token="form-1", resident=people.neighbour_record)
    assert mine.pk != hers.pk
    assert (balance(shopper), balance(people.neighbour_record), stock(vegetables)) == (15, 0, 8)
    assert_no_drift()


@pytest.mark.parametrize("token", ["", "x" * 65])
def test_it_refuses_a_request_without_a_valid_token(people, shopper, vegetables, token):
    with pytest.raises(ServiceError, match="This request has no valid token"):
        buy(people, vegetables, token=token)
    assert not Redemption.objects.exists()


@pytest.mark.parametrize("quantity", [0, -1, 100, True, 1.5])
def test_it_refuses_a_bad_quantity(people, shopper, vegetables, quantity):
    with pytest.raises(ServiceError, match="Choose a quantity from 1 to 99.") as refused:
        buy(people, vegetables, quantity=quantity)
    assert refused.value.field == "quantity"
    assert (Redemption.objects.count(), stock(vegetables), balance(shopper)) == (0, 10, 20)


def test_it_says_sold_out_or_how_many_are_left_and_changes_nothing(people, shopper, vegetables):
    Item.objects.filter(pk=vegetables.pk).update(stock=2)
    with pytest.raises(ServiceError, match="Only 2 left.") as refused:
        buy(people, vegetables, quantity=3)
    assert refused.value.field == "quantity"
    buy(people, vegetables, token="form-2", quantity=2)
    with pytest.raises(ServiceError, match="Sold out."):
        buy(people, vegetables, token="form-3")
    assert (Redemption.objects.count(), stock(vegetables), balance(shopper)) == (1, 0, 10)
    assert_no_drift()


def test_not_enough_points_changes_nothing(people, give_points, vegetables):
    give_points(people.resident_record, 4)
    transactions = LedgerTransaction.objects.count()
    with pytest.raises(ServiceError, match="Not enough points."):
        buy(people, vegetables)
    assert (Redemption.objects.count(), stock(vegetables), balance(people.resident_record)) == (0, 10, 4)
    assert LedgerTransaction.objects.count() == transactions
    assert redeemed_balance(people) == 0
    assert_no_drift()


def test_it_refuses_an_item_or_outlet_not_on_sale(people, shopper, office, vegetables):
    Item.objects.filter(pk=vegetables.pk).update(is_active=False)
    with pytest.raises(ServiceError, match="This item is not on sale."):
        buy(people, vegetables, token="form-1")
    Item.objects.filter(pk=vegetables.pk).update(is_active=True)
    Outlet.objects.filter(pk=office.pk).update(is_active=False)
    with pytest.raises(ServiceError, match="This item is not on sale."):
        buy(people, vegetables, token="form-2")
    assert (Redemption.objects.count(), stock(vegetables), balance(shopper)) == (0, 10, 20)


def test_points_are_spent_in_ones_own_community(people, vegetables):
    with pytest.raises(ServiceError, match="Points are spent in your own community's outlets."):
        buy(people, vegetables, resident=people.other_resident_record)
    assert (Redemption.objects.count(), stock(vegetables)) == (0, 10)


# Limits per person --------------------------------------------------------------------------------------


def local(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


# 11 June 2025 is a Wednesday.
@pytest.mark.parametrize(
    "period, first, same_period, next_period",
    [
        ("day", local(2025, 6, 11, 0, 0), local(2025, 6, 11, 23, 59), local(2025, 6, 12, 0, 0)),
        ("week", local(2025, 6, 9, 0, 0), local(2025, 6, 15, 23, 59), local(2025, 6, 16, 0, 0)),
        ("month", local(2025, 6, 1, 0, 0), local(2025, 6, 30, 23, 59), local(2025, 7, 1, 0, 0)),
        ("year", local(2025, 1, 1, 0, 0), local(2025, 12, 31, 23, 59), local(2026, 1, 1, 0, 0)),
    ],
)
def test_it_keeps_to_the_limit_per_person_in_each_period(
    people, shopper, vegetables, period, first, same_period, next_period
):
    Item.objects.filter(pk=vegetables.pk).update(limit_per_person=1, limit_period=period)
    buy(people, vegetables, token="first", now=first)
    with pytest.raises(ServiceError, match=r"The limit is 1 per \w+; you have 1 already.") as refused:
        buy(people, vegetables, token="same", now=same_period)
    assert refused.value.field == "quantity"
    assert buy(people, vegetables, token="next", now=next_period).status == RedemptionStatus.RESERVED
    assert (Redemption.objects.count(), balance(shopper), stock(vegetables)) == (2, 10, 8)
    assert_no_drift()


def test_the_limit_counts_quantities_and_not_cancelled_redemptions(people, shopper, give_points, vegetables):
    give_points(shopper, 20)
    Item.objects.filter(pk=vegetables.pk).update(limit_per_person=3, limit_period="month")
    now = local(2025, 6, 11, 10, 0)
    two = buy(people, vegetables, token="a", quantity=2, now=now)
    with pytest.raises(ServiceError, match="The limit is 3 per month; you have 2 already."):
        buy(people, vegetables, token="b", quantity=2, now=now)
    buy(people, vegetables, token="c", quantity=1, now=now)
    services.redemption_cancel(redemption=two, by=people.resident)
    assert buy(people, vegetables, token="d", quantity=2, now=now).quantity == 2
    # Other residents have limits of their own.
    give_points(people.neighbour_record, 15)
    assert (
        buy(people, vegetables, token="e", quantity=3, resident=people.neighbour_record, now=now).quantity
        == 3
    )
    assert_no_drift()


# redemption_cancel --------------------------------------------------------------------------------------


def test_cancelling_gives_the_points_back_and_restores_the_stock(people, shopper, vegetables):
    redemption = buy(people, vegetables, quantity=2)
    cancelled = services.redemption_cancel(redemption=redemption, by=people.resident)
    assert (cancelled.status, cancelled.cancelled_by) == (RedemptionStatus.CANCELLED, people.resident)
    assert cancelled.cancelled_at is not None
    assert (balance(shopper), stock(vegetables), redeemed_balance(people)) == (20, 10, 0)
    reversal = LedgerTransaction.objects.get(reverses=redemption.points_transaction)
    assert reversal.memo == redemption.points_transaction.memo
    assert_no_drift()

    with pytest.raises(ServiceError, match="This redemption was cancelled."):
        services.redemption_cancel(redemption=redemption, by=people.resident)
    assert (
        balance(shopper),
        stock(vegetables),
        LedgerTransaction.objects.filter(reverses__isnull=False).count(),
    ) == (
        20,
        10,
        1,
    )
    assert_no_drift()


def test_the_outlets_staff_may_cancel_too(people, shopper, shop):
    eggs = services.item_save(
        item=Item(outlet=shop, name="鸡蛋", price=4, stock=5), by=people.work_unit_staff
    )
    for staff in (people.work_unit_staff, people.community_worker):
        redemption = buy(people, eggs, token=f"form-{staff.pk}")
        assert (
            services.redemption_cancel(redemption=redemption, by=staff).status == RedemptionStatus.CANCELLED
        )
    assert (balance(shopper), stock(eggs)) == (20, 5)
    assert_no_drift()


@pytest.mark.parametrize(
    "who", ["outsider", "provider_staff", "street_officer", "building_leader", "work_unit_staff"]
)
def test_other_people_cannot_cancel(people, shopper, vegetables, who):
    redemption = buy(people, vegetables)
    with pytest.raises(ServiceError, match="Only the resident or the outlet's staff can cancel this."):
        services.redemption_cancel(redemption=redemption, by=getattr(people, who))
    assert (Redemption.objects.get().status, balance(shopper), stock(vegetables)) == (
        RedemptionStatus.RESERVED,
        15,
        9,
    )
    assert_no_drift()


def test_it_refuses_to_cancel_after_hand_over(people, shopper, vegetables):
    redemption = buy(people, vegetables)
    handed = local(2025, 6, 11, 10, 30)
    services.redemption_hand_over(code=redemption.code, by=people.community_worker, now=handed)
    with pytest.raises(
        ServiceError, match="This code was already used: the item was collected on 2025-06-11 10:30."
    ):
        services.redemption_cancel(redemption=redemption, by=people.resident)
    assert (balance(shopper), stock(vegetables)) == (15, 9)
    assert_no_drift()


# redemption_hand_over -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "{code}",
        "{lower}",
        " {dashed} ",
        "https://gongzhi.example.cn/volunteering/r/{code}/",
        "https://x.cn/r?code={code}",
    ],
    ids=["code", "lower-case", "dashed", "link", "query"],
)
def test_outlet_staff_hand_the_item_over_with_the_code(people, shopper, vegetables, typed):
    redemption = buy(people, vegetables)
    code = redemption.code
    scanned = typed.format(code=code, lower=code.lower(), dashed=f"{code[:5]}-{code[5:]}")
    assert services.redemption_code_normalise(scanned) == code
    now = timezone.now()
    handed = services.redemption_hand_over(code=scanned, by=people.community_worker, now=now)
    assert (handed.pk, handed.status, handed.handed_over_at, handed.handed_over_by) == (
        redemption.pk,
        RedemptionStatus.HANDED_OVER,
        now,
        people.community_worker,
    )


def test_a_used_code_says_when_it_was_used(people, shopper, vegetables):
    redemption = buy(people, vegetables)
    services.redemption_hand_over(
        code=redemption.code, by=people.community_worker, now=local(2025, 6, 11, 9, 5)
    )
    with pytest.raises(
        ServiceError, match="This code was already used: the item was collected on 2025-06-11 09:05."
    ):
        services.redemption_hand_over(code=redemption.code, by=people.community_secretary)
    assert Redemption.objects.get().handed_over_by == people.community_worker


def test_a_cancelled_code_is_refused(people, shopper, vegetables):
    redemption = buy(people, vegetables)
    services.redemption_cancel(redemption=redemption, by=people.resident)
    with pytest.raises(ServiceError, match="This redemption was cancelled."):
        services.redemption_hand_over(code=redemption.code, by=people.community_worker)


@pytest.mark.parametrize(
    "who", ["outsider", "provider_staff", "work_unit_staff", "resident", "street_officer"]
)
def test_a_forged_code_and_another_outlets_code_are_refused_alike(people, shopper, vegetables, who):
    redemption = buy(people, vegetables)
    for code, by in (("ABCDEFGHJK", people.community_worker), (redemption.code, getattr(people, who))):
        with pytest.raises(ServiceError) as refused:
            services.redemption_hand_over(code=code, by=by)
        assert (refused.value.message, refused.value.field) == (
            "No such redemption code at your outlets.",
            "code",
        )
    assert Redemption.objects.get().status == RedemptionStatus.RESERVED


def test_staff_of_the_organisation_running_an_outlet_hand_over_there(people, shopper, shop):
    eggs = services.item_save(
        item=Item(outlet=shop, name="鸡蛋", price=4, stock=5), by=people.work_unit_staff
    )
    redemption = buy(people, eggs)
    assert (
        services.redemption_hand_over(code=redemption.code, by=people.work_unit_staff).status == "handed_over"
    )


# The ledger's idempotency keys --------------------------------------------------------------------------


def test_a_reused_key_with_different_entries_is_refused(people, shopper, vegetables):
    account = services.points_account_for(resident=shopper)
    redeemed = services.community_account(community=people.community, kind=AccountKind.REDEEMED)
    first = services.ledger_post(
        idempotency_key="same", memo="一把青菜", entries=[(account, -5), (redeemed, 5)]
    )
    assert (
        services.ledger_post(idempotency_key="same", memo="一把青菜", entries=[(account, -5), (redeemed, 5)])
        == first
    )
    for entries in ([(account, -6), (redeemed, 6)], [(redeemed, -5), (account, 5)]):
        with pytest.raises(
            ServiceError, match="This idempotency key was already used for a different transaction."
        ):
            services.ledger_post(idempotency_key="same", memo="一把青菜", entries=entries)
    assert balance(shopper) == 15
    assert LedgerTransaction.objects.filter(idempotency_key="same").count() == 1
    assert_no_drift()


def test_a_redemption_and_its_cancellation_show_in_the_passbook(people, shopper, vegetables):
    redemption = buy(people, vegetables)
    services.redemption_cancel(redemption=redemption, by=people.resident)
    rows = [(row.memo, row.amount, row.is_reversal, row.balance_after) for row in passbook(shopper)]
    assert rows == [("青菜", 5, True, 20), ("青菜", -5, False, 15), ("Helped a neighbour", 20, False, 20)]
