import datetime

import pytest
from django.utils import timezone

from gongzhi.volunteering import services
from gongzhi.volunteering.models import AccountKind


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
