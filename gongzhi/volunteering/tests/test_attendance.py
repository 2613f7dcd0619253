"""Attendance: the activity's rotating code, the volunteer's personal code, ticking off by hand, no-shows."""

import datetime

import pytest

from gongzhi.core.codes import CODE_WINDOW_SECONDS
from gongzhi.core.exceptions import ServiceError
from gongzhi.volunteering import services
from gongzhi.volunteering.models import CheckMethod, SignUp, SignUpStatus, VolunteerProfile

pytestmark = pytest.mark.usefixtures("english_messages")

MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
WINDOW = datetime.timedelta(seconds=CODE_WINDOW_SECONDS)


@pytest.fixture
def placed(people, activity):
    """张居民 with a place at the activity."""
    return services.signup_create(
        activity=activity,
        resident=people.resident_record,
        now=activity.starts_at - datetime.timedelta(days=1),
    )


def window_start(moment: datetime.datetime) -> datetime.datetime:
    seconds = int(moment.timestamp()) // CODE_WINDOW_SECONDS * CODE_WINDOW_SECONDS
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def other_code(*codes: str) -> str:
    """A six-digit code that is none of these."""
    candidate = int(codes[0])
    while f"{candidate:06d}" in codes:
        candidate = (candidate + 1) % 1_000_000
    return f"{candidate:06d}"


# The activity's rotating code ---------------------------------------------------------------------------


def test_the_activity_code_is_six_digits_valid_now_and_for_the_previous_window(activity):
    shown = window_start(activity.starts_at)
    code = services.activity_code(activity, now=shown)
    assert len(code) == 6 and code.isdigit()
    assert services.activity_code(activity, now=shown + WINDOW - datetime.timedelta(seconds=1)) == code
    # Scanned just before it turned over, it still works for one more window...
    assert services.activity_code_valid(activity, code, now=shown + WINDOW)
    assert services.activity_code_valid(
        activity, f" {code} ", now=shown + 2 * WINDOW - datetime.timedelta(seconds=1)
    )
    # ...and not after that, nor before it was shown.
    assert not services.activity_code_valid(activity, code, now=shown + 2 * WINDOW)
    assert not services.activity_code_valid(activity, code, now=shown - WINDOW)


def test_it_refuses_a_wrong_code_and_changes_nothing(people, activity, placed):
    now = activity.starts_at - 30 * MINUTE
    wrong = other_code(
        services.activity_code(activity, now=now), services.activity_code(activity, now=now, window_offset=-1)
    )
    for code in (wrong, "", "abcdef"):
        with pytest.raises(ServiceError, match="This code is not valid or has expired") as refused:
            services.checkin_by_activity_code(
                activity=activity, resident=people.resident_record, code=code, now=now
            )
        assert refused.value.field == "code"
    placed.refresh_from_db()
    assert placed.checked_in_at is None


def test_it_refuses_a_code_from_two_windows_ago(people, activity, placed):
    now = window_start(activity.starts_at - 30 * MINUTE)
    stale = services.activity_code(activity, now=now - 2 * WINDOW)
    if services.activity_code_valid(activity, stale, now=now):  # one chance in 500,000 that it repeats
        pytest.skip("the stale code happens to equal a current one")
    with pytest.raises(ServiceError, match="This code is not valid or has expired"):
        services.checkin_by_activity_code(
            activity=activity, resident=people.resident_record, code=stale, now=now
        )


# Checking in and out ------------------------------------------------------------------------------------


def test_a_volunteer_checks_in_and_out_by_scanning_the_activity_code(people, activity, placed):
    arrive, leave = activity.starts_at - 20 * MINUTE, activity.ends_at + 5 * MINUTE

    def scan(now):
        code = services.activity_code(activity, now=now)
        return services.checkin_by_activity_code(
            activity=activity, resident=people.resident_record, code=code, now=now
        )

    scanned_in = scan(arrive)
    assert (scanned_in.checked_in_at, scanned_in.checked_out_at, scanned_in.check_method) == (
        arrive,
        None,
        CheckMethod.ACTIVITY_CODE,
    )
    scanned_out = scan(leave)
    assert (scanned_out.checked_in_at, scanned_out.checked_out_at) == (arrive, leave)
    with pytest.raises(ServiceError, match="张居民 has already checked out."):
        scan(leave + MINUTE)


def test_it_refuses_someone_without_a_place(people, activity, make_resident):
    now = activity.starts_at
    code = services.activity_code(activity, now=now)
    with pytest.raises(ServiceError, match="You have not signed up for this activity."):
        services.checkin_by_activity_code(
            activity=activity, resident=people.neighbour_record, code=code, now=now
        )

    # A full activity: the third person waits and cannot check in.
    day_before = activity.starts_at - datetime.timedelta(days=1)
    for resident in (people.resident_record, people.neighbour_record):
        services.signup_create(activity=activity, resident=resident, now=day_before)
    waiting = make_resident("赵等待")
    services.signup_create(activity=activity, resident=waiting, now=day_before)
    with pytest.raises(ServiceError, match="赵等待 is on the waiting list, not signed up."):
        services.checkin_by_activity_code(activity=activity, resident=waiting, code=code, now=now)


