"""Who sees a consultation: everyone when its record is public; otherwise the community's residents, its
participants and the staff overseeing the community. Anyone else gets a 404, whether it exists or not."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from gongzhi.consultations import selectors, services
from gongzhi.consultations.models import Choice, Consultation, Origin, ParticipantKind
from gongzhi.core.exceptions import ServiceError

pytestmark = pytest.mark.usefixtures("english_messages")


def private(consultation: Consultation) -> Consultation:
    Consultation.objects.filter(pk=consultation.pk).update(is_public=False)
    consultation.refresh_from_db()
    return consultation


def sees(user, consultation: Consultation) -> bool:
    return selectors.consultations_visible_to(user).filter(pk=consultation.pk).exists()


@pytest.fixture
def stranger(make_resident, people):
    """A resident of 东坡社区, the sibling community on the same street."""
    return make_resident("东坡居民", region=people.sibling_community)


@pytest.mark.parametrize("who", ["anonymous", "outsider", "stranger", "work_unit_staff", "resident"])
def test_a_public_consultation_is_visible_to_anyone(people, committee_topic, stranger, who):
    user = {"anonymous": AnonymousUser(), "stranger": stranger}.get(who) or getattr(people, who)
    assert sees(user, committee_topic)
    assert selectors.access_consultation(user, committee_topic.pk) == committee_topic


@pytest.mark.parametrize(
    "who",
    ["community_worker", "community_secretary", "street_officer", "district_officer", "admin"],
)
def test_a_private_consultation_is_visible_to_the_staff_overseeing_the_community(
    people, committee_topic, who
):
    private(committee_topic)
    assert selectors.access_consultation(getattr(people, who), committee_topic.pk) == committee_topic


def test_a_private_consultation_is_visible_to_the_communitys_residents(committee_topic, make_resident):
    private(committee_topic)
    not_taking_part = make_resident()
    assert selectors.access_consultation(not_taking_part, committee_topic.pk) == committee_topic


def test_a_private_consultation_is_visible_to_its_participants(people, committee_topic):
    services.participant_add(
        consultation=committee_topic,
        by=people.community_worker,
        kind=ParticipantKind.ORGANISATION,
        organisation=people.agency,
    )
    private(committee_topic)
    assert selectors.access_consultation(people.resident, committee_topic.pk) == committee_topic
    # The social-work agency's staff do not live in the community: they see it as a participant's staff.
    assert selectors.access_consultation(people.provider_staff, committee_topic.pk) == committee_topic


@pytest.mark.parametrize("who", ["anonymous", "outsider", "stranger", "work_unit_staff", "provider_staff"])
def test_a_private_consultation_is_a_404_to_anyone_else(people, committee_topic, stranger, who):
    private(committee_topic)
    motion = services.motion_add(consultation=committee_topic, by=people.community_worker, text="同意划线。")
    user = {"anonymous": AnonymousUser(), "stranger": stranger}.get(who) or getattr(people, who)
    assert not sees(user, committee_topic)
    with pytest.raises(Http404):
        selectors.access_consultation(user, committee_topic.pk)
    with pytest.raises(Http404):
        selectors.access_motion(user, motion.pk)


def test_a_missing_consultation_is_the_same_404(people):
    with pytest.raises(Http404):
        selectors.access_consultation(people.community_worker, 987654)


def test_an_outsider_gets_a_404_for_a_private_vote_and_a_clear_refusal_for_a_public_one(
    people, committee_topic, start_voting, stranger
):
    (motion,) = start_voting(committee_topic)
    seen = selectors.access_motion(stranger, motion.pk)
    with pytest.raises(ServiceError) as refused:
        services.ballot_cast(motion=seen, by=stranger, choice=Choice.YES)
    assert refused.value.message == "You are not on this consultation's roll of voters."

    private(committee_topic)
    with pytest.raises(Http404):
        selectors.access_motion(stranger, motion.pk)


def test_the_list_costs_the_same_number_of_queries_for_many_consultations(
    people, rule_set, django_assert_max_num_queries
):
    def raise_topics(count: int) -> None:
        for number in range(count):
            services.consultation_propose(
                by=people.community_worker,
                community=people.community,
                rule_set=rule_set,
                title=f"议题{number}",
                description="说明",
                origin=Origin.COMMITTEE,
            )

    raise_topics(1)
    with django_assert_max_num_queries(2):
        assert len(list(selectors.consultations_visible_to(people.provider_staff))) == 1
    raise_topics(20)
    del people.provider_staff._role_assignments
    with django_assert_max_num_queries(2):
        assert len(list(selectors.consultations_visible_to(people.provider_staff))) == 21


def test_a_community_uses_its_own_rule_sets_and_its_streets(people, rule_set):
    street_rules = services.rule_set_create(by=people.street_officer, region=people.street, name="街道规则")
    services.rule_set_create(by=people.admin, region=people.sibling_community, name="东坡规则")
    assert list(selectors.rule_sets_for(people.community)) == [rule_set, street_rules]
