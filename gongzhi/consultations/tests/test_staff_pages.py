"""The staff's consultation pages: rule sets, the desk and the page that runs a consultation step by step.
Every action goes through the pages as a client post; a refused one shows the service's message with status
400 and changes nothing; anyone without the right over the community gets a 404."""

import datetime
import itertools
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from conftest import grant, make_user
from gongzhi.consultations import services
from gongzhi.consultations.models import (
    Attachment,
    Attendance,
    Consultation,
    HallTally,
    Motion,
    Objection,
    Origin,
    Participant,
    ParticipantKind,
    RuleSet,
    Stage,
    Task,
)
from gongzhi.core.models import Region
from gongzhi.core.roles import Role
from gongzhi.core.services import region_create, resident_create


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def as_(client):
    """Signs the client in as a persona, reading pages in English (the services' msgids)."""

    def sign_in(user):
        client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return sign_in


def manage_url(consultation) -> str:
    return reverse("consultations:manage", args=[consultation.pk])


def act(client, consultation, action: str, **data):
    return client.post(reverse("consultations:manage_act", args=[consultation.pk, action]), data)


def local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def stage_of(consultation) -> str:
    return Consultation.objects.get(pk=consultation.pk).stage


def participant(consultation, resident) -> Participant:
    return Participant.objects.get(consultation=consultation, resident=resident)


@pytest.fixture
def meeting(people, committee_topic):
    """The committee topic with its notice sent four days ago and the meeting begun an hour ago."""
    now = timezone.now()
    services.consultation_notice(
        consultation=committee_topic,
        by=people.community_worker,
        meeting_at=now - datetime.timedelta(hours=1),
        materials="议题说明。",
        now=now - datetime.timedelta(days=4),
    )
    services.motion_add(consultation=committee_topic, by=people.community_worker, text="同意划线方案。")
    return committee_topic


@pytest.fixture
def voting(people, meeting):
    """The meeting with both residents signed in and voting open for two hours."""
    for resident in (people.resident_record, people.neighbour_record):
        services.attendance_sign_in(
            consultation=meeting, participant=participant(meeting, resident), by=people.community_worker
        )
    services.voting_open(
        consultation=meeting,
        by=people.community_worker,
        closes_at=timezone.now() + datetime.timedelta(hours=2),
    )
    return meeting


@pytest.fixture
def decided(people, voting):
    motion = voting.motions.get()
    tally = services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=2, no_heads=0)
    services.hall_tally_confirm(tally=tally, by=people.community_secretary)
    services.voting_close(consultation=voting, by=people.community_worker)
    return voting


@pytest.fixture
def published(people, decided):
    services.consultation_publish(consultation=decided, by=people.community_worker)
    return decided


@pytest.fixture
def implementing(people, published):
    Consultation.objects.filter(pk=published.pk).update(publication_ends_at=timezone.now())
    services.consultation_conclude_publication(consultation=published, by=people.community_worker)
    return published


# Scope ------------------------------------------------------------------------------------------------------


@pytest.fixture
def other_street_officer(people):
    user = make_user("13800000099", "晋阳街道干部")
    grant(user, Role.STREET_OFFICER, region=people.other_community.parent)
    return user


@pytest.mark.parametrize("who", ["resident", "outsider", "other_street_officer", "district_officer"])
def test_it_answers_404_to_anyone_without_the_right_over_the_community(
    people, committee_topic, as_, who, request
):
    user = request.getfixturevalue(who) if who == "other_street_officer" else getattr(people, who)
    client = as_(user)
    for url in (
        manage_url(committee_topic),
        reverse("consultations:manage_quorum", args=[committee_topic.pk]),
        reverse("consultations:manage_code", args=[committee_topic.pk]),
        reverse("consultations:manage_roster", args=[committee_topic.pk]),
    ):
        assert client.get(url).status_code == 404
    response = act(client, committee_topic, "motion", text="偷偷加一个动议。")
    assert response.status_code == 404
    assert not Motion.objects.filter(consultation=committee_topic).exists()


@pytest.mark.parametrize("who", ["resident", "provider_staff", "district_officer"])
def test_it_hides_the_desk_and_the_rules_from_those_who_run_no_consultations(people, as_, who):
    client = as_(getattr(people, who))
    assert client.get(reverse("consultations:desk")).status_code == 404
    assert client.get(reverse("consultations:rules")).status_code == 404


