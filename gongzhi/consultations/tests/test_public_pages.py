"""The pages residents and participants use: the list, a consultation's page (co-sign, object, evaluate, the
public record), proposing a topic, voting, signing in by the hall's code, materials and the printable
resolution. Each page calls the services; what the viewer may not see is a 404, what they may see but not do
says why."""

import datetime

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from gongzhi.consultations import services
from gongzhi.consultations.models import (
    Attendance,
    Ballot,
    BallotReceipt,
    Consultation,
    CoSign,
    Evaluation,
    Objection,
    Origin,
    Stage,
)
from gongzhi.matters import services as matter_services
from gongzhi.matters.models import Category
from gongzhi.volunteering.tests.test_certificates import pdf_text


@pytest.fixture(autouse=True)
def english(client):
    """Assertions read the English msgids, whatever the state of the Chinese catalogue."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def url(name: str, consultation: Consultation, *args) -> str:
    return reverse(f"consultations:{name}", args=[consultation.pk, *args])


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def resident_topic(people, rule_set):
    """张居民's topic, gathering co-signers (two needed)."""
    return services.consultation_propose(
        by=people.resident,
        community=people.community,
        rule_set=rule_set,
        title="楼道堆物清理",
        description="1栋楼道堆放杂物，存在消防隐患，建议统一清理。",
        origin=Origin.RESIDENT,
    )


@pytest.fixture
def hidden(committee_topic):
    """The committee's topic, its record not public."""
    Consultation.objects.filter(pk=committee_topic.pk).update(is_public=False)
    return committee_topic


@pytest.fixture
def voting(committee_topic, start_voting):
    """The committee's topic in its vote: two motions, 张居民 (with an account) and 李奶奶 on the roll."""
    start_voting(committee_topic, "同意在院落内划定停车位。", "同意每月收取车位管理费50元。")
    committee_topic.refresh_from_db()
    return committee_topic


@pytest.fixture
def decided(people, voting):
    """Voting closed after 张居民 voted for both motions."""
    for motion in voting.motions.all():
        services.ballot_cast(motion=motion, by=people.resident, choice="yes")
    services.voting_close(consultation=voting, by=people.community_worker)
    voting.refresh_from_db()
    return voting


@pytest.fixture
def published(people, decided):
    services.consultation_publish(consultation=decided, by=people.community_worker)
    decided.refresh_from_db()
    return decided


@pytest.fixture
def evaluating(people, published):
    """Implemented (one task, done) and open to the participants' evaluation."""
    services.consultation_conclude_publication(
        consultation=published,
        by=people.community_worker,
        now=published.publication_ends_at + datetime.timedelta(seconds=1),
    )
    task = services.task_add(
        consultation=published,
        by=people.community_worker,
        title="施划停车线",
        responsible="物业公司",
        due_on=timezone.localdate(),
    )
    services.progress_report(task=task, by=people.community_worker, text="已全部施划完成。", done=True)
    services.evaluation_open(consultation=published, by=people.community_worker)
    published.refresh_from_db()
    return published


# The list ---------------------------------------------------------------------------------------------------


def test_it_lists_public_consultations_to_anyone_newest_first(client, people, rule_set, resident_topic):
    services.consultation_propose(
        by=people.community_worker,
        community=people.community,
        rule_set=rule_set,
        title="院落停车位划线",
        description="划定车位。",
        origin=Origin.COMMITTEE,
    )
    hidden_topic = services.consultation_propose(
        by=people.community_worker,
        community=people.community,
        rule_set=rule_set,
        title="内部议题",
        description="不公开。",
        origin=Origin.COMMITTEE,
    )
    Consultation.objects.filter(pk=hidden_topic.pk).update(is_public=False)
    page = text(client.get(reverse("consultations:list")))
    assert page.index("院落停车位划线") < page.index("楼道堆物清理")
    assert "内部议题" not in page
    assert "0 of 2 co-signers" in page


def test_it_shows_non_public_consultations_to_the_communitys_residents(login, people, hidden):
    assert hidden.title in text(login(people.resident).get(reverse("consultations:list")))
    assert hidden.title not in text(login(people.outsider).get(reverse("consultations:list")))


def test_it_filters_by_stage_group(client, resident_topic, committee_topic):
    cosigning = text(client.get(reverse("consultations:list"), {"show": "cosigning"}))
    assert resident_topic.title in cosigning and committee_topic.title not in cosigning
    progress = text(client.get(reverse("consultations:list"), {"show": "progress"}))
    assert committee_topic.title in progress and resident_topic.title not in progress
    assert resident_topic.title in text(client.get(reverse("consultations:list"), {"show": "nonsense"}))


