import pytest
from django.utils import timezone

from gongzhi.core.demo import MIN_HOUSEHOLDS, demo_district_build
from gongzhi.volunteering.demo import PAST, UPCOMING, demo_volunteering_create
from gongzhi.volunteering.models import (
    AccountKind,
    Activity,
    ActivityStatus,
    Certificate,
    PointsAccount,
    RecordNote,
    Redemption,
    RedemptionStatus,
    SignUp,
    SignUpStatus,
    Verification,
    VolunteeringSettings,
    VolunteerProfile,
)
from gongzhi.volunteering.selectors import ledger_drift, passbook


@pytest.fixture
def built(db):
    """The smallest demo district, with its volunteering."""
    district = demo_district_build(households=MIN_HOUSEHOLDS)
    district.activities = demo_volunteering_create(district)
    return district


def test_it_leaves_a_ledger_that_balances_with_no_negative_balance(built):
    assert not ledger_drift()
    negative = PointsAccount.objects.filter(balance__lt=0).exclude(kind=AccountKind.ISSUED)
    assert not negative.exists()
    budgets = PointsAccount.objects.filter(kind=AccountKind.AWARD_BUDGET)
    assert budgets.count() == built.communities
    assert all(0 < budget.balance < 5_000 for budget in budgets)


def test_the_demo_resident_has_points_hours_a_place_next_week_and_eggs_to_collect(built):
    resident = built.residents["resident"]
    account = PointsAccount.objects.get(resident=resident)
    assert account.balance > 0
    assert passbook(resident).count() >= 5
    volunteer = VolunteerProfile.objects.get(resident=resident)
    assert volunteer.hours > 0
    assert volunteer.on_honour_roll
    upcoming = SignUp.objects.filter(volunteer=volunteer, activity__starts_at__gt=timezone.now())
    assert upcoming.filter(status=SignUpStatus.CONFIRMED).exists()
    reserved = Redemption.objects.get(resident=resident, status=RedemptionStatus.RESERVED)
    assert reserved.item.name == "鸡蛋"
    assert Redemption.objects.filter(resident=resident, status=RedemptionStatus.HANDED_OVER).exists()


def test_each_community_has_past_and_upcoming_activities_an_open_supermarket_and_settings(built):
    assert built.activities == built.communities * (len(PAST) + len(UPCOMING))
    now = timezone.now()
    for n in range(built.communities):
        community = built.places[f"community.{n}"]
        activities = Activity.objects.filter(community=community)
        assert activities.filter(starts_at__lt=now).count() == len(PAST)
        assert activities.filter(starts_at__gt=now, status=ActivityStatus.OPEN).count() == len(UPCOMING)
        assert SignUp.objects.filter(
            activity__community=community, verification=Verification.APPROVED
        ).exists()
        assert Redemption.objects.filter(item__outlet__community=community).exists()
        assert VolunteeringSettings.objects.get(community=community).handler_name
    qingbo = built.places["qingbo"]
    assert VolunteeringSettings.objects.get(community=qingbo).points_expire_after_years == 2
    statuses = set(Redemption.objects.values_list("status", flat=True))
    assert statuses == {RedemptionStatus.RESERVED, RedemptionStatus.HANDED_OVER, RedemptionStatus.CANCELLED}
    assert SignUp.objects.filter(status=SignUpStatus.WAITLISTED, activity__starts_at__gt=now).exists()
    risky = Activity.objects.filter(risk_level="medium", starts_at__gt=now)
    assert all(activity.insurance_confirmed_at for activity in risky)
    # The most recent activity waits for its hours to be verified.
    assert SignUp.objects.filter(activity__title=PAST[-1].title, verification=Verification.PENDING).exists()
    assert set(RecordNote.objects.values_list("title", flat=True)) >= {"消防培训", "优秀志愿者"}
    assert Certificate.objects.filter(volunteer__resident=built.residents["building_leader"]).exists()