def test_it_lets_the_street_officer_of_this_street_run_the_consultation(people, committee_topic, as_):
    response = as_(people.street_officer).get(manage_url(committee_topic))
    assert response.status_code == 200
    assert committee_topic.title in response.content.decode()


def test_it_hides_another_streets_consultation_from_the_street_officer(people, as_, other_street_officer):
    rule_set = services.rule_set_create(
        by=other_street_officer, region=people.other_community, name="吉福规则"
    )
    topic = services.consultation_propose(
        by=other_street_officer,
        community=people.other_community,
        rule_set=rule_set,
        title="吉福议题",
        description="说明",
        origin=Origin.COMMITTEE,
    )
    assert as_(people.street_officer).get(manage_url(topic)).status_code == 404
    assert "吉福议题" not in as_(people.street_officer).get(reverse("consultations:desk")).content.decode()


# Rule sets --------------------------------------------------------------------------------------------------


def rule_set_data(region, **fields) -> dict:
    data = {
        "region": region.pk,
        "name": "业主表决规则",
        "cosign_threshold": 5,
        "cosign_days": 14,
        "review_days": 5,
        "notice_days": 7,
        "quorum_basis": "owners",
        "quorum_share": "0.6667",
        "vote_unit": "owner",
        "decision_rule": "civil_code_278",
        "publication_days": 7,
        "objection_days": 5,
        "secret_ballot": "on",
        "speech_rules": "不超时。\n不打断。",
    }
    return data | fields


def test_it_creates_a_rule_set_with_every_field(people, as_):
    client = as_(people.community_worker)
    response = client.post(reverse("consultations:rules"), rule_set_data(people.community))
    assert response.status_code == 302
    rule_set = RuleSet.objects.get(name="业主表决规则")
    assert (rule_set.region, rule_set.vote_unit, rule_set.decision_rule) == (
        people.community,
        "owner",
        "civil_code_278",
    )
    assert rule_set.secret_ballot and not rule_set.results_before_close
    assert rule_set.notice_days == 7 and str(rule_set.quorum_share) == "0.6667"
    assert "业主表决规则" in client.get(reverse("consultations:rules")).content.decode()


def test_it_shows_the_services_field_error_and_saves_nothing(people, as_):
    client = as_(people.community_worker)
    response = client.post(
        reverse("consultations:rules"),
        rule_set_data(people.community, decision_rule="civil_code_278", vote_unit="person"),
    )
    assert response.status_code == 400
    assert "The Civil Code&#x27;s owners&#x27; rule counts owner units." in response.content.decode()
    assert not RuleSet.objects.filter(name="业主表决规则").exists()


def test_it_refuses_a_region_outside_the_workers_community(people, as_):
    response = as_(people.community_worker).post(reverse("consultations:rules"), rule_set_data(people.street))
    assert response.status_code == 400
    assert not RuleSet.objects.exists()


def test_the_street_officer_keeps_rule_sets_for_the_street(people, as_):
    client = as_(people.street_officer)
    response = client.post(
        reverse("consultations:rules"), rule_set_data(people.street, name="苏坡街道通用规则")
    )
    assert response.status_code == 302
    assert RuleSet.objects.get(name="苏坡街道通用规则").region == people.street
    # The community's worker sees the street's rule set among those the community may use.
    assert (
        "苏坡街道通用规则"
        in as_(people.community_worker).get(reverse("consultations:rules")).content.decode()
    )


# The desk ---------------------------------------------------------------------------------------------------


def test_it_lists_topics_awaiting_review_with_their_deadline(people, rule_set, as_):
    topic = services.consultation_propose(
        by=people.provider_staff,
        community=people.community,
        rule_set=rule_set,
        title="社工站活动室改造",
        description="说明",
        origin=Origin.ORGANISATION,
        organisation=people.agency,
    )
    page = as_(people.community_worker).get(reverse("consultations:desk")).content.decode()
    review = page.split('data-testid="desk-review"')[1].split("</section>")[0]
    assert "社工站活动室改造" in review
    assert timezone.localtime(topic.review_deadline).strftime("%Y-%m-%d %H:%M") in review


def test_it_raises_a_committee_topic_straight_into_preparation(people, rule_set, as_):
    response = as_(people.community_worker).post(
        reverse("consultations:desk"),
        {
            "community": people.community.pk,
            "rule_set": rule_set.pk,
            "title": "小区垃圾分类点位调整",
            "description": "现有点位离2栋太近。",
            "origin": "survey",
            "source_note": "2024年需求调查：环境卫生",
        },
    )
    topic = Consultation.objects.get(title="小区垃圾分类点位调整")
    assert response.status_code == 302 and response.url == manage_url(topic)
    assert (topic.stage, topic.origin, topic.source_note) == (
        Stage.PREPARING,
        Origin.SURVEY,
        "2024年需求调查：环境卫生",
    )