@pytest.mark.parametrize(
    "moment, message",
    [
        (lambda a: a.starts_at - HOUR - MINUTE, "Check-in opens an hour before the start."),
        (lambda a: a.ends_at + MINUTE, "The activity has ended; check-in is closed."),
        (lambda a: a.ends_at + services.CHECK_OUT_CLOSES + MINUTE, "Check-in and check-out have closed"),
    ],
    ids=["too-early", "after-the-end", "long-after"],
)
def test_it_refuses_check_in_outside_the_activitys_hours(people, activity, placed, moment, message):
    now = moment(activity)
    with pytest.raises(ServiceError, match=message):
        services.checkin_by_activity_code(
            activity=activity,
            resident=people.resident_record,
            code=services.activity_code(activity, now=now),
            now=now,
        )
    placed.refresh_from_db()
    assert placed.checked_in_at is None


def test_check_in_opens_exactly_an_hour_before_the_start(people, activity, placed):
    now = activity.starts_at - HOUR
    scanned = services.checkin_by_activity_code(
        activity=activity,
        resident=people.resident_record,
        code=services.activity_code(activity, now=now),
        now=now,
    )
    assert scanned.checked_in_at == now


def test_it_refuses_check_in_at_a_cancelled_activity(people, activity, placed):
    services.activity_cancel(activity=activity, by=people.community_worker, reason="暴雨预警")
    now = activity.starts_at
    with pytest.raises(ServiceError, match="This activity is not open."):
        services.checkin_by_activity_code(
            activity=activity,
            resident=people.resident_record,
            code=services.activity_code(activity, now=now),
            now=now,
        )


@pytest.mark.parametrize(
    "scanned",
    [
        "{token}",
        "  {token}\n",
        "https://gongzhi.example.cn/volunteering/volunteer/{token}",
        "https://gongzhi.example.cn/volunteering/volunteer/{token}/",
        "https://gongzhi.example.cn/volunteering/scan?token={token}",
    ],
    ids=["token", "spaces", "link", "link-slash", "query"],
)
def test_the_organiser_checks_a_volunteer_in_by_their_personal_code(people, activity, placed, scanned):
    token = placed.volunteer.qr_token
    now = activity.starts_at + 10 * MINUTE
    signup = services.checkin_by_personal_code(
        activity=activity, token=scanned.format(token=token), by=people.community_worker, now=now
    )
    assert (signup.pk, signup.checked_in_at, signup.check_method) == (
        placed.pk,
        now,
        CheckMethod.PERSONAL_CODE,
    )
    # The next scan checks them out.
    later = services.checkin_by_personal_code(
        activity=activity, token=token, by=people.community_worker, now=now + HOUR
    )
    assert later.checked_out_at == now + HOUR


def test_it_refuses_a_personal_code_of_someone_not_signed_up_or_scanned_by_others(people, activity, placed):
    now = activity.starts_at
    stranger = services.volunteer_profile_for(resident=people.neighbour_record)
    for token in (stranger.qr_token, "forged-token", ""):
        with pytest.raises(
            ServiceError, match="This code belongs to nobody signed up for this activity."
        ) as refused:
            services.checkin_by_personal_code(
                activity=activity, token=token, by=people.community_worker, now=now
            )
        assert refused.value.field == "token"
    for someone in (people.resident, people.provider_staff, people.outsider):
        with pytest.raises(ServiceError, match="Only the activity's organisers can do that."):
            services.checkin_by_personal_code(
                activity=activity, token=placed.volunteer.qr_token, by=someone, now=now
            )
    placed.refresh_from_db()
    assert placed.checked_in_at is None


def test_the_organisation_running_an_activity_checks_its_volunteers_in(people, make_activity):
    run_by_agency = make_activity(by=people.provider_staff, organisation=people.agency)
    signup = services.signup_create(
        activity=run_by_agency,
        resident=people.resident_record,
        now=run_by_agency.starts_at - datetime.timedelta(days=2),
    )
    scanned = services.checkin_by_personal_code(
        activity=run_by_agency,
        token=signup.volunteer.qr_token,
        by=people.provider_staff,
        now=run_by_agency.starts_at,
    )
    assert scanned.checked_in_at == run_by_agency.starts_at


# Ticking off by hand ------------------------------------------------------------------------------------