def test_it_lists_decided_consultations_under_decided(client, decided, resident_topic):
    page = text(client.get(reverse("consultations:list"), {"show": "decided"}))
    assert decided.title in page and resident_topic.title not in page


def test_the_lists_queries_do_not_grow_with_its_rows(login, people, rule_set, django_assert_max_num_queries):
    client = login(people.resident)

    def add(count):
        for number in range(count):
            services.consultation_propose(
                by=people.resident,
                community=people.community,
                rule_set=rule_set,
                title=f"议题{number}",
                description="说明",
                origin=Origin.RESIDENT,
            )

    add(2)
    with django_assert_max_num_queries(8) as few:
        assert client.get(reverse("consultations:list")).status_code == 200
    add(18)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("consultations:list"))
    assert text(response).count("议题") == 20


# A consultation's page --------------------------------------------------------------------------------------


def test_it_shows_the_topic_its_rules_and_its_record(client, people, resident_topic):
    response = client.get(url("detail", resident_topic))
    page = text(response)
    assert response.status_code == 200
    assert "楼道堆物清理" in page
    assert "Gathering co-signers" in page
    assert "A resident's topic needs 2 co-signers within 14 days." in page
    assert "notified at least 3 days before the meeting" in page
    assert "More than half of the votes cast" in page
    assert "Quorum: Share of eligible persons present, at least 50%." in page
    assert "Topic proposed" in page
    assert "张*民" in page  # the public sees the proposer's name masked
    assert "Rules of speech" not in page


def test_staff_see_names_in_the_record(login, people, resident_topic):
    assert "张居民" in text(login(people.community_worker).get(url("detail", resident_topic)))


def test_it_links_the_matter_a_topic_was_raised_from(client, people, rule_set):
    matter_services.default_categories_install()
    matter = matter_services.matter_report(
        entered_by=people.resident,
        category=Category.objects.get(community=None, code="repairs"),
        description="电梯经常停运",
        region=people.building,
    )
    topic = services.consultation_propose(
        by=people.community_worker,
        community=people.community,
        rule_set=rule_set,
        title="电梯维修",
        description="电梯经常停运，商议维修方案。",
        origin=Origin.MATTER,
        source_matter=matter,
    )
    assert reverse("matters:detail", args=[matter.pk]) in text(client.get(url("detail", topic)))


def test_it_shows_the_meeting_and_the_rules_of_speech_once_a_meeting_is_called(client, voting):
    page = text(client.get(url("detail", voting)))
    assert "Rules of speech at the meeting" in page
    assert "发言不超时" in page
    assert "同意在院落内划定停车位。" in page


def test_it_shows_the_committees_reason(client, people, rule_set):
    topic = services.consultation_propose(
        by=people.work_unit_staff,
        community=people.community,
        rule_set=rule_set,
        title="开放单位食堂",
        description="向老人开放职工食堂。",
        origin=Origin.ORGANISATION,
        organisation=people.work_unit,
    )
    services.consultation_review(
        consultation=topic, by=people.community_worker, accept=False, reason="已有社区食堂，不重复建设。"
    )
    page = text(client.get(url("detail", topic)))
    assert "已有社区食堂，不重复建设。" in page
    assert "Declined by the committee" in page


def test_an_outsider_gets_404_on_a_consultation_that_is_not_public(login, people, hidden):
    client = login(people.outsider)
    for name in ("detail", "vote", "signin"):
        assert client.get(url(name, hidden)).status_code == 404, name
    assert client.post(url("cosign", hidden)).status_code == 404


def test_anonymous_visitors_get_404_on_a_consultation_that_is_not_public(client, hidden):
    assert client.get(url("detail", hidden)).status_code == 404


# Co-signing -------------------------------------------------------------------------------------------------


def test_a_resident_co_signs(login, people, resident_topic, make_resident):
    neighbour = make_resident("王邻居")
    client = login(neighbour)
    assert "Co-sign this topic" in text(client.get(url("detail", resident_topic)))
    response = client.post(url("cosign", resident_topic), follow=True)
    assert "Thank you: you co-signed this topic." in text(response)
    assert "1 of 2 co-signers" in text(response)
    assert CoSign.objects.filter(consultation=resident_topic, user=neighbour).exists()


def test_co_signing_twice_is_refused_and_changes_nothing(login, people, resident_topic, make_resident):
    client = login(make_resident("王邻居"))
    client.post(url("cosign", resident_topic))
    response = client.post(url("cosign", resident_topic))
    assert response.status_code == 400
    assert "You have already co-signed this topic." in text(response)
    assert CoSign.objects.filter(consultation=resident_topic).count() == 1


