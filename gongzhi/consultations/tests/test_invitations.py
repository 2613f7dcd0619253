"""The meeting's invitation and the replies to it (in the hall, online, not attending), and the reminders
before a consultation's deadlines (the committee's review, the meeting, the voting close), each sent once."""

import datetime
import itertools
import zoneinfo

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gongzhi.consultations import services
from gongzhi.consultations.models import (
    Consultation,
    Origin,
    Participant,
    ParticipantKind,
    Reminder,
    Reply,
    Stage,
)
from gongzhi.consultations.rules import DecisionRule
from gongzhi.consultations.tests.test_concurrency import race
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Notification
from gongzhi.core.services import resident_create

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


@pytest.fixture(autouse=True)
def english(english_messages, client):
    """Assertions read the English msgids: the services' (translation.override) and the pages' (cookie)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def call_meeting(people, consultation, *, in_days: int = 5, online: bool = True) -> Consultation:
    """Sends the notice now, for a meeting `in_days` days away; returns the consultation as it is now."""
    services.consultation_notice(
        consultation=consultation,
        by=people.community_worker,
        meeting_at=timezone.now() + in_days * DAY,
        materials="停车位划线方案。",
        place="社区会议室",
        online=online,
    )
    consultation.refresh_from_db()
    return consultation


@pytest.fixture
def called(people, committee_topic):
    """The committee's topic (张居民 and 李奶奶 invited), its meeting called for five days from now, in
    the hall and online."""
    return call_meeting(people, committee_topic)


def participant(consultation, resident) -> Participant:
    return consultation.participants.get(resident=resident)


def reply(consultation, user, answer, **kwargs):
    return services.participant_reply(consultation=consultation, by=user, reply=answer, **kwargs)


# Replying -------------------------------------------------------------------------------------------------


def test_it_records_a_participants_reply_and_lets_them_change_it(people, called):
    events = called.events.count()
    reply(called, people.resident, Reply.HALL)
    zhang = participant(called, people.resident_record)
    assert (zhang.reply, zhang.replied_at is not None) == (Reply.HALL, True)

    reply(called, people.resident, Reply.ONLINE, note="本人线上参加")
    zhang.refresh_from_db()
    assert (zhang.reply, zhang.reply_note) == (Reply.ONLINE, "本人线上参加")
    assert participant(called, people.neighbour_record).reply == ""
    # A reply is the participant's own affair, not a step of the public record.
    assert called.events.count() == events


def test_a_household_head_replies_for_the_household_and_its_members_do_not(people, rule_set, make_resident):
    head = make_resident("张户主", room="1-101", is_household_head=True)  # 张居民's household
    consultation = services.consultation_propose(
        by=people.community_worker,
        community=people.community,
        rule_set=rule_set,
        title="1栋外墙维修",
        description="1栋外墙渗水，拟用维修资金维修。",
        origin=Origin.COMMITTEE,
    )
    services.participants_add_region(
        consultation=consultation, by=people.community_worker, region=people.building, households=True
    )
    call_meeting(people, consultation)

    [answered] = reply(consultation, head, Reply.ABSENT, note="委托儿子参加")
    assert answered.household.number == "1-101"
    with pytest.raises(ServiceError) as refused:
        reply(consultation, people.resident, Reply.HALL)  # a member of that household, not its head
    assert refused.value.message == "The head of your household replies for it."
    household = consultation.participants.get(household__number="1-101")
    assert (household.reply, household.reply_note) == (Reply.ABSENT, "委托儿子参加")


def test_an_organisations_staff_reply_for_the_organisation(people, called):
    services.participant_add(
        consultation=called,
        by=people.community_worker,
        kind=ParticipantKind.WORK_UNIT,
        organisation=people.work_unit,
    )
    reply(called, people.work_unit_staff, Reply.HALL, note="派行政主管参加")
    bank = called.participants.get(organisation=people.work_unit)
    assert (bank.reply, bank.reply_note) == (Reply.HALL, "派行政主管参加")


def test_it_refuses_someone_who_is_not_a_participant(people, called):
    with pytest.raises(ServiceError, match="You are not a participant of this consultation."):
        reply(called, people.community_worker, Reply.HALL)
    assert not called.participants.exclude(reply="").exists()


def test_it_refuses_a_reply_before_the_notice_is_sent(people, committee_topic):
    with pytest.raises(ServiceError, match="No meeting has been called yet."):
        reply(committee_topic, people.resident, Reply.HALL)
    assert participant(committee_topic, people.resident_record).reply == ""


def test_it_refuses_a_reply_once_the_meeting_has_begun(people, called):
    with pytest.raises(ServiceError, match="The meeting has begun; replies are closed."):
        reply(called, people.resident, Reply.HALL, now=called.meeting_at + datetime.timedelta(minutes=1))
    assert participant(called, people.resident_record).reply == ""


def test_it_refuses_a_reply_once_voting_has_opened(people, committee_topic, start_voting):
    start_voting(committee_topic)
    with pytest.raises(ServiceError, match="while the consultation is “Voting”"):
        reply(committee_topic, people.resident, Reply.HALL)


def test_it_refuses_online_when_the_meeting_is_in_the_hall_only(people, committee_topic):
    hall_only = call_meeting(people, committee_topic, online=False)
    with pytest.raises(ServiceError, match="This meeting is held in the hall only.") as refused:
        reply(hall_only, people.resident, Reply.ONLINE)
    assert refused.value.field == "reply"
    assert participant(hall_only, people.resident_record).reply == ""


@pytest.mark.parametrize(
    ("answer", "note", "field"),
    [("maybe", "", "reply"), ("", "", "reply"), (Reply.ABSENT, "很" * 101, "note")],
)
def test_it_refuses_a_bad_reply_and_changes_nothing(people, called, answer, note, field):
    reply(called, people.resident, Reply.HALL, note="本人")
    with pytest.raises(ServiceError) as refused:
        reply(called, people.resident, answer, note=note)
    assert refused.value.field == field
    zhang = participant(called, people.resident_record)
    assert (zhang.reply, zhang.reply_note) == (Reply.HALL, "本人")


# Reminders --------------------------------------------------------------------------------------------------


@pytest.fixture
def remind(django_capture_on_commit_callbacks):
    """Runs the periodic reminders at `now`, delivering what they send; returns how many went out."""

    def run(now: datetime.datetime) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return services.consultations_remind(now=now)

    return run


def told(user) -> list[Notification]:
    return list(Notification.objects.filter(user=user).order_by("pk"))


def test_it_reminds_the_community_staff_one_working_day_before_the_review_is_due(people, rule_set, remind):
    monday = datetime.datetime(2025, 6, 9, 10, 0, tzinfo=SHANGHAI)
    topic = services.consultation_propose(
        by=people.work_unit_staff,
        community=people.community,
        rule_set=rule_set,
        title="银行门前增设非机动车停放区",
        description="银行门前非机动车乱停，拟划定停放区。",
        origin=Origin.ORGANISATION,
        organisation=people.work_unit,
        now=monday,
    )
    assert topic.stage == Stage.REVIEW
    assert topic.review_deadline == monday + 7 * DAY  # five working days: the next Monday

    assert remind(monday + 3 * DAY) == 0  # Thursday: two working days left
    # Friday: one working day left, though three calendar days.
    assert remind(monday + 4 * DAY) == 1
    [message] = told(people.community_worker)
    assert message.title == "Review due: 银行门前增设非机动车停放区"
    assert "2025-06-16 10:00" in message.body
    assert len(told(people.community_secretary)) == 1
    assert told(people.street_officer) == [] and told(people.outsider) == []

    assert remind(monday + 4 * DAY + 2 * HOUR) == 0
    assert len(told(people.community_worker)) == 1


def test_it_reminds_the_participants_a_day_before_the_meeting_once(people, called, remind):
    assert remind(called.meeting_at - 2 * DAY) == 0
    assert told(people.resident) == []

    assert remind(called.meeting_at - 20 * HOUR) == 1
    [message] = told(people.resident)
    assert message.title == "Meeting reminder: 院落停车位划线"
    assert "社区会议室" in message.body
    assert "Please tell us on the consultation's page whether you will come." in message.body

    assert remind(called.meeting_at - 19 * HOUR) == 0
    assert len(told(people.resident)) == 1
    assert called.reminders.get().kind == Reminder.Kind.MEETING


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent runs are tested on PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_a_reminder_once(people, called):
    outcomes = race(2, lambda index: services.consultations_remind(now=called.meeting_at - 20 * HOUR))
    assert sorted(outcomes) == [0, 1]
    reminders = [message for message in told(people.resident) if message.title.startswith("Meeting reminder")]
    assert len(reminders) == 1


def test_the_meeting_reminder_says_what_the_participant_replied(people, called, remind):
    reply(called, people.resident, Reply.ONLINE)
    remind(called.meeting_at - 20 * HOUR)
    [message] = told(people.resident)
    assert "Your reply: Taking part online." in message.body


def test_a_meeting_moved_by_a_new_notice_is_reminded_of_again(people, called, remind):
    remind(called.meeting_at - 20 * HOUR)
    moved = call_meeting(people, called, in_days=6)
    assert remind(moved.meeting_at - 20 * HOUR) == 1
    assert len(told(people.resident)) == 2


@pytest.fixture
def secret_rules(people):
    return services.rule_set_create(
        by=people.community_worker,
        region=people.community,
        name="无记名投票",
        notice_days=3,
        decision_rule=DecisionRule.MAJORITY_OF_CAST,
        secret_ballot=True,
    )


@pytest.mark.parametrize("secret", [False, True], ids=["open", "secret"])
def test_it_reminds_only_the_voters_who_have_not_voted_on_every_motion(
    people, rule_set, secret_rules, topic_with_voters, start_voting, remind, secret
):
    consultation, (done, halfway, not_yet) = topic_with_voters(
        count=3, rules=secret_rules if secret else rule_set
    )
    first, second = start_voting(consultation, "同意加装。", "同意分摊方案。", closes_in=5 * HOUR)
    for motion in (first, second):
        services.ballot_cast(motion=motion, by=done, choice="yes")
    services.ballot_cast(motion=first, by=halfway, choice="no")

    assert remind(timezone.now()) == 1
    assert told(done) == []
    assert [m.title for m in told(halfway)] == ["Voting closes soon: 加装电梯"]
    assert len(told(not_yet)) == 1
    assert reverse("consultations:vote", args=[consultation.pk]) == told(not_yet)[0].url

    assert remind(timezone.now()) == 0
    assert len(told(not_yet)) == 1


def test_it_does_not_remind_voters_signed_in_at_the_meeting(people, topic_with_voters, start_voting, remind):
    consultation, (in_hall, at_home) = topic_with_voters(count=2)
    start_voting(consultation)
    services.attendance_sign_in(
        consultation=consultation,
        participant=participant(consultation, in_hall.resident),
        by=people.community_worker,
    )
    remind(timezone.now())
    assert told(in_hall) == [] and len(told(at_home)) == 1


def test_it_does_not_remind_of_a_voting_close_far_off(people, topic_with_voters, start_voting, remind):
    consultation, (voter,) = topic_with_voters(count=1)
    start_voting(consultation, closes_in=3 * DAY)
    assert remind(timezone.now()) == 0
    assert remind(timezone.now() + 2 * DAY + HOUR) == 1
    assert len(told(voter)) == 1


def test_the_periodic_task_runs_the_reminders(people, called):
    from gongzhi.consultations import tasks

    assert "gongzhi.consultations.tasks.remind_deadlines" in settings.PERIODIC_TASKS
    assert tasks.remind_deadlines.call() == 0  # the meeting is five days away


# The pages ------------------------------------------------------------------------------------------------


def detail_url(consultation) -> str:
    return reverse("consultations:detail", args=[consultation.pk])


def reply_url(consultation) -> str:
    return reverse("consultations:reply", args=[consultation.pk])


def test_a_participant_replies_on_the_consultations_page(people, called, login):
    client = login(people.resident)
    page = client.get(detail_url(called)).content.decode()
    assert 'data-testid="reply-form"' in page and "Send my reply" in page

    response = client.post(reply_url(called), {"reply": Reply.HALL, "note": "本人参加"})
    assert response.status_code == 302
    assert participant(called, people.resident_record).reply == Reply.HALL
    page = client.get(detail_url(called)).content.decode()
    assert "Thank you: your reply is recorded." in page
    assert "You replied “Attending in the hall”" in page and "Change my reply" in page


def test_the_page_offers_online_only_when_the_meeting_is_online(people, committee_topic, login):
    hall_only = call_meeting(people, committee_topic, online=False)
    client = login(people.resident)
    assert 'value="online"' not in client.get(detail_url(hall_only)).content.decode()

    response = client.post(reply_url(hall_only), {"reply": Reply.ONLINE})
    assert response.status_code == 400
    assert "This meeting is held in the hall only." in response.content.decode()
    assert participant(hall_only, people.resident_record).reply == ""


def test_no_reply_form_before_the_notice_or_for_others(people, committee_topic, login):
    assert (
        'data-testid="reply-form"'
        not in login(people.resident).get(detail_url(committee_topic)).content.decode()
    )
    called = call_meeting(people, committee_topic)
    page = login(people.community_worker).get(detail_url(called)).content.decode()
    assert 'data-testid="reply-form"' not in page


def test_an_outsider_gets_404_replying_to_a_consultation_that_is_not_public(people, called, login):
    Consultation.objects.filter(pk=called.pk).update(is_public=False)
    response = login(people.outsider).post(reply_url(called), {"reply": Reply.HALL})
    assert response.status_code == 404


def test_the_staff_see_how_the_participants_replied(people, called, login):
    reply(called, people.resident, Reply.HALL)
    page = login(people.community_worker).get(reverse("consultations:manage", args=[called.pk]))
    counts = page.content.decode()
    assert "Replies to the notice: 1 in the hall · 0 online · 0 not attending · 1 no reply yet" in counts
    assert (
        f'data-testid="reply-{participant(called, people.resident_record).pk}">Attending in the hall'
        in counts
    )


def test_the_reply_counts_read_a_flat_number_of_queries(people, called, login, django_assert_max_num_queries):
    numbers = itertools.count(1)
    client = login(people.community_worker)
    url = reverse("consultations:manage", args=[called.pk])

    def add_replied(count):
        for _ in range(count):
            number = next(numbers)
            resident = resident_create(
                created_by=people.admin, region=people.building, name=f"居民{number}", room=f"5-{number}"
            )
            added = services.participant_add(
                consultation=called,
                by=people.community_worker,
                kind=ParticipantKind.RESIDENT,
                resident=resident,
            )
            Participant.objects.filter(pk=added.pk).update(reply=Reply.ABSENT, replied_at=timezone.now())

    add_replied(1)
    client.get(url)
    with django_assert_max_num_queries(20) as few:
        client.get(url)
    add_replied(10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url)
    assert "11 not attending" in page.content.decode()


# The API ----------------------------------------------------------------------------------------------------

API = "/api/v1/consultations"


def api_client(user) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(user)
    return client


def api_reply(user, consultation, payload):
    return api_client(user).post(
        f"{API}/{consultation.pk}/reply",
        payload,
        content_type="application/json",
        headers={"Accept-Language": "en"},
    )


def test_the_api_takes_a_reply_and_shows_it_to_the_caller(people, called):
    response = api_reply(people.resident, called, {"reply": "online", "note": "本人"})
    assert response.status_code == 200, response.content
    body = response.json()
    zhang = participant(called, people.resident_record)
    assert body["participant_ids"] == [zhang.pk]
    assert (body["reply"], body["reply_label"], body["note"]) == ("online", "Taking part online", "本人")
    caller = api_client(people.resident).get(f"{API}/{called.pk}").json()["caller"]
    assert caller["reply"] == "online"


def test_the_api_refuses_a_bad_reply_and_changes_nothing(people, called):
    assert api_reply(people.resident, called, {"reply": "maybe"}).status_code == 422
    refused = api_reply(people.community_worker, called, {"reply": "hall"})
    assert refused.status_code == 400
    assert refused.json()["detail"] == "You are not a participant of this consultation."
    assert not called.participants.exclude(reply="").exists()


def test_the_api_answers_404_to_an_outsider_on_a_consultation_that_is_not_public(people, called):
    Consultation.objects.filter(pk=called.pk).update(is_public=False)
    assert api_reply(people.outsider, called, {"reply": "hall"}).status_code == 404