def test_it_refuses_a_survey_topic_without_its_source(people, rule_set, as_):
    response = as_(people.community_worker).post(
        reverse("consultations:desk"),
        {
            "community": people.community.pk,
            "rule_set": rule_set.pk,
            "title": "无来源议题",
            "description": "说明",
            "origin": "survey",
        },
    )
    assert response.status_code == 400
    assert "Say which survey finding raised the topic." in response.content.decode()
    assert not Consultation.objects.exists()


def test_it_refuses_a_matter_number_that_does_not_exist(people, rule_set, as_):
    response = as_(people.community_worker).post(
        reverse("consultations:desk"),
        {
            "community": people.community.pk,
            "rule_set": rule_set.pk,
            "title": "来自诉求",
            "description": "说明",
            "origin": "matter",
            "source_matter": 999999,
        },
    )
    assert response.status_code == 400
    assert "There is no matter with this number." in response.content.decode()
    assert not Consultation.objects.exists()


def test_the_desk_reads_a_flat_number_of_queries(people, rule_set, as_, django_assert_max_num_queries):
    client = as_(people.community_worker)

    def raise_topics(count):
        for number in range(count):
            services.consultation_propose(
                by=people.community_worker,
                community=people.community,
                rule_set=rule_set,
                title=f"议题{Consultation.objects.count()}-{number}",
                description="说明",
                origin=Origin.COMMITTEE,
            )

    raise_topics(1)
    client.get(reverse("consultations:desk"))
    with django_assert_max_num_queries(16) as few:
        client.get(reverse("consultations:desk"))
    raise_topics(15)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("consultations:desk"))
    assert page.content.decode().count('href="/consultations/') >= 16


# Review -----------------------------------------------------------------------------------------------------


@pytest.fixture
def organisation_topic(people, rule_set):
    return services.consultation_propose(
        by=people.provider_staff,
        community=people.community,
        rule_set=rule_set,
        title="社工站活动室改造",
        description="说明",
        origin=Origin.ORGANISATION,
        organisation=people.agency,
    )


def test_it_accepts_a_topic_with_a_public_reason(people, organisation_topic, as_):
    response = act(
        as_(people.community_worker), organisation_topic, "review", decision="accept", reason="符合社区需要。"
    )
    assert response.status_code == 302
    organisation_topic.refresh_from_db()
    assert (organisation_topic.stage, organisation_topic.review_reason) == (Stage.PREPARING, "符合社区需要。")


def test_it_declines_a_topic_and_needs_the_reason(people, organisation_topic, as_):
    client = as_(people.community_worker)
    assert act(client, organisation_topic, "review", decision="decline", reason="").status_code == 400
    assert stage_of(organisation_topic) == Stage.REVIEW
    act(client, organisation_topic, "review", decision="decline", reason="不属于社区事务。")
    assert stage_of(organisation_topic) == Stage.DECLINED


# Participants -----------------------------------------------------------------------------------------------


def test_it_adds_every_household_of_a_building(people, committee_topic, as_):
    resident_create(created_by=people.admin, region=people.building, name="赵一", room="1-102")
    response = act(
        as_(people.community_worker),
        committee_topic,
        "participants_region",
        region=people.building.pk,
        households="1",
    )
    assert response.status_code == 302
    households = committee_topic.participants.filter(kind=ParticipantKind.HOUSEHOLD)
    assert households.count() == 2  # 1-101 and 1-102


def test_it_refuses_an_area_outside_the_community(people, committee_topic, as_):
    response = act(
        as_(people.community_worker), committee_topic, "participants_region", region=people.other_building.pk
    )
    assert response.status_code == 400
    assert committee_topic.participants.count() == 2


def test_it_finds_a_resident_on_the_roster_and_adds_them_as_an_owner_with_their_area(
    people, committee_topic, as_
):
    owner = resident_create(created_by=people.admin, region=people.building, name="钱业主", room="1-301")
    client = as_(people.community_worker)
    found = client.get(reverse("consultations:manage_roster", args=[committee_topic.pk]), {"q": "钱"})
    assert "钱业主" in found.content.decode() and "王吉福" not in found.content.decode()
    response = act(
        client, committee_topic, "participant", kind="owner", resident=owner.pk, floor_area="89.50"
    )
    assert response.status_code == 302
    added = Participant.objects.get(consultation=committee_topic, resident=owner)
    assert (added.kind, str(added.floor_area)) == ("owner", "89.50")