def test_someone_of_another_community_sees_why_they_cannot_co_sign(
    login, people, resident_topic, make_resident
):
    client = login(make_resident("王吉福", region=people.other_building))
    page = text(client.get(url("detail", resident_topic)))
    assert "Only residents of 清波社区 can co-sign." in page
    assert "Co-sign this topic" not in page
    response = client.post(url("cosign", resident_topic))
    assert response.status_code == 400
    assert "Only residents of this community can do that." in text(response)
    assert not CoSign.objects.exists()


def test_the_proposer_is_told_others_co_sign(login, people, resident_topic):
    page = text(login(people.resident).get(url("detail", resident_topic)))
    assert "You proposed this topic; others co-sign it." in page


# Proposing --------------------------------------------------------------------------------------------------


def test_a_resident_proposes_a_topic_in_their_community(login, people, rule_set):
    client = login(people.resident)
    form = client.get(reverse("consultations:propose"))
    assert "日常议事规则" in text(form)
    response = client.post(
        reverse("consultations:propose"),
        {"title": "增设快递柜", "description": "院落内没有快递柜，取件不便。", "rule_set": rule_set.pk},
    )
    topic = Consultation.objects.get(title="增设快递柜")
    assert response.status_code == 302 and response.url == url("detail", topic)
    assert (topic.origin, topic.stage, topic.proposed_by) == (
        Origin.RESIDENT,
        Stage.COSIGNING,
        people.resident,
    )


def test_it_offers_only_the_communitys_and_its_streets_rule_sets(login, people, rule_set):
    foreign = services.rule_set_create(by=people.outsider, region=people.other_community, name="吉福规则")
    client = login(people.resident)
    assert "吉福规则" not in text(client.get(reverse("consultations:propose")))
    response = client.post(
        reverse("consultations:propose"),
        {"title": "增设快递柜", "description": "取件不便。", "rule_set": foreign.pk},
    )
    assert response.status_code == 400
    assert "Select a valid choice" in text(response)
    assert not Consultation.objects.exists()


def test_a_topic_without_a_title_is_refused(login, people, rule_set):
    response = login(people.resident).post(
        reverse("consultations:propose"), {"title": "", "description": "说明", "rule_set": rule_set.pk}
    )
    assert response.status_code == 400
    assert not Consultation.objects.exists()


def test_organisation_staff_propose_for_their_organisation(login, people, rule_set):
    client = login(people.provider_staff)
    chooser = text(client.get(reverse("consultations:propose")))
    assert "清波社区" in chooser and "东坡社区" in chooser  # the agency serves the whole street
    propose_url = reverse("consultations:propose") + f"?community={people.community.pk}"
    response = client.post(
        propose_url,
        {
            "title": "开设长者课堂",
            "description": "每周两次为老人开设智能手机课。",
            "rule_set": rule_set.pk,
            "proposer": people.agency.pk,
        },
    )
    topic = Consultation.objects.get(title="开设长者课堂")
    assert response.status_code == 302
    assert (topic.origin, topic.organisation, topic.stage) == (
        Origin.ORGANISATION,
        people.agency,
        Stage.REVIEW,
    )


def test_someone_with_no_community_is_asked_to_link_their_household(login, people, make_resident):
    response = login(people.outsider).get(reverse("consultations:propose"))
    assert "first link your account to your household" in text(response)


def test_proposing_needs_an_account(client):
    response = client.get(reverse("consultations:propose"))
    assert response.status_code == 302 and "login" in response.url


# Voting -----------------------------------------------------------------------------------------------------


def test_a_voter_votes_on_each_motion_and_sees_their_open_ballot(login, people, voting):
    client = login(people.resident)
    assert reverse("consultations:vote", args=[voting.pk]) in text(client.get(url("detail", voting)))
    first, second = voting.motions.all()
    response = client.post(url("vote", voting), {"motion": first.pk, "choice": "yes"}, follow=True)
    page = text(response)
    assert "Your vote on motion 1 is recorded." in page
    assert "You voted: For" in page
    assert 'data-testid="vote-form-2"' in page
    assert Ballot.objects.get(motion=first).choice == "yes"
    assert not Ballot.objects.filter(motion=second).exists()


def test_voting_twice_is_refused_and_changes_nothing(login, people, voting):
    client = login(people.resident)
    first = voting.motions.get(number=1)
    client.post(url("vote", voting), {"motion": first.pk, "choice": "yes"})
    response = client.post(url("vote", voting), {"motion": first.pk, "choice": "no"})
    assert response.status_code == 400
    assert "You have already voted on this motion." in text(response)
    assert list(Ballot.objects.values_list("choice", flat=True)) == ["yes"]


