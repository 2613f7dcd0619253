import pytest

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