def test_it_refuses_a_resident_of_another_community(people, committee_topic, as_):
    response = act(
        as_(people.community_worker),
        committee_topic,
        "participant",
        kind="resident",
        resident=people.other_resident_record.pk,
    )
    assert response.status_code == 400
    assert "Choose a resident of this community." in response.content.decode()
    assert committee_topic.participants.count() == 2


def test_it_adds_an_organisation_and_an_expert_who_does_not_vote(people, committee_topic, as_):
    client = as_(people.community_worker)
    act(client, committee_topic, "participant", kind="work_unit", organisation=people.work_unit.pk)
    act(client, committee_topic, "participant", kind="expert", name="陈规划师（城市规划）")
    assert committee_topic.participants.get(organisation=people.work_unit).votes
    assert not committee_topic.participants.get(kind="expert").votes
    page = client.get(manage_url(committee_topic)).content.decode()
    assert "蜀都银行" in page and "陈规划师（城市规划）" in page


def test_it_adds_a_motion(people, committee_topic, as_):
    act(as_(people.community_worker), committee_topic, "motion", text="同意划定40个车位。")
    assert list(committee_topic.motions.values_list("number", "text")) == [(1, "同意划定40个车位。")]


# Notice, attachments and minutes ----------------------------------------------------------------------------


def test_it_sends_the_notice(people, committee_topic, as_):
    meeting_at = timezone.now() + datetime.timedelta(days=5)
    response = act(
        as_(people.community_worker),
        committee_topic,
        "notice",
        meeting_at=local(meeting_at),
        place="社区议事厅",
        online="on",
        materials="停车方案草图。",
    )
    assert response.status_code == 302
    committee_topic.refresh_from_db()
    assert committee_topic.notice_sent_at is not None and committee_topic.meeting_place == "社区议事厅"
    assert local(committee_topic.meeting_at) == local(meeting_at)


def test_it_refuses_a_meeting_earlier_than_the_notice_days(people, committee_topic, as_):
    response = act(
        as_(people.community_worker),
        committee_topic,
        "notice",
        meeting_at=local(timezone.now() + datetime.timedelta(days=1)),
        materials="停车方案草图。",
    )
    assert response.status_code == 400
    assert "The rules ask for 3 days&#x27; notice" in response.content.decode()
    committee_topic.refresh_from_db()
    assert committee_topic.meeting_at is None and committee_topic.notice_sent_at is None