def test_voting_after_the_close_is_refused(login, people, voting):
    Consultation.objects.filter(pk=voting.pk).update(
        voting_closes_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    client = login(people.resident)
    assert "Voting is closed." in text(client.get(url("vote", voting)))
    response = client.post(url("vote", voting), {"motion": voting.motions.get(number=1).pk, "choice": "yes"})
    assert response.status_code == 400
    assert "Voting is closed." in text(response)
    assert not Ballot.objects.exists()


def test_a_vote_without_a_choice_or_on_another_consultations_motion_is_refused(
    login, people, voting, topic_with_voters, start_voting
):
    other, _voters = topic_with_voters(count=1)
    (foreign,) = start_voting(other)
    client = login(people.resident)
    response = client.post(url("vote", voting), {"motion": voting.motions.get(number=1).pk})
    assert response.status_code == 400
    response = client.post(url("vote", voting), {"motion": foreign.pk, "choice": "yes"})
    assert response.status_code == 400
    assert "Choose a motion of this consultation." in text(response)
    assert not Ballot.objects.exists()


def test_a_secret_ballot_shows_only_that_the_voter_voted(login, people, topic_with_voters, start_voting):
    secret = services.rule_set_create(
        by=people.community_worker, region=people.community, name="无记名投票", secret_ballot=True
    )
    consultation, (voter,) = topic_with_voters(count=1, rules=secret)
    (motion,) = start_voting(consultation)
    client = login(voter)
    page = text(client.post(url("vote", consultation), {"motion": motion.pk, "choice": "no"}, follow=True))
    assert "You have voted." in page
    assert "You voted:" not in page
    assert BallotReceipt.objects.filter(motion=motion).count() == 1
    assert not Ballot.objects.exists()


def test_results_show_before_the_close_only_when_the_rules_say_so(
    login, people, topic_with_voters, start_voting, voting
):
    client = login(people.resident)
    first = voting.motions.get(number=1)
    page = text(client.post(url("vote", voting), {"motion": first.pk, "choice": "yes"}, follow=True))
    assert "So far:" not in page
    showing = services.rule_set_create(
        by=people.community_worker, region=people.community, name="公开计票", results_before_close=True
    )
    consultation, (voter,) = topic_with_voters(count=1, rules=showing)
    (motion,) = start_voting(consultation)
    page = text(
        login(voter).post(url("vote", consultation), {"motion": motion.pk, "choice": "yes"}, follow=True)
    )
    assert "So far: For 1 · Against 0 · Abstain 0" in page


def test_someone_who_sees_the_consultation_but_is_not_on_the_roll_is_refused_plainly(
    login, people, voting, make_resident
):
    client = login(make_resident("王邻居"))
    response = client.get(url("vote", voting))
    assert response.status_code == 403
    assert "You are not on this consultation&#x27;s roll of voters" in text(response)
    response = client.post(url("vote", voting), {"motion": voting.motions.get(number=1).pk, "choice": "yes"})
    assert response.status_code == 403
    assert not Ballot.objects.exists()


def test_the_vote_page_says_when_voting_has_not_opened(login, people, committee_topic):
    response = login(people.resident).get(url("vote", committee_topic))
    assert "Voting has not opened yet." in text(response)


def test_after_the_close_a_voter_sees_the_result(login, people, decided):
    page = text(login(people.resident).get(url("vote", decided)))
    assert "You voted: For" in page
    assert "For 1 · Against 0 · Abstain 0" in page


# Signing in at the meeting ----------------------------------------------------------------------------------


def test_a_participant_signs_in_by_the_halls_code(login, people, voting):
    code = services.meeting_code(voting)
    client = login(people.resident)
    page = text(client.get(url("signin", voting) + f"?code={code}"))
    assert f'value="{code}"' in page
    assert "Confirm: sign me in" in page
    assert not Attendance.objects.exists()  # GET changes nothing
    response = client.post(url("signin", voting), {"code": code}, follow=True)
    assert "Signed in at" in text(response)
    assert Attendance.objects.get(consultation=voting).participant.resident == people.resident_record


def test_a_wrong_code_is_refused(login, people, voting):
    wrong = "000000" if services.meeting_code(voting) != "000000" else "111111"
    response = login(people.resident).post(url("signin", voting), {"code": wrong})
    assert response.status_code == 400
    assert "This code is not valid or has expired" in text(response)
    assert not Attendance.objects.exists()


def test_someone_who_is_not_a_participant_cannot_sign_in(login, people, voting, make_resident):
    client = login(make_resident("王邻居"))
    response = client.post(url("signin", voting), {"code": services.meeting_code(voting)})
    assert response.status_code == 403
    assert "You are not a participant of this consultation" in text(response)
    assert not Attendance.objects.exists()


# Objections and evaluation ----------------------------------------------------------------------------------


def test_a_resident_objects_while_the_objection_period_is_open(login, people, published, make_resident):
    client = login(make_resident("王邻居"))
    assert 'data-testid="object-form"' in text(client.get(url("detail", published)))
    response = client.post(url("object", published), {"text": "管理费过高，建议每月30元。"}, follow=True)
    assert "Your objection is filed" in text(response)
    assert "管理费过高，建议每月30元。" in text(response)
    assert Objection.objects.filter(consultation=published).count() == 1


def test_an_objection_after_the_period_is_refused(login, people, published):
    Consultation.objects.filter(pk=published.pk).update(
        objections_end_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    client = login(people.resident)
    assert "The time for objections has ended." in text(client.get(url("detail", published)))
    response = client.post(url("object", published), {"text": "太晚了"})
    assert response.status_code == 400
    assert "The time for objections has ended." in text(response)
    assert not Objection.objects.exists()


def test_an_empty_objection_is_refused(login, people, published):
    response = login(people.resident).post(url("object", published), {"text": "  "})
    assert response.status_code == 400
    assert not Objection.objects.exists()


def test_the_answer_to_an_objection_is_public(client, people, published):
    objection = services.objection_file(consultation=published, by=people.resident, text="费用过高")
    services.objection_answer(objection=objection, by=people.community_worker, answer="费用按成本核定。")
    page = text(client.get(url("detail", published)))
    assert "费用过高" in page and "费用按成本核定。" in page


def test_a_participant_evaluates_the_result_once(login, people, evaluating):
    client = login(people.resident)
    page = text(client.get(url("detail", evaluating)))
    assert 'data-testid="evaluate-form"' in page
    assert "施划停车线" in page and "已全部施划完成。" in page
    response = client.post(url("evaluate", evaluating), {"score": "4", "comment": "效果不错"}, follow=True)
    assert "Thank you for your evaluation." in text(response)
    assert "you have evaluated this result" in text(response)
    assert Evaluation.objects.get(consultation=evaluating).score == 4
    again = client.post(url("evaluate", evaluating), {"score": "1"})
    assert again.status_code == 400
    assert Evaluation.objects.get(consultation=evaluating).score == 4


def test_a_resident_who_took_no_part_cannot_evaluate(login, people, evaluating, make_resident):
    client = login(make_resident("王邻居"))
    assert "Only the participants evaluate the result." in text(client.get(url("detail", evaluating)))
    response = client.post(url("evaluate", evaluating), {"score": "5"})
    assert response.status_code == 400
    assert not Evaluation.objects.exists()


# Materials and the resolution -------------------------------------------------------------------------------


@pytest.fixture
def materials(people, committee_topic, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return services.attachment_add(
        consultation=committee_topic,
        by=people.community_worker,
        kind="materials",
        upload=SimpleUploadedFile("费用测算.txt", "每户每月50元".encode()),
    )


def test_materials_download_for_those_who_see_the_consultation(client, people, committee_topic, materials):
    page = text(client.get(url("detail", committee_topic)))
    link = url("attachment", committee_topic, materials.pk)
    assert link in page and "费用测算.txt" in page
    response = client.get(link)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == "每户每月50元".encode()


def test_materials_of_a_consultation_that_is_not_public_are_404_to_outsiders(
    login, people, committee_topic, materials
):
    Consultation.objects.filter(pk=committee_topic.pk).update(is_public=False)
    link = url("attachment", committee_topic, materials.pk)
    assert login(people.outsider).get(link).status_code == 404
    assert login(people.resident).get(link).status_code == 200


def test_the_resolution_is_a_pdf_with_the_topic_and_results(client, people, decided):
    page = text(client.get(url("detail", decided)))
    assert url("resolution_pdf", decided) in page
    assert "Passed" in page or "Not passed" in page
    response = client.get(url("resolution_pdf", decided))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    shown = pdf_text(response.content)
    for expected in ("院落停车位划线", "清波社区", "日常议事规则", "同意在院落内划定停车位。", "For 1"):
        assert expected in shown, expected


def test_the_published_resolution_carries_the_objection_deadline(client, published):
    shown = pdf_text(client.get(url("resolution_pdf", published)).content)
    assert timezone.localtime(published.objections_end_at).strftime("%Y-%m-%d %H:%M") in shown


def test_there_is_no_resolution_before_voting_closes(client, voting):
    assert client.get(url("resolution_pdf", voting)).status_code == 404
