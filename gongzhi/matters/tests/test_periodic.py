"""The periodic work: overdue matters climb by themselves, unanswered resolutions close after 7 days, and
handlers hear of deadlines about to pass. Each runs at a given `now`, so the tests pin the clock."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from conftest import make_user
from gongzhi.core.models import Notification
from gongzhi.matters import services
from gongzhi.matters.models import Confirmation, Event, Matter, Status, Tier

SHANGHAI = ZoneInfo("Asia/Shanghai")
Kind = Event.Kind


def at(year, month, day, hour=0, minute=0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def neighbour_user(db):
    return make_user("13800000020", "李邻居")


def told(*users) -> set[int]:
    return {user.pk for user in users}


# Overdue escalation -----------------------------------------------------------------------------------


@pytest.fixture
def eve_of_national_day(report) -> Matter:
    """Reported on 30 September 2026 at 10:00: the compound owes a response by 8 October 10:00 and a
    resolution by 15 October 10:00."""
    matter = report("repairs", now=at(2026, 9, 30, 10))
    assert (matter.tier_response_due, matter.tier_due) == (at(2026, 10, 8, 10), at(2026, 10, 15, 10))
    return matter


def test_an_unaccepted_matter_waits_out_the_holiday_before_it_is_overdue(eve_of_national_day):
    assert services.matters_escalate_overdue(now=at(2026, 10, 7, 23, 59)) == 0
    assert services.matters_escalate_overdue(now=at(2026, 10, 8, 10)) == 0
    assert Matter.objects.get(pk=eve_of_national_day.pk).tier == Tier.COMPOUND


def test_an_unaccepted_matter_past_its_response_deadline_climbs_one_tier(
    people, eve_of_national_day, django_capture_on_commit_callbacks
):
    now = at(2026, 10, 8, 10, 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.matters_escalate_overdue(now=now) == 1
    matter = Matter.objects.get(pk=eve_of_national_day.pk)
    assert (matter.status, matter.tier, matter.handling_region) == (
        Status.SUBMITTED,
        Tier.COMMUNITY,
        people.community,
    )
    assert (matter.escalations_by_deadline, matter.escalations_by_hand) == (1, 0)
    # The community's own deadlines start now; the reporter's promised ones stay.
    assert (matter.tier_response_due, matter.tier_due) == (at(2026, 10, 9, 10, 1), at(2026, 10, 16, 10, 1))
    assert (matter.response_due, matter.resolution_due) == (at(2026, 10, 8, 10), at(2026, 10, 15, 10))
    event = Event.objects.get(matter=matter, kind=Kind.ESCALATED_OVERDUE)
    assert (event.actor, event.at, event.tier, event.status) == (None, now, Tier.COMMUNITY, Status.SUBMITTED)
    assert set(Notification.objects.values_list("user", flat=True)) == told(
        people.resident, people.community_worker, people.community_secretary
    )


def test_running_twice_at_the_same_moment_escalates_once(eve_of_national_day):
    now = at(2026, 10, 8, 10, 1)
    assert services.matters_escalate_overdue(now=now) == 1
    events = Event.objects.count()
    assert services.matters_escalate_overdue(now=now) == 0
    matter = Matter.objects.get(pk=eve_of_national_day.pk)
    assert (matter.tier, matter.escalations_by_deadline) == (Tier.COMMUNITY, 1)
    assert Event.objects.count() == events


def test_an_accepted_matter_is_overdue_only_past_its_resolution_deadline(people, eve_of_national_day):
    matter = eve_of_national_day
    services.matter_accept(matter=matter, handler=people.compound_leader, now=at(2026, 9, 30, 11))
    # Past the response deadline but accepted in time: nothing to do.
    assert services.matters_escalate_overdue(now=at(2026, 10, 14, 12)) == 0
    assert services.matters_escalate_overdue(now=at(2026, 10, 15, 10, 1)) == 1
    matter.refresh_from_db()
    assert (matter.status, matter.tier, matter.escalations_by_deadline) == (
        Status.SUBMITTED,
        Tier.COMMUNITY,
        1,
    )
    # The first response, given at the compound, is kept.
    assert matter.first_response_at == at(2026, 9, 30, 11)


def test_a_matter_in_progress_past_its_resolution_deadline_climbs(people, eve_of_national_day):
    matter = eve_of_national_day
    services.matter_accept(matter=matter, handler=people.compound_leader, now=at(2026, 9, 30, 11))
    services.matter_start(matter=matter, handler=people.compound_leader)
    assert services.matters_escalate_overdue(now=at(2026, 10, 16, 9)) == 1
    assert Matter.objects.get(pk=matter.pk).tier == Tier.COMMUNITY


def test_an_overdue_matter_keeps_climbing_as_each_tier_lets_its_deadline_pass(eve_of_national_day):
    assert services.matters_escalate_overdue(now=at(2026, 10, 8, 10, 1)) == 1
    # The community had until 9 October 10:01 to respond.
    assert services.matters_escalate_overdue(now=at(2026, 10, 9, 10)) == 0
    assert services.matters_escalate_overdue(now=at(2026, 10, 9, 10, 2)) == 1
    matter = Matter.objects.get(pk=eve_of_national_day.pk)
    assert (matter.tier, matter.escalations_by_deadline) == (Tier.STREET, 2)


@pytest.mark.parametrize("accept", [False, True])
def test_a_matter_at_district_tier_is_left_alone(people, report, accept):
    matter = report("building-safety", now=at(2026, 9, 30, 10))
    services.matter_escalate(
        matter=matter, handler=people.street_officer, reason="需要区里鉴定", now=at(2026, 9, 30, 12)
    )
    if accept:
        services.matter_accept(matter=matter, handler=people.district_officer, now=at(2026, 9, 30, 13))
    before = Matter.objects.filter(pk=matter.pk).values().get()
    assert services.matters_escalate_overdue(now=at(2026, 12, 31, 23)) == 0
    assert Matter.objects.filter(pk=matter.pk).values().get() == before


def test_resolved_and_finished_matters_are_never_escalated(people, report, neighbour_user):
    resolved = report("repairs", now=at(2026, 9, 30, 10))
    services.matter_accept(matter=resolved, handler=people.compound_leader, now=at(2026, 9, 30, 11))
    services.matter_resolve(
        matter=resolved, handler=people.compound_leader, note="修好了", now=at(2026, 9, 30, 12)
    )
    withdrawn = report("repairs", by=neighbour_user, now=at(2026, 9, 30, 10))
    services.matter_withdraw(matter=withdrawn, user=neighbour_user)
    assert services.matters_escalate_overdue(now=at(2026, 12, 31, 23)) == 0
    assert set(Matter.objects.values_list("tier", flat=True)) == {Tier.COMPOUND}


# Auto-confirmation ------------------------------------------------------------------------------------


@pytest.fixture
def resolved_on_monday(people, report) -> Matter:
    matter = report("repairs", now=at(2026, 3, 16, 9))
    services.matter_accept(matter=matter, handler=people.compound_leader, now=at(2026, 3, 16, 9, 30))
    return services.matter_resolve(
        matter=matter, handler=people.compound_leader, note="已更换灯泡", now=at(2026, 3, 16, 15)
    )


def test_a_resolved_matter_is_not_auto_confirmed_within_7_days(resolved_on_monday):
    assert services.matters_auto_confirm(now=at(2026, 3, 23, 14, 59)) == 0
    assert services.matters_auto_confirm(now=at(2026, 3, 23, 15)) == 0
    assert Matter.objects.get(pk=resolved_on_monday.pk).status == Status.RESOLVED


def test_an_unanswered_resolution_closes_as_auto_confirmed_after_7_days(
    people, resolved_on_monday, django_capture_on_commit_callbacks
):
    now = at(2026, 3, 23, 15, 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.matters_auto_confirm(now=now) == 1
    matter = Matter.objects.get(pk=resolved_on_monday.pk)
    assert (matter.status, matter.confirmation, matter.closed_at, matter.rating) == (
        Status.CLOSED,
        Confirmation.AUTO,
        now,
        None,
    )
    event = Event.objects.get(matter=matter, kind=Kind.AUTO_CONFIRMED)
    assert (event.actor, event.at, event.status) == (None, now, Status.CLOSED)
    assert Notification.objects.filter(user=people.resident).count() == 1
    assert services.matters_auto_confirm(now=at(2026, 4, 30)) == 0
    assert Event.objects.filter(matter=matter, kind=Kind.AUTO_CONFIRMED).count() == 1


def test_a_matter_the_reporter_answered_is_not_auto_confirmed(people, resolved_on_monday):
    services.matter_confirm(matter=resolved_on_monday, user=people.resident, resolved=False)
    assert services.matters_auto_confirm(now=at(2026, 4, 30)) == 0
    assert Matter.objects.get(pk=resolved_on_monday.pk).status == Status.IN_PROGRESS


# Deadline reminders -----------------------------------------------------------------------------------


@pytest.fixture
def monday_matter(report) -> Matter:
    matter = report("repairs", now=at(2026, 3, 16, 9))
    assert matter.tier_response_due == at(2026, 3, 17, 9)
    return matter


def test_handlers_are_reminded_once_of_a_deadline_about_to_pass(
    people, monday_matter, django_capture_on_commit_callbacks
):
    assert services.REMINDER_LEAD == datetime.timedelta(hours=4)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.matters_remind_deadlines(now=at(2026, 3, 17, 4, 59)) == 0
        assert services.matters_remind_deadlines(now=at(2026, 3, 17, 5, 30)) == 1
        assert services.matters_remind_deadlines(now=at(2026, 3, 17, 6)) == 0
        assert services.matters_remind_deadlines(now=at(2026, 3, 17, 8, 59)) == 0
    notice = Notification.objects.get()
    assert notice.user == people.compound_leader
    assert f"#{monday_matter.pk}" in notice.title
    assert Matter.objects.get(pk=monday_matter.pk).deadline_reminded_at == at(2026, 3, 17, 5, 30)


def test_a_deadline_already_passed_is_not_reminded(monday_matter):
    assert services.matters_remind_deadlines(now=at(2026, 3, 17, 9, 1)) == 0


def test_an_accepted_matter_is_reminded_of_its_resolution_deadline(people, monday_matter):
    services.matter_accept(matter=monday_matter, handler=people.compound_leader, now=at(2026, 3, 16, 10))
    # The response deadline no longer matters once accepted.
    assert services.matters_remind_deadlines(now=at(2026, 3, 17, 6)) == 0
    # 7 working days from Monday 16 March 09:00: Wednesday 25 March 09:00.
    assert services.matters_remind_deadlines(now=at(2026, 3, 25, 6)) == 1


def test_the_next_tier_is_reminded_afresh_after_an_escalation(
    people, monday_matter, django_capture_on_commit_callbacks
):
    assert services.matters_remind_deadlines(now=at(2026, 3, 17, 6)) == 1
    services.matter_escalate(
        matter=monday_matter, handler=people.compound_leader, reason="需要社区", now=at(2026, 3, 17, 7)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.matters_remind_deadlines(now=at(2026, 3, 18, 5)) == 1
    assert set(Notification.objects.values_list("user", flat=True)) == told(
        people.community_worker, people.community_secretary
    )


def test_a_matter_reminded_of_its_response_deadline_is_reminded_again_of_its_resolution_deadline(
    people, monday_matter
):
    assert services.matters_remind_deadlines(now=at(2026, 3, 17, 6)) == 1
    services.matter_accept(matter=monday_matter, handler=people.compound_leader, now=at(2026, 3, 17, 8))
    assert services.matters_remind_deadlines(now=at(2026, 3, 25, 6)) == 1
