"""The procedure's steps before the vote: rule sets, topics, co-signing, review, participants, notice, sign-in
and motions. Each step either moves the consultation on and leaves a public event, or is refused with a clear
message and changes nothing."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone

from gongzhi.consultations import services
from gongzhi.consultations.models import (
    Attendance,
    Consultation,
    CoSign,
    Event,
    Motion,
    Origin,
    Participant,
    ParticipantKind,
    RuleSet,
    Stage,
    VoteUnit,
)
from gongzhi.consultations.rules import DecisionRule
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Notification, Resident
from gongzhi.matters import services as matter_services
from gongzhi.matters.models import Category

pytestmark = pytest.mark.usefixtures("english_messages")

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def kinds(consultation: Consultation) -> list[str]:
    return list(consultation.events.order_by("at", "pk").values_list("kind", flat=True))


def propose(people, rule_set, *, by=None, origin=Origin.RESIDENT, **fields) -> Consultation:
    return services.consultation_propose(
        by=by or people.resident,
        community=people.community,
        rule_set=rule_set,
        title=fields.pop("title", "楼道堆物清理"),
        description=fields.pop("description", "1栋楼道堆放杂物，存在消防隐患，建议统一清理。"),
        origin=origin,
        **fields,
    )


def participant_of(consultation: Consultation, resident) -> Participant:
    return Participant.objects.get(consultation=consultation, resident=resident)


@pytest.fixture
def call_meeting(people):
    """Sends the notice now for a meeting in four days; returns the meeting time."""

    def call(consultation, *, meeting_at=None):
        meeting_at = meeting_at or timezone.now() + datetime.timedelta(days=4)
        services.consultation_notice(
            consultation=consultation, by=people.community_worker, meeting_at=meeting_at, materials="方案说明"
        )
        return meeting_at

    return call


# Rule sets --------------------------------------------------------------------------------------------------


def test_it_keeps_rule_sets_for_a_community_and_for_a_street(people):
    community_rules = services.rule_set_create(
        by=people.community_worker, region=people.community, name="本社区"
    )
    street_rules = services.rule_set_create(
        by=people.street_officer, region=people.street, name="街道通用规则", secret_ballot=True
    )
    assert (community_rules.region, street_rules.region) == (people.community, people.street)
    assert street_rules.secret_ballot and not community_rules.secret_ballot
    assert community_rules.speech_rules.startswith("发言不超时")


@pytest.mark.parametrize("level", ["district", "building", "compound"])
def test_it_refuses_a_rule_set_kept_by_anything_but_a_community_or_a_street(people, level):
    region = {"district": people.district, "building": people.building, "compound": people.compound}[level]
    with pytest.raises(ServiceError, match="kept by a community or a street"):
        services.rule_set_create(by=people.admin, region=region, name="规则")
    assert not RuleSet.objects.exists()


def test_it_refuses_the_owners_rule_unless_owner_units_vote(people):
    with pytest.raises(ServiceError, match="counts owner units") as refused:
        services.rule_set_create(
            by=people.community_worker,
            region=people.community,
            name="业主表决",
            decision_rule=DecisionRule.CIVIL_CODE_278,
            vote_unit=VoteUnit.HOUSEHOLD,
        )
    assert refused.value.field == "vote_unit"
    assert not RuleSet.objects.exists()


def test_it_accepts_the_owners_rule_counting_owner_units(people):
    rules = services.rule_set_create(
        by=people.community_worker,
        region=people.community,
        name="业主表决",
        decision_rule=DecisionRule.CIVIL_CODE_278,
        vote_unit=VoteUnit.OWNER,
    )
    assert rules.decision_rule == DecisionRule.CIVIL_CODE_278


def test_it_refuses_objections_outlasting_the_publication(people):
    with pytest.raises(ServiceError, match="within the publication period") as refused:
        services.rule_set_create(
            by=people.community_worker,
            region=people.community,
            name="规则",
            publication_days=5,
            objection_days=6,
        )
    assert refused.value.field == "objection_days"
    assert not RuleSet.objects.exists()


def test_it_allows_objections_for_the_whole_publication(people):
    rules = services.rule_set_create(
        by=people.community_worker, region=people.community, name="规则", publication_days=5, objection_days=5
    )
    assert rules.objection_days == rules.publication_days


def test_it_refuses_a_resident_keeping_rule_sets(people):
    with pytest.raises(ServiceError, match="Only staff of this area"):
        services.rule_set_create(by=people.resident, region=people.community, name="规则")
    assert not RuleSet.objects.exists()


def test_it_refuses_a_worker_of_another_district(people):
    with pytest.raises(ServiceError, match="Only staff of this area"):
        services.rule_set_create(by=people.outsider, region=people.community, name="规则")
    assert not RuleSet.objects.exists()


def test_it_refuses_a_community_worker_keeping_the_streets_rules(people):
    with pytest.raises(ServiceError, match="Only staff of this area"):
        services.rule_set_create(by=people.community_worker, region=people.street, name="街道规则")


def test_it_refuses_unknown_rule_fields(people):
    with pytest.raises(ServiceError, match="Unknown rule fields: quorum"):
        services.rule_set_create(by=people.community_worker, region=people.community, name="规则", quorum=1)


def test_it_refuses_a_quorum_share_above_one(people):
    with pytest.raises(ServiceError):
        services.rule_set_create(
            by=people.community_worker, region=people.community, name="规则", quorum_share="1.5"
        )
    assert not RuleSet.objects.exists()


# Topics -----------------------------------------------------------------------------------------------------


def test_a_residents_topic_gathers_co_signers_until_its_deadline(people, rule_set):
    now = at(2025, 3, 3, 9)
    topic = propose(people, rule_set, now=now)
    assert topic.stage == Stage.COSIGNING
    assert topic.cosign_deadline == now + datetime.timedelta(days=rule_set.cosign_days)
    assert topic.proposed_by == people.resident
    assert kinds(topic) == [Event.Kind.PROPOSED]


def test_a_residents_topic_goes_straight_to_review_when_no_co_signers_are_needed(people):
    rules = services.rule_set_create(
        by=people.community_worker,
        region=people.community,
        name="无需附议",
        cosign_threshold=0,
        review_days=5,
    )
    topic = propose(people, rules, now=at(2025, 3, 3, 9))  # a Monday
    assert topic.stage == Stage.REVIEW
    assert topic.cosign_deadline is None
    assert topic.review_deadline == at(2025, 3, 10, 9)
    assert kinds(topic) == [Event.Kind.PROPOSED]


def test_it_refuses_a_residents_topic_from_someone_who_does_not_live_there(people, rule_set, make_resident):
    elsewhere = make_resident(region=people.sibling_community)
    for user in (elsewhere, people.community_worker):
        with pytest.raises(ServiceError, match="Only residents of this community"):
            propose(people, rule_set, by=user)
    assert not Consultation.objects.exists()


def test_an_organisations_topic_goes_to_review_when_its_staff_propose_it(people, rule_set):
    topic = propose(
        people, rule_set, by=people.provider_staff, origin=Origin.ORGANISATION, organisation=people.agency
    )
    assert topic.stage == Stage.REVIEW
    assert topic.organisation == people.agency
    assert topic.review_deadline is not None


@pytest.mark.parametrize("who", ["work_unit_staff", "community_worker", "resident"])
def test_it_refuses_a_topic_for_an_organisation_the_proposer_does_not_act_for(people, rule_set, who):
    with pytest.raises(ServiceError, match="Propose for an organisation you act for") as refused:
        propose(
            people, rule_set, by=getattr(people, who), origin=Origin.ORGANISATION, organisation=people.agency
        )
    assert refused.value.field == "organisation"
    assert not Consultation.objects.exists()


def test_it_refuses_an_organisations_topic_naming_no_organisation(people, rule_set):
    with pytest.raises(ServiceError, match="Propose for an organisation you act for"):
        propose(people, rule_set, by=people.provider_staff, origin=Origin.ORGANISATION)


def test_the_committees_own_topic_is_accepted_as_it_is_raised(people, rule_set):
    topic = propose(people, rule_set, by=people.community_worker, origin=Origin.COMMITTEE)
    assert topic.stage == Stage.PREPARING
    assert kinds(topic) == [Event.Kind.PROPOSED, Event.Kind.ACCEPTED]
    assert {event.actor for event in topic.events.all()} == {people.community_worker}


@pytest.mark.parametrize("origin", [Origin.COMMITTEE, Origin.MATTER, Origin.SURVEY])
@pytest.mark.parametrize("who", ["resident", "outsider", "district_officer", "building_leader"])
def test_only_the_communitys_staff_raise_a_topic(people, rule_set, origin, who):
    with pytest.raises(ServiceError, match="Only the community's staff can raise a topic"):
        propose(people, rule_set, by=getattr(people, who), origin=origin, source_note="2024年居民满意度调查")
    assert not Consultation.objects.exists()


@pytest.fixture
def repairs(people):
    matter_services.default_categories_install()
    return Category.objects.get(community=None, code="repairs")


def test_a_topic_raised_from_a_matter_keeps_the_link(people, rule_set, repairs):
    matter = matter_services.matter_report(
        entered_by=people.resident, category=repairs, description="电梯经常停运", region=people.building
    )
    topic = propose(people, rule_set, by=people.community_worker, origin=Origin.MATTER, source_matter=matter)
    assert topic.stage == Stage.PREPARING
    assert topic.source_matter == matter
    assert kinds(topic) == [Event.Kind.PROPOSED, Event.Kind.ACCEPTED]


def test_it_refuses_a_matter_of_another_community(people, rule_set, repairs):
    matter = matter_services.matter_report(
        entered_by=people.resident, category=repairs, description="路灯不亮", region=people.sibling_community
    )
    with pytest.raises(ServiceError, match="Choose a matter of this community") as refused:
        propose(people, rule_set, by=people.community_worker, origin=Origin.MATTER, source_matter=matter)
    assert refused.value.field == "source_matter"
    with pytest.raises(ServiceError, match="Choose a matter of this community"):
        propose(people, rule_set, by=people.community_worker, origin=Origin.MATTER)
    assert not Consultation.objects.exists()


def test_a_topic_raised_from_a_survey_cites_the_finding(people, rule_set):
    with pytest.raises(ServiceError, match="Say which survey finding") as refused:
        propose(people, rule_set, by=people.community_worker, origin=Origin.SURVEY, source_note="  ")
    assert refused.value.field == "source_note"
    topic = propose(
        people,
        rule_set,
        by=people.community_worker,
        origin=Origin.SURVEY,
        source_note="2024年满意度调查第3项",
    )
    assert (topic.stage, topic.source_note) == (Stage.PREPARING, "2024年满意度调查第3项")


def test_it_refuses_an_origin_it_does_not_know(people, rule_set):
    with pytest.raises(ServiceError, match="Choose where the topic comes from"):
        propose(people, rule_set, by=people.community_worker, origin="rumour")


def test_it_uses_the_streets_rules(people):
    street_rules = services.rule_set_create(by=people.street_officer, region=people.street, name="街道规则")
    assert propose(people, street_rules).rule_set == street_rules


def test_it_refuses_the_rules_of_another_street_or_another_community(people):
    other_street = people.other_community.parent
    foreign = [
        services.rule_set_create(by=people.admin, region=other_street, name="晋阳街道规则"),
        services.rule_set_create(by=people.admin, region=people.sibling_community, name="东坡社区规则"),
    ]
    for rules in foreign:
        with pytest.raises(
            ServiceError, match="Choose a rule set of this community or its street"
        ) as refused:
            propose(people, rules, by=people.community_worker, origin=Origin.COMMITTEE)
        assert refused.value.field == "rule_set"
    assert not Consultation.objects.exists()


def test_it_refuses_a_consultation_of_anything_but_a_community(people, rule_set):
    with pytest.raises(ServiceError, match="belongs to a community"):
        services.consultation_propose(
            by=people.community_worker,
            community=people.street,
            rule_set=rule_set,
            title="议题",
            description="说明",
            origin=Origin.COMMITTEE,
        )


def test_only_owners_deciding_by_the_civil_code_have_major_matters(people, rule_set):
    with pytest.raises(ServiceError, match="Only owners deciding by the Civil Code's rule") as refused:
        propose(people, rule_set, by=people.community_worker, origin=Origin.COMMITTEE, is_major=True)
    assert refused.value.field == "is_major"
    owners = services.rule_set_create(
        by=people.community_worker,
        region=people.community,
        name="业主表决",
        decision_rule=DecisionRule.CIVIL_CODE_278,
        vote_unit=VoteUnit.OWNER,
    )
    assert propose(
        people, owners, by=people.community_worker, origin=Origin.COMMITTEE, is_major=True
    ).is_major


def test_it_refuses_a_topic_without_a_title(people, rule_set):
    with pytest.raises(ServiceError, match="This field is required") as refused:
        propose(people, rule_set, title="   ")
    assert refused.value.field == "title"


# Co-signing -------------------------------------------------------------------------------------------------


def test_enough_co_signers_send_the_topic_for_review_within_working_days(people, rule_set, make_resident):
    # The National Day holiday of 2025 runs from 1 to 8 October, and Saturday 11 October is a make-up workday.
    topic = propose(people, rule_set, now=at(2025, 9, 20, 10))
    first, second = make_resident(), make_resident()
    services.consultation_cosign(consultation=topic, by=first, now=at(2025, 9, 29, 10))
    topic.refresh_from_db()
    assert (topic.stage, topic.review_deadline) == (Stage.COSIGNING, None)

    topic = services.consultation_cosign(consultation=topic, by=second, now=at(2025, 9, 30, 10))
    topic.refresh_from_db()
    assert topic.stage == Stage.REVIEW
    assert topic.review_deadline == at(2025, 10, 14, 10)
    assert kinds(topic) == [
        Event.Kind.PROPOSED,
        Event.Kind.COSIGNED,
        Event.Kind.COSIGNED,
        Event.Kind.SUBMITTED_FOR_REVIEW,
    ]
    assert set(topic.cosigns.values_list("user", flat=True)) == {first.pk, second.pk}


def test_the_proposer_does_not_co_sign(people, rule_set):
    topic = propose(people, rule_set)
    with pytest.raises(ServiceError, match="You proposed this topic"):
        services.consultation_cosign(consultation=topic, by=people.resident)
    assert not CoSign.objects.exists()


def test_a_resident_co_signs_once(people, rule_set, make_resident):
    rules = services.rule_set_create(
        by=people.community_worker, region=people.community, name="五人附议", cosign_threshold=5
    )
    topic = propose(people, rules)
    neighbour = make_resident()
    services.consultation_cosign(consultation=topic, by=neighbour)
    with pytest.raises(ServiceError, match="You have already co-signed this topic"):
        services.consultation_cosign(consultation=topic, by=neighbour)
    assert topic.cosigns.count() == 1
    assert kinds(topic) == [Event.Kind.PROPOSED, Event.Kind.COSIGNED]


def test_only_the_communitys_residents_co_sign(people, rule_set, make_resident):
    topic = propose(people, rule_set)
    for user in (make_resident(region=people.sibling_community), people.community_worker, people.outsider):
        with pytest.raises(ServiceError, match="Only residents of this community"):
            services.consultation_cosign(consultation=topic, by=user)
    assert not CoSign.objects.exists()


def test_it_refuses_a_co_signature_after_the_deadline(people, rule_set, make_resident):
    topic = propose(people, rule_set, now=at(2025, 3, 3, 9))
    with pytest.raises(ServiceError, match="The time for co-signing has ended"):
        services.consultation_cosign(
            consultation=topic, by=make_resident(), now=at(2025, 3, 17, 9) + datetime.timedelta(seconds=1)
        )
    assert not CoSign.objects.exists()


def test_it_refuses_a_co_signature_once_the_topic_has_moved_on(people, committee_topic, make_resident):
    with pytest.raises(ServiceError, match="cannot be done while the consultation is “Preparing"):
        services.consultation_cosign(consultation=committee_topic, by=make_resident())


def test_topics_short_of_co_signers_lapse_once(people, rule_set):
    late = propose(people, rule_set, title="晚了", now=at(2025, 3, 1, 9))
    in_time = propose(people, rule_set, title="还来得及", now=at(2025, 3, 10, 9))
    committee = propose(people, rule_set, by=people.community_worker, origin=Origin.COMMITTEE)
    now = at(2025, 3, 20, 9)

    assert services.consultations_lapse(now=now) == 1
    assert services.consultations_lapse(now=now) == 0

    stages = dict(Consultation.objects.values_list("pk", "stage"))
    assert stages == {late.pk: Stage.LAPSED, in_time.pk: Stage.COSIGNING, committee.pk: Stage.PREPARING}
    assert kinds(late) == [Event.Kind.PROPOSED, Event.Kind.LAPSED]
    assert late.events.get(kind=Event.Kind.LAPSED).at == now


# Review -----------------------------------------------------------------------------------------------------


@pytest.fixture
def under_review(people, rule_set):
    return propose(
        people, rule_set, by=people.provider_staff, origin=Origin.ORGANISATION, organisation=people.agency
    )


def test_the_committee_accepts_a_topic_with_a_public_reason(people, under_review):
    topic = services.consultation_review(
        consultation=under_review,
        by=people.community_secretary,
        accept=True,
        reason="涉及全体居民，予以受理。",
    )
    assert (topic.stage, topic.review_reason) == (Stage.PREPARING, "涉及全体居民，予以受理。")
    accepted = topic.events.get(kind=Event.Kind.ACCEPTED)
    assert (accepted.actor, accepted.note) == (people.community_secretary, "涉及全体居民，予以受理。")


def test_the_committee_declines_a_topic_with_a_public_reason(people, under_review):
    topic = services.consultation_review(
        consultation=under_review, by=people.community_worker, accept=False, reason="属于物业服务合同范围。"
    )
    topic.refresh_from_db()
    assert (topic.stage, topic.review_reason) == (Stage.DECLINED, "属于物业服务合同范围。")
    assert kinds(topic)[-1] == Event.Kind.DECLINED


@pytest.mark.parametrize("accept", [True, False])
def test_a_review_needs_a_reason(people, under_review, accept):
    with pytest.raises(ServiceError, match="This field is required") as refused:
        services.consultation_review(
            consultation=under_review, by=people.community_worker, accept=accept, reason=" "
        )
    assert refused.value.field == "reason"
    under_review.refresh_from_db()
    assert under_review.stage == Stage.REVIEW
    assert kinds(under_review) == [Event.Kind.PROPOSED]


def test_it_refuses_a_review_of_a_topic_not_awaiting_one(people, rule_set, committee_topic):
    for topic in (propose(people, rule_set), committee_topic):
        with pytest.raises(ServiceError, match="cannot be done while the consultation is"):
            services.consultation_review(
                consultation=topic, by=people.community_worker, accept=True, reason="同意"
            )


@pytest.mark.parametrize("who", ["resident", "outsider", "provider_staff", "district_officer"])
def test_only_the_communitys_staff_review(people, under_review, who):
    with pytest.raises(ServiceError, match="Only the community's staff can do that"):
        services.consultation_review(
            consultation=under_review, by=getattr(people, who), accept=True, reason="同意"
        )
    under_review.refresh_from_db()
    assert under_review.stage == Stage.REVIEW


def test_the_street_reviews_a_topic_of_its_community(people, under_review):
    topic = services.consultation_review(
        consultation=under_review, by=people.street_officer, accept=True, reason="同意"
    )
    assert topic.stage == Stage.PREPARING


# Participants -----------------------------------------------------------------------------------------------


def test_it_adds_the_communitys_residents_organisations_and_experts(people, committee_topic):
    bank = services.participant_add(
        consultation=committee_topic, by=people.community_worker, kind=ParticipantKind.WORK_UNIT,
        organisation=people.work_unit,
    )  # fmt: skip
    expert = services.participant_add(
        consultation=committee_topic, by=people.community_worker, kind=ParticipantKind.EXPERT, name="王规划师"
    )
    assert (bank.name, bank.votes) == ("蜀都银行", True)
    assert (expert.name, expert.votes) == ("王规划师", False)
    names = set(committee_topic.participants.values_list("name", flat=True))
    assert names == {"张居民", "李奶奶", "蜀都银行", "王规划师"}


def test_it_refuses_a_resident_of_another_community(people, committee_topic):
    with pytest.raises(ServiceError, match="Participants are chosen within the community"):
        services.participant_add(
            consultation=committee_topic,
            by=people.community_worker,
            kind=ParticipantKind.RESIDENT,
            resident=people.other_resident_record,
        )
    assert committee_topic.participants.count() == 2


def test_it_refuses_a_participant_added_twice_by_name(people, committee_topic):
    with pytest.raises(ServiceError) as refused:
        services.participant_add(
            consultation=committee_topic,
            by=people.community_worker,
            kind=ParticipantKind.RESIDENT,
            resident=people.resident_record,
        )
    assert refused.value.message == "张居民 is already a participant."
    assert committee_topic.participants.count() == 2


@pytest.mark.parametrize("who", ["resident", "outsider", "district_officer"])
def test_only_the_communitys_staff_choose_participants(people, committee_topic, make_resident, who):
    with pytest.raises(ServiceError, match="Only the community's staff can do that"):
        services.participant_add(
            consultation=committee_topic,
            by=getattr(people, who),
            kind=ParticipantKind.RESIDENT,
            resident=make_resident().resident,
        )
    with pytest.raises(ServiceError, match="Only the community's staff can do that"):
        services.participants_add_region(
            consultation=committee_topic, by=getattr(people, who), region=people.building
        )
    assert committee_topic.participants.count() == 2


def test_it_adds_every_household_of_a_building(people, rule_set, make_resident):
    make_resident(room="1-102")
    make_resident(room="1-102")  # the same household
    topic = propose(people, rule_set, by=people.community_worker, origin=Origin.COMMITTEE)

    added = services.participants_add_region(
        consultation=topic, by=people.community_worker, region=people.building, households=True
    )
    assert added == 2
    participants = topic.participants.order_by("name")
    assert [(p.kind, p.name) for p in participants] == [
        (ParticipantKind.HOUSEHOLD, "清波院落 1栋 1-101"),
        (ParticipantKind.HOUSEHOLD, "清波院落 1栋 1-102"),
    ]
    assert all(p.votes and p.resident_id is None for p in participants)
    event = topic.events.get(kind=Event.Kind.PARTICIPANTS)
    assert (event.actor, event.note) == (people.community_worker, "2 added from 1栋")


def test_it_adds_every_resident_of_a_compound_and_a_second_run_adds_none(people, rule_set, make_resident):
    newcomer = make_resident(region=people.building_2)
    topic = propose(people, rule_set, by=people.community_worker, origin=Origin.COMMITTEE)
    services.participant_add(
        consultation=topic,
        by=people.community_worker,
        kind=ParticipantKind.RESIDENT,
        resident=people.resident_record,
    )

    added = services.participants_add_region(
        consultation=topic, by=people.community_worker, region=people.compound
    )
    assert added == 2
    assert set(topic.participants.values_list("resident", flat=True)) == {
        people.resident_record.pk,
        people.neighbour_record.pk,
        newcomer.resident.pk,
    }
    assert (
        services.participants_add_region(
            consultation=topic, by=people.community_worker, region=people.compound
        )
        == 0
    )
    assert topic.participants.count() == 3
    assert topic.events.filter(kind=Event.Kind.PARTICIPANTS, note__contains="added from").count() == 1


def test_it_refuses_a_region_outside_the_community(people, committee_topic):
    for region in (people.other_building, people.sibling_community, people.street):
        with pytest.raises(ServiceError, match="Participants are chosen within the community") as refused:
            services.participants_add_region(
                consultation=committee_topic, by=people.community_worker, region=region, households=True
            )
        assert refused.value.field == "region"
    assert committee_topic.participants.count() == 2


# Notice -----------------------------------------------------------------------------------------------------


def test_it_refuses_a_notice_before_anyone_who_votes_is_chosen(people, rule_set):
    topic = propose(people, rule_set, by=people.community_worker, origin=Origin.COMMITTEE)
    services.participant_add(
        consultation=topic, by=people.community_worker, kind=ParticipantKind.EXPERT, name="王规划师"
    )
    with pytest.raises(ServiceError, match="Choose the participants who vote first"):
        services.consultation_notice(
            consultation=topic,
            by=people.community_worker,
            meeting_at=timezone.now() + datetime.timedelta(days=7),
            materials="方案",
        )
    topic.refresh_from_db()
    assert topic.notice_sent_at is None


def test_it_refuses_a_meeting_sooner_than_the_rules_notice_and_names_the_earliest_date(
    people, committee_topic
):
    with pytest.raises(ServiceError) as refused:
        services.consultation_notice(
            consultation=committee_topic,
            by=people.community_worker,
            meeting_at=at(2025, 3, 6, 8, 59),
            materials="方案",
            now=at(2025, 3, 3, 9),
        )
    assert refused.value.message == (
        "The rules ask for 3 days' notice: the meeting can be on 2025-03-06 09:00 at the earliest."
    )
    assert refused.value.field == "meeting_at"
    committee_topic.refresh_from_db()
    assert (committee_topic.meeting_at, committee_topic.notice_sent_at) == (None, None)
    assert Event.Kind.NOTICE not in kinds(committee_topic)


def test_the_notice_is_recorded_with_its_materials(people, committee_topic):
    topic = services.consultation_notice(
        consultation=committee_topic,
        by=people.community_worker,
        meeting_at=at(2025, 3, 6, 9),
        materials="划线方案图、收费测算。",
        now=at(2025, 3, 3, 9),
    )
    topic.refresh_from_db()
    assert (topic.meeting_at, topic.notice_sent_at) == (at(2025, 3, 6, 9), at(2025, 3, 3, 9))
    notice = topic.events.get(kind=Event.Kind.NOTICE)
    assert (notice.actor, notice.note, notice.at) == (
        people.community_worker,
        "划线方案图、收费测算。",
        at(2025, 3, 3, 9),
    )


def test_only_the_communitys_staff_send_the_notice(people, committee_topic):
    with pytest.raises(ServiceError, match="Only the community's staff can do that"):
        services.consultation_notice(
            consultation=committee_topic,
            by=people.resident,
            meeting_at=timezone.now() + datetime.timedelta(days=7),
            materials="方案",
        )


# The meeting: sign-in and leaving ---------------------------------------------------------------------------


def test_it_signs_a_participant_in_and_out_and_back_in(people, committee_topic, call_meeting):
    meeting_at = call_meeting(committee_topic)
    grandma = participant_of(committee_topic, people.neighbour_record)
    early = meeting_at - datetime.timedelta(minutes=30)

    attendance = services.attendance_sign_in(
        consultation=committee_topic, participant=grandma, by=people.community_worker, now=early
    )
    assert (attendance.signed_in_at, attendance.signed_in_by, attendance.left_at) == (
        early,
        people.community_worker,
        None,
    )
    services.attendance_leave(
        consultation=committee_topic, participant=grandma, by=people.community_worker, now=meeting_at
    )
    attendance.refresh_from_db()
    assert attendance.left_at == meeting_at

    services.attendance_sign_in(
        consultation=committee_topic,
        participant=grandma,
        by=people.community_worker,
        now=meeting_at + datetime.timedelta(minutes=10),
    )
    attendance.refresh_from_db()
    assert attendance.left_at is None
    assert Attendance.objects.filter(consultation=committee_topic).count() == 1
    signed = committee_topic.events.filter(kind__in=[Event.Kind.SIGNED_IN, Event.Kind.LEFT]).order_by(
        "at", "pk"
    )
    assert [(event.kind, event.note) for event in signed] == [
        (Event.Kind.SIGNED_IN, "李奶奶"),
        (Event.Kind.LEFT, "李奶奶"),
        (Event.Kind.SIGNED_IN, "李奶奶"),
    ]


def test_a_participant_signs_themself_in_by_the_meetings_code(people, committee_topic, call_meeting):
    meeting_at = call_meeting(committee_topic)
    me = participant_of(committee_topic, people.resident_record)
    attendance = services.attendance_sign_in(
        consultation=committee_topic, participant=me, by=people.resident, now=meeting_at
    )
    assert attendance.signed_in_by == people.resident


def test_it_refuses_a_sign_in_more_than_an_hour_before_the_meeting(people, committee_topic, call_meeting):
    meeting_at = call_meeting(committee_topic)
    with pytest.raises(ServiceError, match="Sign-in opens an hour before the meeting"):
        services.attendance_sign_in(
            consultation=committee_topic,
            participant=participant_of(committee_topic, people.resident_record),
            by=people.community_worker,
            now=meeting_at - datetime.timedelta(hours=1, seconds=1),
        )
    assert not Attendance.objects.exists()


def test_it_refuses_a_sign_in_before_the_meeting_is_called(people, committee_topic):
    with pytest.raises(ServiceError, match="No meeting has been called yet"):
        services.attendance_sign_in(
            consultation=committee_topic,
            participant=participant_of(committee_topic, people.resident_record),
            by=people.community_worker,
        )


def test_it_refuses_signing_in_twice(people, committee_topic, call_meeting):
    meeting_at = call_meeting(committee_topic)
    me = participant_of(committee_topic, people.resident_record)
    services.attendance_sign_in(
        consultation=committee_topic, participant=me, by=people.resident, now=meeting_at
    )
    with pytest.raises(ServiceError) as refused:
        services.attendance_sign_in(
            consultation=committee_topic, participant=me, by=people.community_worker, now=meeting_at
        )
    assert refused.value.message == "张居民 has already signed in."
    assert committee_topic.events.filter(kind=Event.Kind.SIGNED_IN).count() == 1


def test_it_refuses_leaving_without_having_signed_in(people, committee_topic, call_meeting):
    call_meeting(committee_topic)
    with pytest.raises(ServiceError, match="张居民 is not signed in"):
        services.attendance_leave(
            consultation=committee_topic,
            participant=participant_of(committee_topic, people.resident_record),
            by=people.community_worker,
        )


def test_it_refuses_signing_in_a_participant_of_another_consultation(
    people, committee_topic, topic_with_voters, call_meeting
):
    other, (voter,) = topic_with_voters(count=1)
    meeting_at = call_meeting(committee_topic)
    with pytest.raises(ServiceError, match="not a participant of this consultation"):
        services.attendance_sign_in(
            consultation=committee_topic,
            participant=participant_of(other, voter.resident),
            by=people.community_worker,
            now=meeting_at,
        )
    assert not Attendance.objects.exists()


@pytest.mark.parametrize("who", ["outsider", "another_participant", "a_neighbour"])
def test_only_staff_or_the_participant_sign_in_and_out(
    people, committee_topic, call_meeting, make_resident, who
):
    meeting_at = call_meeting(committee_topic)
    intruder = {"outsider": people.outsider, "another_participant": people.resident}.get(
        who
    ) or make_resident()
    grandma = participant_of(committee_topic, people.neighbour_record)
    with pytest.raises(ServiceError, match="Only the community's staff can do that"):
        services.attendance_sign_in(
            consultation=committee_topic, participant=grandma, by=intruder, now=meeting_at
        )
    assert not Attendance.objects.exists()

    services.attendance_sign_in(
        consultation=committee_topic, participant=grandma, by=people.community_worker, now=meeting_at
    )
    with pytest.raises(ServiceError, match="Only the community's staff can do that"):
        services.attendance_leave(
            consultation=committee_topic, participant=grandma, by=intruder, now=meeting_at
        )
    assert Attendance.objects.get().left_at is None


# Motions ----------------------------------------------------------------------------------------------------


def test_motions_are_numbered_in_order(people, committee_topic):
    first = services.motion_add(
        consultation=committee_topic, by=people.community_worker, text="同意划定车位。"
    )
    second = services.motion_add(
        consultation=committee_topic, by=people.community_secretary, text="同意收取管理费。"
    )
    assert [(m.number, m.text, m.passed) for m in (first, second)] == [
        (1, "同意划定车位。", None),
        (2, "同意收取管理费。", None),
    ]


def test_it_refuses_a_motion_without_text_or_from_a_resident(people, committee_topic):
    with pytest.raises(ServiceError, match="This field is required"):
        services.motion_add(consultation=committee_topic, by=people.community_worker, text="  ")
    with pytest.raises(ServiceError, match="Only the community's staff can do that"):
        services.motion_add(consultation=committee_topic, by=people.resident, text="同意。")
    assert not Motion.objects.exists()


def test_it_refuses_a_motion_once_voting_has_opened(people, committee_topic, start_voting):
    start_voting(committee_topic)
    with pytest.raises(ServiceError, match="cannot be done while the consultation is “Voting”"):
        services.motion_add(consultation=committee_topic, by=people.community_worker, text="再加一项。")
    assert committee_topic.motions.count() == 1


def test_it_tells_the_participants_of_the_meeting(
    people, committee_topic, django_capture_on_commit_callbacks
):
    Resident.objects.filter(pk=people.resident_record.pk).update(user=people.resident)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        services.consultation_notice(
            consultation=committee_topic,
            by=people.community_worker,
            meeting_at=now + datetime.timedelta(days=4),
            materials="方案",
            place="社区会议室",
            now=now,
        )
    told = Notification.objects.get(user=people.resident)
    assert "院落停车位划线" in told.title and "社区会议室" in told.body
    assert not Notification.objects.filter(user=people.outsider).exists()
