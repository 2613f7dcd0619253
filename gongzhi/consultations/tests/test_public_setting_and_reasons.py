"""Who can read a consultation's record: everyone (居务公开) or, for a few households' own affairs, the
community's residents, the participants and the staff; set when the topic is raised and changed at any step.
And a motion's reasons, read in the reader's language whatever the language of whoever closed the vote."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from gongzhi.consultations import selectors, services
from gongzhi.consultations.models import Choice, Consultation, Event, Origin, Stage, VoteUnit
from gongzhi.consultations.resolution import resolution_pdf
from gongzhi.consultations.rules import DecisionRule, QuorumBasis
from gongzhi.core.exceptions import ServiceError
from gongzhi.volunteering.tests.test_certificates import pdf_text

API = "/api/v1/consultations"

PASSED_EN = [
    "Votes in favour were 100.0% of the votes cast (2 of 2), more than the half required.",
    "Abstentions (1) do not count as votes cast.",
]
PASSED_ZH = ["赞成票占有效票的100.0%（2票中2票），超过半数的要求。", "弃权票（1）不计入有效票。"]


def reader(user, language: str) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def visible_to(user, consultation) -> bool:
    return selectors.consultations_visible_to(user).filter(pk=consultation.pk).exists()


def notes(consultation) -> list[str]:
    return list(consultation.events.filter(kind=Event.Kind.NOTE).values_list("note", flat=True))


def act(client, consultation, action: str, **data):
    return client.post(reverse("consultations:manage_act", args=[consultation.pk, action]), data)


@pytest.fixture
def closed_in(people, topic_with_voters, start_voting):
    """Three voters, two for and one abstaining, online; the vote closed by staff reading `language`.
    Returns the motion."""

    def close(language: str, *, voting=(Choice.YES, Choice.YES, Choice.ABSTAIN)):
        consultation, voters = topic_with_voters(count=3)
        (motion,) = start_voting(consultation)
        for user, choice in zip(voters, voting, strict=False):
            services.ballot_cast(motion=motion, by=user, choice=choice)
        with translation.override(language):
            services.voting_close(consultation=consultation, by=people.community_worker)
        motion.refresh_from_db()
        return motion

    return close


# Who can read the record ------------------------------------------------------------------------------------


def test_staff_keep_a_record_to_the_community_and_open_it_again(people, committee_topic, english_messages):
    services.consultation_set_public(
        consultation=committee_topic, by=people.community_worker, is_public=False
    )
    committee_topic.refresh_from_db()
    assert committee_topic.is_public is False
    assert not visible_to(people.outsider, committee_topic)
    assert visible_to(people.resident, committee_topic)  # a participant, and a resident of the community

    services.consultation_set_public(consultation=committee_topic, by=people.community_worker, is_public=True)
    assert visible_to(people.outsider, committee_topic)
    assert notes(committee_topic) == [
        "The record is kept to the community's residents and the participants.",
        "The record is made public to everyone.",
    ]
    assert committee_topic.events.filter(kind=Event.Kind.NOTE, actor=people.community_worker).count() == 2


def test_it_can_change_after_the_vote(people, closed_in):
    motion = closed_in("en")
    consultation = motion.consultation
    assert consultation.stage == Stage.DECIDED
    services.consultation_set_public(consultation=consultation, by=people.community_worker, is_public=False)
    consultation.refresh_from_db()
    assert consultation.is_public is False


def test_only_staff_choose_who_reads_the_record(people, committee_topic, english_messages):
    with pytest.raises(ServiceError, match="Only the community's staff can do that."):
        services.consultation_set_public(consultation=committee_topic, by=people.resident, is_public=False)
    committee_topic.refresh_from_db()
    assert committee_topic.is_public is True and notes(committee_topic) == []


def test_it_refuses_to_set_what_is_already_so(people, committee_topic, english_messages):
    with pytest.raises(ServiceError, match="The record is already public to everyone.") as refused:
        services.consultation_set_public(
            consultation=committee_topic, by=people.community_worker, is_public=True
        )
    assert refused.value.field == "is_public"
    assert notes(committee_topic) == []


def test_staff_raise_a_topic_kept_to_the_community(people, rule_set):
    topic = services.consultation_propose(
        by=people.community_worker, community=people.community, rule_set=rule_set, title="两户之间的漏水纠纷",
        description="2栋两户之间的漏水赔偿协商。", origin=Origin.COMMITTEE, is_public=False,
    )  # fmt: skip
    assert topic.is_public is False and not visible_to(people.outsider, topic)


def test_a_resident_cannot_propose_a_private_topic(people, rule_set, english_messages):
    with pytest.raises(
        ServiceError, match="Only the community's staff can keep a record private."
    ) as refused:
        services.consultation_propose(
            by=people.resident, community=people.community, rule_set=rule_set, title="私下议题",
            description="说明", origin=Origin.RESIDENT, is_public=False,
        )  # fmt: skip
    assert refused.value.field == "is_public"
    assert not Consultation.objects.exists()


def test_the_manage_page_changes_who_reads_the_record(people, committee_topic):
    worker = reader(people.community_worker, "en")
    page = worker.get(reverse("consultations:manage", args=[committee_topic.pk])).content.decode()
    assert 'data-testid="form-public"' in page
    assert page.split('data-testid="public-state">')[1].startswith("everyone")

    response = act(worker, committee_topic, "public", is_public="private")
    assert response.status_code == 302 and response.url.endswith("#public")
    committee_topic.refresh_from_db()
    assert committee_topic.is_public is False
    page = worker.get(reverse("consultations:manage", args=[committee_topic.pk])).content.decode()
    assert page.split('data-testid="public-state">')[1].startswith("the community's residents")


def test_the_manage_page_refuses_a_choice_that_is_not_one(people, committee_topic):
    response = act(reader(people.community_worker, "en"), committee_topic, "public", is_public="")
    assert response.status_code == 400
    committee_topic.refresh_from_db()
    assert committee_topic.is_public is True and notes(committee_topic) == []


def test_the_manage_page_says_when_nothing_would_change(people, committee_topic):
    response = act(reader(people.community_worker, "en"), committee_topic, "public", is_public="public")
    assert response.status_code == 400
    assert "The record is already public to everyone." in response.content.decode()


def test_outsiders_get_404_and_change_nothing(people, committee_topic):
    response = act(reader(people.outsider, "en"), committee_topic, "public", is_public="private")
    assert response.status_code == 404
    committee_topic.refresh_from_db()
    assert committee_topic.is_public is True


def raise_topic(client, rule_set, community, **extra):
    return client.post(
        reverse("consultations:desk"),
        {
            "community": community.pk,
            "rule_set": rule_set.pk,
            "title": "两户漏水协商",
            "description": "2栋两户之间的漏水赔偿。",
            "origin": "committee",
            **extra,
        },
    )


def test_the_desk_raises_a_public_topic_unless_told(people, rule_set):
    assert raise_topic(reader(people.community_worker, "en"), rule_set, people.community).status_code == 302
    assert Consultation.objects.get().is_public is True


def test_the_desk_raises_a_topic_kept_to_the_community(people, rule_set):
    client = reader(people.community_worker, "en")
    assert raise_topic(client, rule_set, people.community, keep_private="on").status_code == 302
    assert Consultation.objects.get().is_public is False


def test_the_api_sets_who_reads_the_record(people, committee_topic):
    worker, resident = reader(people.community_worker, "en"), reader(people.resident, "en")
    url = f"{API}/{committee_topic.pk}/public"

    refused = resident.post(url, {"is_public": False}, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["detail"] == "Only the community's staff can do that."
    committee_topic.refresh_from_db()
    assert committee_topic.is_public is True

    done = worker.post(url, {"is_public": False}, content_type="application/json")
    assert done.status_code == 200 and done.json()["is_public"] is False
    committee_topic.refresh_from_db()
    assert committee_topic.is_public is False


def test_the_api_raises_a_topic_kept_to_the_community(people, rule_set):
    response = reader(people.community_worker, "en").post(
        f"{API}/",
        {
            "community_id": people.community.pk,
            "rule_set_id": rule_set.pk,
            "title": "两户漏水协商",
            "description": "2栋两户之间的漏水赔偿。",
            "origin": "committee",
            "is_public": False,
        },
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["is_public"] is False


# Reasons in the reader's language ---------------------------------------------------------------------------


def test_a_vote_closed_in_chinese_reads_in_english(closed_in):
    motion = closed_in("zh-hans")
    with translation.override("en"):
        assert selectors.motion_reasons(motion) == PASSED_EN
    with translation.override("zh-hans"):
        assert selectors.motion_reasons(motion) == PASSED_ZH


def test_a_vote_closed_in_english_reads_in_chinese(closed_in):
    motion = closed_in("en", voting=[Choice.YES])  # one of three: below the half the rules ask for
    assert motion.passed is False
    with translation.override("zh-hans"):
        reasons = selectors.motion_reasons(motion)
    assert reasons == ["赞成票占有效票的100.0%（1票中1票），超过半数的要求。", "未达到法定人数。"]


def test_the_record_keeps_the_inputs_and_no_sentences(closed_in):
    figures = closed_in("zh-hans").figures
    assert "reasons" not in figures
    assert (figures["rule"], figures["major"]) == (DecisionRule.MAJORITY_OF_CAST, False)
    assert (figures["quorum_basis"], figures["quorum_share"]) == (QuorumBasis.PERSONS, "0.5000")
    assert (figures["present"]["heads"], figures["took_part"]["heads"], figures["electorate"]["heads"]) == (
        3,
        3,
        3,
    )
    assert figures["quorum_met"] is True


def test_an_undecided_motion_has_no_reasons(people, topic_with_voters, start_voting):
    consultation, _voters = topic_with_voters(count=2)
    (motion,) = start_voting(consultation)
    assert selectors.motion_reasons(motion) == []


def test_owners_reasons_are_decided_again_by_the_civil_code(people, topic_with_voters, start_voting):
    owners_rules = services.rule_set_create(
        by=people.community_worker, region=people.community, name="业主共同决定事项", notice_days=3,
        vote_unit=VoteUnit.OWNER, decision_rule=DecisionRule.CIVIL_CODE_278,
    )  # fmt: skip
    consultation, owners = topic_with_voters(
        areas=[Decimal(50), Decimal(50), Decimal(200)], rules=owners_rules
    )
    (motion,) = start_voting(consultation)
    for owner in owners:
        services.ballot_cast(motion=motion, by=owner, choice=Choice.YES)
    with translation.override("zh-hans"):
        services.voting_close(consultation=consultation, by=people.community_worker)
    motion.refresh_from_db()
    with translation.override("en"):
        reasons = selectors.motion_reasons(motion)
    assert motion.passed is True
    assert reasons[0] == "Turnout by head was 100.0% (3 of 3 owners), at least the two-thirds required."
    assert reasons[2].startswith("Consent by head was 100.0% of the owners taking part (3 of 3)")


def test_the_pages_show_the_readers_language(people, closed_in):
    motion = closed_in("zh-hans")
    detail = reader(people.resident, "en").get(reverse("consultations:detail", args=[motion.consultation_id]))
    assert PASSED_EN[0] in detail.content.decode()
    manage = reader(people.community_worker, "en").get(
        reverse("consultations:manage", args=[motion.consultation_id])
    )
    assert PASSED_EN[0] in manage.content.decode()
    chinese = reader(people.community_worker, "zh-hans").get(
        reverse("consultations:manage", args=[motion.consultation_id])
    )
    assert PASSED_ZH[0] in chinese.content.decode()


def test_the_resolution_pdf_reads_in_the_readers_language(closed_in):
    motion = closed_in("zh-hans")
    with translation.override("en"):
        shown = pdf_text(resolution_pdf(motion.consultation, [motion]))
    assert "Abstentions (1) do not count as votes cast." in shown
    with translation.override("zh-hans"):
        shown = pdf_text(resolution_pdf(motion.consultation, [motion]))
    assert PASSED_ZH[1] in shown


def test_the_api_gives_the_reasons_in_the_requests_language(people, closed_in):
    motion = closed_in("zh-hans")
    response = reader(people.resident, "en").get(
        f"{API}/{motion.consultation_id}", headers={"Accept-Language": "en"}
    )
    (result,) = [m["result"] for m in response.json()["motions"]]
    assert result["reasons"] == PASSED_EN


def test_staff_use_the_rule_sets_their_community_uses(people, rule_set, english_messages):
    street_rules = services.rule_set_create(by=people.street_officer, region=people.street, name="街道规则")
    services.rule_set_create(by=people.outsider, region=people.other_community, name="吉福规则")
    assert set(selectors.rule_sets_usable_by(people.community_worker)) == {rule_set, street_rules}
    assert set(selectors.rule_sets_for(people.community)) == {rule_set, street_rules}