def test_the_organiser_ticks_a_volunteer_in_and_out_by_hand(people, activity, placed):
    start = activity.starts_at

    def mark(action, now):
        return services.attendance_mark(signup=placed, by=people.community_worker, action=action, now=now)

    with pytest.raises(ServiceError, match="张居民 has not checked in."):
        mark("check_out", start)
    assert mark("check_in", start + 5 * MINUTE).check_method == CheckMethod.BY_HAND
    with pytest.raises(ServiceError, match="张居民 has already checked in."):
        mark("check_in", start + 6 * MINUTE)
    assert mark("check_out", start + HOUR).checked_out_at == start + HOUR
    with pytest.raises(ServiceError, match="张居民 has already checked out."):
        mark("check_out", start + 2 * HOUR)
    with pytest.raises(ServiceError, match="Unknown attendance action."):
        mark("teleport", start + 2 * HOUR)


def test_only_organisers_tick_volunteers_off(people, activity, placed):
    for someone in (people.resident, people.street_officer, people.outsider):
        with pytest.raises(ServiceError, match="Only the activity's organisers can do that."):
            services.attendance_mark(signup=placed, by=someone, action="check_in", now=activity.starts_at)


def test_it_marks_a_no_show_once_the_activity_has_started_and_counts_it(people, activity, placed):
    def absent(now):
        return services.attendance_mark(signup=placed, by=people.community_worker, action="no_show", now=now)

    with pytest.raises(ServiceError, match="Absence can be marked once the activity has started."):
        absent(activity.starts_at - MINUTE)
    assert absent(activity.starts_at + 30 * MINUTE).status == SignUpStatus.NO_SHOW
    volunteer = VolunteerProfile.objects.get(pk=placed.volunteer_id)
    assert volunteer.no_shows == 1
    with pytest.raises(ServiceError, match="张居民 is already marked absent."):
        absent(activity.starts_at + 40 * MINUTE)
    volunteer.refresh_from_db()
    assert volunteer.no_shows == 1


def test_it_refuses_to_mark_absent_someone_who_checked_in(people, activity, placed):
    services.attendance_mark(
        signup=placed, by=people.community_worker, action="check_in", now=activity.starts_at
    )
    with pytest.raises(ServiceError, match="张居民 checked in."):
        services.attendance_mark(
            signup=placed, by=people.community_worker, action="no_show", now=activity.starts_at + HOUR
        )
    assert VolunteerProfile.objects.get(pk=placed.volunteer_id).no_shows == 0


def test_a_late_arrival_marked_absent_can_still_be_checked_in(people, activity, placed):
    services.attendance_mark(
        signup=placed, by=people.community_worker, action="no_show", now=activity.starts_at + 15 * MINUTE
    )
    late = services.attendance_mark(
        signup=placed, by=people.community_worker, action="check_in", now=activity.starts_at + 40 * MINUTE
    )
    assert (late.status, late.checked_in_at) == (SignUpStatus.CONFIRMED, activity.starts_at + 40 * MINUTE)


def test_a_late_arrival_checked_in_is_no_longer_counted_as_a_no_show(people, activity, placed):
    services.attendance_mark(
        signup=placed, by=people.community_worker, action="no_show", now=activity.starts_at + 15 * MINUTE
    )
    services.attendance_mark(
        signup=placed, by=people.community_worker, action="check_in", now=activity.starts_at + 40 * MINUTE
    )
    assert VolunteerProfile.objects.get(pk=placed.volunteer_id).no_shows == 0


# no_shows_mark, the periodic task -----------------------------------------------------------------------


def test_the_periodic_task_marks_absent_those_who_never_came_once(people, activity, make_resident):
    day_before = activity.starts_at - datetime.timedelta(days=1)
    came = services.signup_create(activity=activity, resident=people.resident_record, now=day_before)
    stayed_away = services.signup_create(activity=activity, resident=people.neighbour_record, now=day_before)
    waiting = services.signup_create(activity=activity, resident=make_resident(), now=day_before)
    services.attendance_mark(
        signup=came, by=people.community_worker, action="check_in", now=activity.starts_at
    )

    assert services.no_shows_mark(now=activity.ends_at + services.NO_SHOW_AFTER) == 0
    later = activity.ends_at + services.NO_SHOW_AFTER + MINUTE
    assert services.no_shows_mark(now=later) == 1
    assert services.no_shows_mark(now=later + HOUR) == 0

    statuses = dict(SignUp.objects.values_list("pk", "status"))
    assert (statuses[came.pk], statuses[stayed_away.pk], statuses[waiting.pk]) == (
        SignUpStatus.CONFIRMED,
        SignUpStatus.NO_SHOW,
        SignUpStatus.WAITLISTED,
    )
    assert dict(VolunteerProfile.objects.values_list("resident__name", "no_shows")) == {
        "张居民": 0,
        "李奶奶": 1,
        "志愿者1": 0,
    }


def test_the_periodic_task_leaves_cancelled_activities_alone(people, activity, placed):
    services.activity_cancel(activity=activity, by=people.community_worker, reason="暴雨预警")
    assert services.no_shows_mark(now=activity.ends_at + datetime.timedelta(days=1)) == 0
    assert VolunteerProfile.objects.get(pk=placed.volunteer_id).no_shows == 0
