import datetime
import itertools

import pytest
from django.utils import timezone, translation

from conftest import make_user
from gongzhi.consultations import services
from gongzhi.consultations.models import Origin, ParticipantKind
from gongzhi.consultations.rules import DecisionRule
from gongzhi.core.models import Resident
from gongzhi.core.services import resident_create


@pytest.fixture
def english_messages():
    with translation.override("en"):
        yield


@pytest.fixture
def rule_set(people):
    """清波社区's everyday rules: 2 co-signers in 14 days, 3 days' notice, half of the persons present, a
    majority of the votes cast."""
    return services.rule_set_create(
        by=people.community_worker,
        region=people.community,
        name="日常议事规则",
        cosign_threshold=2,
        notice_days=3,
        quorum_share="0.5",
        decision_rule=DecisionRule.MAJORITY_OF_CAST,
    )


@pytest.fixture
def committee_topic(people, rule_set):
    """A topic the committee raised, in preparation, with 张居民 and 李奶奶 as voting participants."""
    consultation = services.consultation_propose(
        by=people.community_worker,
        community=people.community,
        rule_set=rule_set,
        title="院落停车位划线",
        description="清波院落停车混乱，拟划定车位并收取管理费。",
        origin=Origin.COMMITTEE,
    )
    for resident in (people.resident_record, people.neighbour_record):
        services.participant_add(
            consultation=consultation,
            by=people.community_worker,
            kind=ParticipantKind.RESIDENT,
            resident=resident,
        )
    return consultation


@pytest.fixture
def an_hour():
    return datetime.timedelta(hours=1)


# Added for the services' tests (test_procedure, test_voting, test_scope, test_concurrency) ------------------


@pytest.fixture
def make_resident(people):
    """Registers a resident with an account (in 1栋 of 清波社区 unless told otherwise) and returns the user;
    `user.resident` is the roster record."""
    numbers = itertools.count(1)

    def make(name: str = "", *, region=None, room: str = "", is_household_head: bool = False):
        number = next(numbers)
        name = name or f"居民{number}"
        user = make_user(f"1360000{number:04d}", name)
        record = resident_create(
            created_by=people.admin,
            region=region or people.building,
            name=name,
            room=room,
            is_household_head=is_household_head,
        )
        Resident.objects.filter(pk=record.pk).update(user=user)
        return user

    return make


@pytest.fixture
def topic_with_voters(people, rule_set, make_resident):
    """A committee topic in preparation, with voting residents who have accounts: `count` residents, or one
    owner per floor area in `areas`. Returns (consultation, [user, ...])."""

    def make(*, count: int = 0, areas=(), rules=None, is_major: bool = False, title: str = "加装电梯"):
        consultation = services.consultation_propose(
            by=people.community_worker,
            community=people.community,
            rule_set=rules or rule_set,
            title=title,
            description="1栋居民提出加装电梯，费用按楼层分摊。",
            origin=Origin.COMMITTEE,
            is_major=is_major,
        )
        kind = ParticipantKind.OWNER if areas else ParticipantKind.RESIDENT
        voters = []
        for area in list(areas) or [0] * count:
            user = make_resident()
            services.participant_add(
                consultation=consultation,
                by=people.community_worker,
                kind=kind,
                resident=user.resident,
                floor_area=area,
            )
            voters.append(user)
        return consultation, voters

    return make


@pytest.fixture
def start_voting(people):
    """Calls the meeting (notice sent four days ago, the meeting began an hour ago), adds the motions and
    opens voting until `closes_in` from now. Returns the motions."""

    def start(consultation, *texts: str, closes_in=datetime.timedelta(hours=2)):
        now = timezone.now()
        services.consultation_notice(
            consultation=consultation,
            by=people.community_worker,
            meeting_at=now - datetime.timedelta(hours=1),
            materials="议题说明、费用测算表。",
            now=now - datetime.timedelta(days=4),
        )
        motions = [
            services.motion_add(consultation=consultation, by=people.community_worker, text=text)
            for text in texts or ("同意按方案实施。",)
        ]
        services.voting_open(consultation=consultation, by=people.community_worker, closes_at=now + closes_in)
        return motions

    return start
