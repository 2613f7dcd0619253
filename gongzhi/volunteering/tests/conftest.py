import datetime
import itertools

import pytest
from django.utils import timezone, translation

from gongzhi.core.models import Resident, User
from gongzhi.core.services import resident_create
from gongzhi.volunteering import services
from gongzhi.volunteering.models import AccountKind, Activity, Item, Outlet


@pytest.fixture
def funded(people):
    """清波社区 with 100 points in its award budget; returns (budget, issued, redeemed) accounts."""
    services.budget_fund(
        community=people.community, amount=100, by=people.community_secretary, idempotency_key="fund"
    )
    return tuple(
        services.community_account(community=people.community, kind=kind)
        for kind in (AccountKind.AWARD_BUDGET, AccountKind.ISSUED, AccountKind.REDEEMED)
    )


@pytest.fixture
def activity(people, funded):
    """An open activity in 清波社区 tomorrow 9:00–11:00, 2 places, 10 points per verified hour."""

    start = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0) + datetime.timedelta(
        days=1
    )
    made = services.activity_create(
        created_by=people.community_worker,
        region=people.community,
        title="清理楼道",
        place="清波院落",
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=2),
        cancel_deadline=start - datetime.timedelta(hours=12),
        capacity=2,
        points=10,
    )
    return services.activity_open(activity=made, by=people.community_worker)


@pytest.fixture
def english_messages():
    """Service messages matched in English (the msgids): `pytestmark = pytest.mark.usefixtures(...)`."""
    with translation.override("en"):
        yield


@pytest.fixture
def make_resident(people):
    """Registers another resident of 清波社区 (1栋 unless told) the way staff do: no ID number, so no date of
    birth unless given, and no account unless asked for."""
    numbers = itertools.count(1)

    def make(
        name: str = "", *, region=None, birth_date: datetime.date | None = None, account: bool = False
    ) -> Resident:
        number = next(numbers)
        resident = resident_create(
            created_by=people.admin, region=region or people.building, name=name or f"志愿者{number}"
        )
        changes = {}
        if birth_date is not None:
            changes["birth_date"] = birth_date
        if account:
            changes["user"] = User.objects.create_user(f"1360000{number:04d}", None, name=resident.name)
        if changes:
            Resident.objects.filter(pk=resident.pk).update(**changes)
            resident.refresh_from_db()
        return resident

    return make


@pytest.fixture
def make_activity(people, funded):
    """An activity to order, like `activity` but three days ahead with a cancellation deadline a day before
    the start: `make_activity(capacity=20)`, `make_activity(opened=False, risk_level="medium")`."""

    def make(*, by=None, region=None, organisation=None, opened: bool = True, **fields) -> Activity:
        by = by or people.community_worker
        start = fields.pop("starts_at", None) or timezone.localtime().replace(
            hour=9, minute=0, second=0, microsecond=0
        ) + datetime.timedelta(days=3)
        values = {
            "title": "社区义诊",
            "place": "社区活动室",
            "starts_at": start,
            "ends_at": start + datetime.timedelta(hours=2),
            "cancel_deadline": start - datetime.timedelta(days=1),
            "capacity": 2,
            "points": 10,
        } | fields
        made = services.activity_create(
            created_by=by, region=region or people.community, organisation=organisation, **values
        )
        return services.activity_open(activity=made, by=by) if opened else made

    return make


@pytest.fixture
def give_points(people, funded):
    """Awards a resident of 清波社区 points, topping the award budget up by as much first (so that the budget
    stays at 100): `give_points(resident, 20)`."""
    keys = itertools.count(1)

    def give(resident: Resident, amount: int):
        key = next(keys)
        services.budget_fund(
            community=people.community,
            amount=amount,
            by=people.community_secretary,
            idempotency_key=f"top-up-{key}",
        )
        return services.points_award(
            community=people.community,
            resident=resident,
            amount=amount,
            reason="Helped a neighbour",
            awarded_by=people.community_worker,
            idempotency_key=f"give-{key}",
        )

    return give


@pytest.fixture
def office(people):
    """清波社区's own outlet, the community office, run by its staff."""
    return services.outlet_save(
        outlet=Outlet(community=people.community, name="社区办公室", kind=Outlet.Kind.OFFICE),
        by=people.community_worker,
    )


@pytest.fixture
def vegetables(people, office):
    """Vegetables at the office: 5 points a bunch, 10 in stock, no limit per person."""
    return services.item_save(
        item=Item(outlet=office, name="青菜", unit="把", price=5, stock=10), by=people.community_worker
    )
