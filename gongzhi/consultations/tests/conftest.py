import datetime

import pytest
from django.utils import translation

from gongzhi.consultations import services
from gongzhi.consultations.models import Origin, ParticipantKind
from gongzhi.consultations.rules import DecisionRule


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