def test_it_attaches_materials_and_serves_them_to_staff_only(people, committee_topic, as_):
    client = as_(people.community_worker)
    upload = SimpleUploadedFile("停车方案.pdf", b"%PDF-1.4 plan", content_type="application/pdf")
    response = client.post(
        reverse("consultations:manage_act", args=[committee_topic.pk, "attachment"]),
        {"kind": "materials", "file": upload},
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get(consultation=committee_topic)
    assert (attachment.kind, attachment.name) == ("materials", "停车方案.pdf")
    url = reverse("consultations:manage_attachment", args=[committee_topic.pk, attachment.pk])
    assert b"".join(client.get(url).streaming_content) == b"%PDF-1.4 plan"
    assert as_(people.outsider).get(url).status_code == 404


def test_it_refuses_an_attachment_of_the_wrong_kind_of_file(people, committee_topic, as_):
    response = as_(people.community_worker).post(
        reverse("consultations:manage_act", args=[committee_topic.pk, "attachment"]),
        {"kind": "materials", "file": SimpleUploadedFile("run.exe", b"MZ")},
    )
    assert response.status_code == 400
    assert not Attachment.objects.exists()


def test_it_records_the_minutes_with_an_attachment(people, meeting, as_):
    client = as_(people.community_worker)
    assert act(client, meeting, "minutes", minutes="张居民发言支持划线。").status_code == 302
    client.post(
        reverse("consultations:manage_act", args=[meeting.pk, "attachment"]),
        {"kind": "minutes", "file": SimpleUploadedFile("签到表.jpg", b"\xff\xd8\xff")},
    )
    meeting.refresh_from_db()
    assert meeting.minutes == "张居民发言支持划线。"
    assert meeting.attachments.get().kind == "minutes"


# The meeting console ----------------------------------------------------------------------------------------


def test_the_console_shows_the_rotating_sign_in_code_and_the_rules_of_speech(people, meeting, as_):
    page = as_(people.community_worker).get(manage_url(meeting)).content.decode()
    code = services.meeting_code(meeting)
    assert f'data-testid="meeting-code">{code}<' in page
    assert "<svg" in page and "不打断" in page
    partial = as_(people.community_worker).get(reverse("consultations:manage_code", args=[meeting.pk]))
    assert 'hx-trigger="every 30s"' in partial.content.decode()
    signin = reverse("consultations:signin", args=[meeting.pk])
    assert partial.context["code"]["url"] == f"http://testserver{signin}?code={code}"


def test_staff_sign_participants_in_and_out_and_the_quorum_follows(people, meeting, as_):
    client = as_(people.community_worker)
    quorum_url = reverse("consultations:manage_quorum", args=[meeting.pk])
    zhang, li = participant(meeting, people.resident_record), participant(meeting, people.neighbour_record)
    assert "Quorum not met" in client.get(quorum_url).content.decode()

    act(client, meeting, "sign_in", participant=zhang.pk)
    partial = client.get(quorum_url).content.decode()
    assert "1 of 2 voters present" in partial and "Quorum met" in partial  # half is enough under these rules

    act(client, meeting, "sign_in", participant=li.pk)
    assert "2 of 2 voters present" in client.get(quorum_url).content.decode()

    assert act(client, meeting, "leave", participant=zhang.pk).status_code == 302
    act(client, meeting, "leave", participant=li.pk)
    partial = client.get(quorum_url).content.decode()
    assert "0 of 2 voters present" in partial and "Quorum not met" in partial
    assert Attendance.objects.filter(consultation=meeting, left_at__isnull=False).count() == 2


def test_it_refuses_to_sign_in_someone_twice(people, meeting, as_):
    client = as_(people.community_worker)
    zhang = participant(meeting, people.resident_record)
    act(client, meeting, "sign_in", participant=zhang.pk)
    response = act(client, meeting, "sign_in", participant=zhang.pk)
    assert response.status_code == 400
    assert "张居民 has already signed in." in response.content.decode()


def test_it_refuses_a_participant_of_another_consultation(people, meeting, topic_with_voters, as_):
    other, _voters = topic_with_voters(count=1, title="另一议题")
    response = act(as_(people.community_worker), meeting, "sign_in", participant=other.participants.get().pk)
    assert response.status_code == 400
    assert "This is not part of this consultation" in response.content.decode()
    assert not Attendance.objects.exists()


# Voting -----------------------------------------------------------------------------------------------------


def test_it_opens_voting(people, meeting, as_):
    closes_at = timezone.now() + datetime.timedelta(hours=2)
    response = act(as_(people.community_worker), meeting, "voting_open", closes_at=local(closes_at))
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.stage == Stage.VOTING and meeting.roll.count() == 2


def test_it_refuses_an_impossible_hall_count(people, voting, as_):
    motion = voting.motions.get()
    response = act(
        as_(people.community_worker),
        voting,
        "hall_tally",
        motion=motion.pk,
        yes_heads=3,
        no_heads=0,
        abstain_heads=0,
    )
    assert response.status_code == 400
    assert "3 votes counted, but only 2 voters not voting online are signed in." in response.content.decode()
    assert not HallTally.objects.exists()


def test_a_second_staff_member_confirms_the_hall_count(people, voting, as_):
    motion = voting.motions.get()
    worker = as_(people.community_worker)
    response = act(worker, voting, "hall_tally", motion=motion.pk, yes_heads=1, no_heads=1, abstain_heads=0)
    assert response.status_code == 302
    tally = HallTally.objects.get(motion=motion)

    refused = act(worker, voting, "hall_confirm", tally=tally.pk)
    assert refused.status_code == 400
    assert "A second staff member must confirm the count." in refused.content.decode()
    tally.refresh_from_db()
    assert tally.confirmed_at is None

    act(as_(people.community_secretary), voting, "hall_confirm", tally=tally.pk)
    tally.refresh_from_db()
    assert tally.confirmed_by == people.community_secretary


def test_closing_shows_each_motions_result_and_reasons(people, voting, as_):
    motion = voting.motions.get()
    tally = services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=2, no_heads=0)
    services.hall_tally_confirm(tally=tally, by=people.community_secretary)
    client = as_(people.community_worker)
    assert act(client, voting, "voting_close").status_code == 302
    assert stage_of(voting) == Stage.DECIDED
    page = client.get(manage_url(voting)).content.decode()
    result = page.split('data-testid="result-1"')[1]
    assert "Adopted" in result.split("</p>")[0]
    assert "Votes in favour were 100.0% of the votes cast (2 of 2)" in page


