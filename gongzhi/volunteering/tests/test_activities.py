"""Activities and sign-ups: what an organiser may publish, who may join, and how places and the waiting list
are filled and given back."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Notification
from gongzhi.volunteering import services
from gongzhi.volunteering.models import Activity, SignUp, SignUpStatus

pytestmark = pytest.mark.usefixtures("english_messages")

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def statuses(activity, *residents):
    by_resident = dict(SignUp.objects.filter(activity=activity).values_list("volunteer__resident", "status"))
    return [by_resident.get(resident.pk) for resident in residents]


def sign_up_in_turn(activity, residents, *, start=None):
    """Signs residents up one minute apart, two days before the activity (well before its deadline)."""
    start = start or activity.starts_at - 2 * DAY
    return [
        services.signup_create(
            activity=activity, resident=resident, now=start + index * datetime.timedelta(minutes=1)
        )
        for index, resident in enumerate(residents)
    ]


# activity_create ----------------------------------------------------------------------------------------


@pytest.fixture
def start():
    return (datetime.datetime.now(datetime.UTC) + 3 * DAY).replace(microsecond=0)


def test_it_creates_a_draft_in_the_community_of_its_region(people, funded, start):
    made = services.activity_create(
        created_by=people.community_worker,
        region=people.compound,
        title="清理楼道",
        place="清波院落",
        starts_at=start,
        ends_at=start + 2 * HOUR,
        capacity=5,
    )
    assert (made.status, made.community, made.region) == (
        Activity.Status.DRAFT,
        people.community,
        people.compound,
    )
    # Without a deadline of its own, a place can be given up until the start.
    assert made.cancel_deadline == start
    assert made.code_secret


def test_it_lets_a_provider_publish_within_its_own_area(people, funded, start):
    made = services.activity_create(
        created_by=people.provider_staff,
        region=people.community,
        organisation=people.agency,
        title="长者探访",
        place="社区活动室",
        starts_at=start,
        ends_at=start + HOUR,
        capacity=3,
    )
    assert made.organisation == people.agency
    assert services.may_organise(people.provider_staff, made)


@pytest.mark.parametrize(
    "change, message, field",
    [
        ({"ends_at": -HOUR}, "The activity must end after it starts.", "ends_at"),
        ({"ends_at": datetime.timedelta(days=8)}, "An activity lasts at most seven days", "ends_at"),
        ({"cancel_deadline": HOUR}, "The cancellation deadline must be before the start.", "cancel_deadline"),
        (
            {"starts_at": -10 * DAY, "ends_at": -10 * DAY + HOUR},
            "The start must be in the future.",
            "starts_at",
        ),
        ({"region": "street"}, "Choose a community or a place within one.", "region"),
        ({"region": "district"}, "Choose a community or a place within one.", "region"),
        ({"colour": "red"}, "Unknown activity fields: colour", None),
    ],
    ids=[
        "ends-before-start",
        "longer-than-a-week",
        "deadline-after-start",
        "past",
        "street",
        "district",
        "unknown",
    ],
)
def test_it_refuses_a_bad_activity_and_creates_nothing(people, funded, start, change, message, field):
    values = {
        "region": people.community,
        "title": "清理楼道",
        "place": "清波院落",
        "starts_at": start,
        "ends_at": start + 2 * HOUR,
        "capacity": 2,
    }
    for name, value in change.items():
        if name == "region":
            values["region"] = getattr(people, value)
        elif name in ("starts_at", "ends_at", "cancel_deadline"):
            values[name] = start + value
        else:
            values[name] = value
    with pytest.raises(ServiceError, match=message) as refused:
        services.activity_create(created_by=people.community_worker, **values)
    assert refused.value.field == field
    assert not Activity.objects.exists()


def test_it_refuses_an_organisation_publishing_outside_its_area(people, funded, start):
    with pytest.raises(
        ServiceError, match="An organisation publishes activities within its own area."
    ) as refused:
        services.activity_create(
            created_by=people.provider_staff,
            region=people.other_community,
            organisation=people.agency,
            title="长者探访",
            place="吉福社区",
            starts_at=start,
            ends_at=start + HOUR,
            capacity=3,
        )
    assert refused.value.field == "region"
    assert not Activity.objects.exists()


@pytest.mark.parametrize("who", ["resident", "outsider", "street_officer", "work_unit_staff"])
def test_it_refuses_someone_who_may_not_organise_here(people, funded, start, who):
    with pytest.raises(ServiceError, match="Only the activity's organisers can do that."):
        services.activity_create(
            created_by=getattr(people, who),
            region=people.community,
            title="清理楼道",
            place="清波院落",
            starts_at=start,
            ends_at=start + HOUR,
            capacity=2,
        )
    assert not Activity.objects.exists()


def test_it_refuses_an_activity_without_a_start_with_a_field_error(people, funded, start):
    with pytest.raises(ServiceError) as refused:
        services.activity_create(
            created_by=people.community_worker,
            region=people.community,
            title="清理楼道",
            place="清波院落",
            ends_at=start,
            capacity=2,
        )
    assert refused.value.field == "starts_at"


# activity_open and insurance ----------------------------------------------------------------------------


def test_it_refuses_to_open_a_risky_activity_until_its_insurance_is_confirmed(people, make_activity):
    draft = make_activity(opened=False, risk_level="medium")
    with pytest.raises(
        ServiceError, match="Confirm the volunteers' insurance before opening a risky activity."
    ):
        services.activity_open(activity=draft, by=people.community_worker)
    draft.refresh_from_db()
    assert draft.status == Activity.Status.DRAFT

    services.activity_confirm_insurance(
        activity=draft, by=people.community_worker, policy="平安团体意外险 P-2025-001"
    )
    opened = services.activity_open(activity=draft, by=people.community_worker)
    assert opened.status == Activity.Status.OPEN
    assert opened.insurance_note == "平安团体意外险 P-2025-001"
    assert opened.insurance_confirmed_at is not None


def test_it_opens_a_low_risk_activity_without_insurance(people, make_activity):
    assert make_activity(opened=True).status == Activity.Status.OPEN


def test_it_refuses_an_insurance_confirmation_without_a_policy(people, make_activity):
    draft = make_activity(opened=False, risk_level="high")
    with pytest.raises(ServiceError, match="This field is required.") as refused:
        services.activity_confirm_insurance(activity=draft, by=people.community_worker, policy="  ")
    assert refused.value.field == "policy"
    draft.refresh_from_db()
    assert draft.insurance_confirmed_at is None


def test_the_database_refuses_an_open_risky_activity_without_insurance(people, make_activity):
    draft = make_activity(opened=False, risk_level="high")
    with pytest.raises(IntegrityError), transaction.atomic():
        Activity.objects.filter(pk=draft.pk).update(status=Activity.Status.OPEN)
    draft.refresh_from_db()
    assert draft.status == Activity.Status.DRAFT


def test_it_opens_only_a_draft_and_only_for_its_organisers(people, make_activity):
    draft = make_activity(opened=False)
    with pytest.raises(ServiceError, match="Only the activity's organisers can do that."):
        services.activity_open(activity=draft, by=people.outsider)
    services.activity_open(activity=draft, by=people.community_worker)
    with pytest.raises(ServiceError, match="Only a draft can be opened for sign-up."):
        services.activity_open(activity=draft, by=people.community_worker)


def test_it_refuses_to_open_an_activity_that_has_started(people, make_activity):
    draft = make_activity(opened=False)
    with pytest.raises(ServiceError, match="This activity has already started."):
        services.activity_open(activity=draft, by=people.community_worker, now=draft.starts_at)


# activity_update ----------------------------------------------------------------------------------------


def test_it_refuses_fewer_places_than_are_taken(people, activity, make_resident):
    sign_up_in_turn(activity, [people.resident_record, people.neighbour_record])
    with pytest.raises(
        ServiceError, match="2 people have already signed up; the places cannot be fewer."
    ) as refused:
        services.activity_update(
            activity=activity, by=people.community_worker, capacity=1, now=activity.starts_at - 2 * DAY
        )
    assert refused.value.field == "capacity"
    activity.refresh_from_db()
    assert activity.capacity == 2


def test_it_gives_new_places_to_the_waiting_list_in_order(
    people, activity, make_resident, django_capture_on_commit_callbacks
):
    first_waiting = make_resident(account=True)
    second_waiting = make_resident()
    residents = [people.neighbour_record, make_resident(), first_waiting, second_waiting]
    sign_up_in_turn(activity, residents)
    assert statuses(activity, *residents) == ["confirmed", "confirmed", "waitlisted", "waitlisted"]

    with django_capture_on_commit_callbacks(execute=True):
        services.activity_update(
            activity=activity, by=people.community_worker, capacity=3, now=activity.starts_at - 2 * DAY
        )
    assert statuses(activity, *residents) == ["confirmed", "confirmed", "confirmed", "waitlisted"]
    assert Notification.objects.filter(user=first_waiting.user, title="A place is yours: 清理楼道").exists()


def test_it_changes_an_activity_only_before_it_starts_and_only_known_fields(people, activity):
    with pytest.raises(ServiceError, match="An activity can be changed only before it starts."):
        services.activity_update(
            activity=activity, by=people.community_worker, place="别处", now=activity.starts_at
        )
    with pytest.raises(ServiceError, match="Unknown activity fields: region"):
        services.activity_update(activity=activity, by=people.community_worker, region=people.other_community)
    with pytest.raises(ServiceError, match="Only the activity's organisers can do that."):
        services.activity_update(activity=activity, by=people.outsider, place="别处")
    activity.refresh_from_db()
    assert activity.place == "清波院落"


def test_it_refuses_raising_the_risk_of_an_open_activity_without_insurance(people, activity):
    with pytest.raises(ServiceError):
        services.activity_update(
            activity=activity, by=people.community_worker, risk_level="high", now=activity.starts_at - 2 * DAY
        )
    activity.refresh_from_db()
    assert activity.risk_level == "low"


# activity_cancel ----------------------------------------------------------------------------------------


def test_it_cancels_every_sign_up_and_tells_everyone(
    people, activity, make_resident, django_capture_on_commit_callbacks
):
    waiting = make_resident(account=True)
    residents = [people.resident_record, people.neighbour_record, waiting]
    sign_up_in_turn(activity, residents)

    with django_capture_on_commit_callbacks(execute=True):
        services.activity_cancel(
            activity=activity, by=people.community_worker, reason="暴雨预警", now=activity.starts_at - DAY
        )
    activity.refresh_from_db()
    assert activity.status == Activity.Status.CANCELLED
    assert statuses(activity, *residents) == ["cancelled"] * 3
    assert not SignUp.objects.filter(activity=activity, cancelled_at=None).exists()
    told = Notification.objects.filter(title="Activity cancelled: 清理楼道", body="暴雨预警")
    # 李奶奶 has no account; the other two are told.
    assert sorted(told.values_list("user", flat=True)) == sorted([people.resident.pk, waiting.user_id])


def test_it_refuses_a_cancellation_without_reason_twice_or_by_others(people, activity):
    with pytest.raises(ServiceError, match="This field is required."):
        services.activity_cancel(activity=activity, by=people.community_worker, reason=" ")
    with pytest.raises(ServiceError, match="Only the activity's organisers can do that."):
        services.activity_cancel(activity=activity, by=people.resident, reason="不想办了")
    services.activity_cancel(activity=activity, by=people.community_worker, reason="暴雨预警")
    with pytest.raises(ServiceError, match="This activity is already cancelled."):
        services.activity_cancel(activity=activity, by=people.community_worker, reason="暴雨预警")


def test_it_refuses_to_cancel_once_hours_are_verified(people, activity):
    signup = services.signup_create(
        activity=activity, resident=people.resident_record, now=activity.starts_at - DAY
    )
    services.hours_verify(
        signup=signup, by=people.community_worker, decision="reject", reason="没来", now=activity.ends_at
    )
    with pytest.raises(
        ServiceError, match="Hours have been verified for this activity; it cannot be cancelled."
    ):
        services.activity_cancel(activity=activity, by=people.community_worker, reason="补录")
    activity.refresh_from_db()
    assert activity.status == Activity.Status.OPEN


# signup_create ------------------------------------------------------------------------------------------


def test_it_fills_the_places_then_the_waiting_list_in_order(people, activity, make_resident):
    residents = [people.resident_record, people.neighbour_record, make_resident(), make_resident()]
    signups = sign_up_in_turn(activity, residents)
    assert [signup.status for signup in signups] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert signups[0].volunteer == services.volunteer_profile_for(resident=people.resident_record)


def test_it_refuses_sign_up_once_the_activity_has_started(people, activity):
    with pytest.raises(ServiceError, match="Sign-up closed when the activity started."):
        services.signup_create(activity=activity, resident=people.resident_record, now=activity.starts_at)
    assert not SignUp.objects.exists()


def test_it_refuses_sign_up_for_a_draft_or_a_cancelled_activity(people, activity, make_activity):
    draft = make_activity(opened=False)
    with pytest.raises(ServiceError, match="This activity is not open for sign-up."):
        services.signup_create(activity=draft, resident=people.resident_record, now=draft.starts_at - DAY)
    services.activity_cancel(activity=activity, by=people.community_worker, reason="暴雨预警")
    with pytest.raises(ServiceError, match="This activity is not open for sign-up."):
        services.signup_create(
            activity=activity, resident=people.resident_record, now=activity.starts_at - DAY
        )
    assert not SignUp.objects.exists()


def test_it_keeps_an_activity_for_the_residents_of_its_region(people, make_activity):
    for_building_2 = make_activity(region=people.building_2)
    day_before = for_building_2.starts_at - 2 * DAY
    with pytest.raises(ServiceError, match="This activity is for residents of 2栋."):
        services.signup_create(activity=for_building_2, resident=people.resident_record, now=day_before)
    signup = services.signup_create(activity=for_building_2, resident=people.neighbour_record, now=day_before)
    assert signup.status == SignUpStatus.CONFIRMED


def test_it_refuses_a_resident_of_another_community_unless_open_to_everyone(people, activity, make_activity):
    day_before = activity.starts_at - DAY
    with pytest.raises(ServiceError, match="This activity is for residents of 清波社区."):
        services.signup_create(activity=activity, resident=people.other_resident_record, now=day_before)
    assert not SignUp.objects.exists()

    open_to_all = make_activity(open_to_everyone=True)
    signup = services.signup_create(
        activity=open_to_all, resident=people.other_resident_record, now=open_to_all.starts_at - DAY
    )
    assert signup.status == SignUpStatus.CONFIRMED


def years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def test_it_checks_the_minimum_age_against_the_date_of_birth(people, make_activity, make_resident):
    adults = make_activity(min_age=18)
    day = adults.starts_at.astimezone(datetime.UTC).date()
    before = adults.starts_at - DAY
    unknown = make_resident()
    with pytest.raises(ServiceError, match="ask the community to record your date of birth"):
        services.signup_create(activity=adults, resident=unknown, now=before)

    child = make_resident(birth_date=years_before(day, 10))
    with pytest.raises(ServiceError, match="This activity is for volunteers aged 18 and over."):
        services.signup_create(activity=adults, resident=child, now=before)
    assert not SignUp.objects.exists()

    # 张居民's date of birth comes from his ID number (1990).
    assert (
        services.signup_create(activity=adults, resident=people.resident_record, now=before).status
        == "confirmed"
    )


def test_it_lets_a_volunteer_join_on_their_eighteenth_birthday_early_in_the_morning(
    people, make_activity, make_resident
):
    morning = timezone.localtime().replace(hour=7, minute=0, second=0, microsecond=0) + 3 * DAY
    adults = make_activity(min_age=18, starts_at=morning)
    birthday_today = make_resident(birth_date=years_before(morning.date(), 18))
    signup = services.signup_create(activity=adults, resident=birthday_today, now=morning - DAY)
    assert signup.status == SignUpStatus.CONFIRMED


def test_it_refuses_a_second_sign_up_whether_placed_or_waiting(people, activity, make_resident):
    waiting = make_resident()
    sign_up_in_turn(activity, [people.resident_record, people.neighbour_record, waiting])
    for resident in (people.resident_record, waiting):
        with pytest.raises(ServiceError, match="You have already signed up for this activity."):
            services.signup_create(activity=activity, resident=resident, now=activity.starts_at - DAY)
    assert SignUp.objects.count() == 3


def test_it_puts_someone_who_signs_up_again_at_the_back_of_the_queue(people, make_activity, make_resident):
    one_place = make_activity(capacity=1)
    placed, again, patient = people.resident_record, make_resident(), make_resident()
    base = one_place.starts_at - 3 * DAY
    sign_up_in_turn(one_place, [placed, again, patient], start=base)
    withdrawn = services.signup_cancel(
        signup=SignUp.objects.get(volunteer__resident=again), by=people.community_worker, now=base + HOUR
    )
    assert withdrawn.status == SignUpStatus.CANCELLED
    back = services.signup_create(activity=one_place, resident=again, now=base + 2 * HOUR)
    assert (back.pk, back.status, back.cancelled_at) == (withdrawn.pk, SignUpStatus.WAITLISTED, None)

    services.signup_cancel(
        signup=SignUp.objects.get(volunteer__resident=placed), by=people.resident, now=base + 3 * HOUR
    )
    assert statuses(one_place, placed, again, patient) == ["cancelled", "waitlisted", "confirmed"]


def test_it_refuses_a_volunteer_marked_absent_signing_up_again(people, activity):
    signup = services.signup_create(
        activity=activity, resident=people.resident_record, now=activity.starts_at - DAY
    )
    services.attendance_mark(
        signup=signup, by=people.community_worker, action="no_show", now=activity.starts_at
    )
    with pytest.raises(ServiceError, match="You were marked absent from this activity."):
        services.signup_create(
            activity=activity, resident=people.resident_record, now=activity.starts_at - HOUR
        )


# signup_cancel ------------------------------------------------------------------------------------------


def test_it_gives_a_place_given_up_to_the_first_person_waiting(
    people, activity, make_resident, django_capture_on_commit_callbacks
):
    first_waiting, second_waiting = make_resident(account=True), make_resident(account=True)
    residents = [people.resident_record, people.neighbour_record, first_waiting, second_waiting]
    signups = sign_up_in_turn(activity, residents)

    with django_capture_on_commit_callbacks(execute=True):
        cancelled = services.signup_cancel(
            signup=signups[0], by=people.resident, now=activity.starts_at - DAY
        )
    assert cancelled.cancelled_at == activity.starts_at - DAY
    assert statuses(activity, *residents) == ["cancelled", "confirmed", "confirmed", "waitlisted"]
    promoted = Notification.objects.filter(title="A place is yours: 清理楼道")
    assert list(promoted.values_list("user", flat=True)) == [first_waiting.user_id]


def test_it_refuses_to_give_up_a_place_after_the_deadline(people, activity, make_resident):
    signups = sign_up_in_turn(activity, [people.resident_record, people.neighbour_record, make_resident()])
    late = activity.cancel_deadline + datetime.timedelta(minutes=1)
    for by in (people.resident, people.community_worker):
        with pytest.raises(ServiceError, match="The cancellation deadline has passed"):
            services.signup_cancel(signup=signups[0], by=by, now=late)
    assert statuses(activity, people.resident_record) == ["confirmed"]
    # Someone waiting can always leave the queue.
    left = services.signup_cancel(
        signup=signups[2], by=people.community_worker, now=activity.starts_at + HOUR
    )
    assert left.status == SignUpStatus.CANCELLED


def test_it_lets_only_the_volunteer_or_the_organisers_cancel(people, activity, make_resident):
    signup = services.signup_create(
        activity=activity, resident=people.resident_record, now=activity.starts_at - DAY
    )
    for someone in (people.outsider, people.street_officer, people.provider_staff, people.building_leader):
        with pytest.raises(ServiceError, match="Only the volunteer or the organisers can cancel a sign-up."):
            services.signup_cancel(signup=signup, by=someone, now=activity.starts_at - DAY)
    assert statuses(activity, people.resident_record) == ["confirmed"]
    services.signup_cancel(signup=signup, by=people.community_worker, now=activity.starts_at - DAY)
    with pytest.raises(ServiceError, match="This sign-up is not active."):
        services.signup_cancel(signup=signup, by=people.resident, now=activity.starts_at - DAY)


def test_it_refuses_to_cancel_after_checking_in(people, make_activity):
    # A deadline at the start: checked in an hour early, the volunteer is still before the deadline.
    early = make_activity()
    services.activity_update(
        activity=early,
        by=people.community_worker,
        cancel_deadline=early.starts_at,
        now=early.starts_at - 2 * DAY,
    )
    signup = services.signup_create(
        activity=early, resident=people.resident_record, now=early.starts_at - DAY
    )
    services.attendance_mark(
        signup=signup, by=people.community_worker, action="check_in", now=early.starts_at - HOUR
    )
    with pytest.raises(ServiceError, match="You have already checked in."):
        services.signup_cancel(signup=signup, by=people.resident, now=early.starts_at - HOUR)