def test_it_refuses_to_close_with_an_unconfirmed_hall_count(people, voting, as_):
    motion = voting.motions.get()
    services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=2, no_heads=0)
    response = act(as_(people.community_worker), voting, "voting_close")
    assert response.status_code == 400
    assert "waiting for a second staff member" in response.content.decode()
    assert stage_of(voting) == Stage.VOTING


# Publication, implementation and evaluation -----------------------------------------------------------------


def test_it_publishes_the_resolution(people, decided, as_):
    assert act(as_(people.community_worker), decided, "publish").status_code == 302
    decided.refresh_from_db()
    assert decided.stage == Stage.PUBLISHED and decided.publication_ends_at is not None


def test_it_answers_an_objection_and_concludes_after_the_period(people, published, as_):
    objection = services.objection_file(consultation=published, by=people.resident, text="收费太高。")
    client = as_(people.community_worker)

    refused = act(client, published, "conclude_publication")
    assert refused.status_code == 400 and "The resolution is published until" in refused.content.decode()

    assert (
        act(client, published, "answer", objection=objection.pk, answer="收费按成本核算。").status_code == 302
    )
    objection.refresh_from_db()
    assert (objection.answer, objection.answered_by) == ("收费按成本核算。", people.community_worker)

    Consultation.objects.filter(pk=published.pk).update(publication_ends_at=timezone.now())
    act(client, published, "conclude_publication")
    assert stage_of(published) == Stage.IMPLEMENTING


def test_it_refuses_an_empty_answer(people, published, as_):
    objection = services.objection_file(consultation=published, by=people.resident, text="收费太高。")
    response = act(as_(people.community_worker), published, "answer", objection=objection.pk, answer=" ")
    assert response.status_code == 400
    assert Objection.objects.get().answered_at is None


def test_it_tracks_tasks_to_the_evaluation_and_concludes(people, implementing, as_):
    client = as_(people.community_worker)
    refused = act(client, implementing, "evaluation_open")
    assert refused.status_code == 400 and "Every task must be done" in refused.content.decode()

    due_on = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
    act(client, implementing, "task", title="划线施工", responsible="物业公司", due_on=due_on)
    task = Task.objects.get(consultation=implementing)
    act(client, implementing, "progress", task=task.pk, text="已完成划线。", done="on")
    task.refresh_from_db()
    assert task.done_at is not None and task.reports.get().text == "已完成划线。"

    act(client, implementing, "evaluation_open")
    assert stage_of(implementing) == Stage.EVALUATION
    services.evaluation_submit(consultation=implementing, by=people.resident, score=5)
    assert "1 evaluation so far" in client.get(manage_url(implementing)).content.decode()
    act(client, implementing, "conclude")
    assert stage_of(implementing) == Stage.EVALUATED
    assert implementing.events.filter(kind="evaluated", note__contains="5.0").exists()


def test_it_answers_404_to_an_unknown_action(people, committee_topic, as_):
    assert act(as_(people.community_worker), committee_topic, "delete").status_code == 404


# Query counts -----------------------------------------------------------------------------------------------


def test_the_console_reads_a_flat_number_of_queries_as_participants_grow(
    people, meeting, as_, django_assert_max_num_queries
):
    numbers = itertools.count(1)
    client = as_(people.community_worker)

    def add_signed_in(count):
        for _ in range(count):
            number = next(numbers)
            resident = resident_create(
                created_by=people.admin, region=people.building, name=f"居民{number}", room=f"3-{number}"
            )
            added = services.participant_add(
                consultation=meeting,
                by=people.community_worker,
                kind=ParticipantKind.OWNER,
                resident=resident,
                floor_area=80,
            )
            services.attendance_sign_in(consultation=meeting, participant=added, by=people.community_worker)

    add_signed_in(1)
    client.get(manage_url(meeting))
    with django_assert_max_num_queries(25) as few:
        client.get(manage_url(meeting))
    add_signed_in(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(manage_url(meeting))
    assert len(re.findall(r'data-testid="participant-\d+"', page.content.decode())) == 23


def test_the_street_officer_sees_a_new_building_in_the_areas(people, committee_topic, as_):
    region_create(parent=people.compound, name="3栋", level=Region.Level.BUILDING)
    page = as_(people.street_officer).get(manage_url(committee_topic)).content.decode()
    assert "清波院落 3栋" in page
