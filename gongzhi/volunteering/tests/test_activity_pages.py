"""The activity pages: residents find, sign up for and check in to activities; organisers publish them, run
the roster (QR code, scans, attendance) and verify hours, which pays points into the volunteer's passbook."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from conftest import make_user
from gongzhi.core.models import Notification, Resident
from gongzhi.core.services import resident_create
from gongzhi.volunteering import services
from gongzhi.volunteering.models import Activity, ActivityStatus, SignUp, SignUpStatus, Verification
from gongzhi.volunteering.selectors import passbook

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def english(client):
    """Messages are matched in English (the msgids), on the pages as in the services."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


def url(name, *args):
    return reverse(f"volunteering:{name}", args=args)


def body(response) -> str:
    return response.content.decode()


def make_activity(people, *, by=None, region=None, days=1, capacity=2, **fields) -> Activity:
    start = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0) + datetime.timedelta(
        days=days
    )
    activity = services.activity_create(
        created_by=by or people.community_worker,
        region=region or people.community,
        title=fields.pop("title", "清理楼道"),
        place="清波院落",
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=2),
        capacity=capacity,
        points=10,
        **fields,
    )
    return services.activity_open(activity=activity, by=by or people.community_worker)


def start_now(activity: Activity) -> Activity:
    """Moves the activity so that it began half an hour ago and ends in an hour and a half."""
    now = timezone.now()
    Activity.objects.filter(pk=activity.pk).update(
        starts_at=now - datetime.timedelta(minutes=30),
        ends_at=now + datetime.timedelta(minutes=90),
        cancel_deadline=now - datetime.timedelta(hours=1),
    )
    activity.refresh_from_db()
    return activity


def neighbour(people, n: int, *, region=None) -> Resident:
    """Another resident of 清波社区 (no account)."""
    return resident_create(created_by=people.admin, region=region or people.building_2, name=f"邻居{n}")


def resident_user(record: Resident, mobile: str):
    user = make_user(mobile, record.name)
    Resident.objects.filter(pk=record.pk).update(user=user)
    return user


def signed_up(people, activity, resident=None) -> SignUp:
    return services.signup_create(activity=activity, resident=resident or people.resident_record)


# ---------------------------------------------------------------------------------------------------------
# Residents
# ---------------------------------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_sign_in(client, activity):
    for page in (
        url("activities"),
        url("activity", activity.pk),
        url("checkin", activity.pk) + "?code=123456",
    ):
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert "code%3D123456" in client.get(url("checkin", activity.pk) + "?code=123456")["Location"]


def test_it_lists_open_activities_with_places_left_and_my_status(client, login, people, activity):
    signed_up(people, activity)
    login(people.resident)
    page = body(client.get(url("activities")))
    assert "清理楼道" in page
    assert "1 place left of 2" in page
    assert "Signed up" in page


def test_it_lists_neither_drafts_nor_activities_meant_for_others(client, login, people, activity):
    draft = services.activity_create(
        created_by=people.community_worker,
        region=people.community,
        title="草稿活动",
        place="社区",
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        capacity=5,
    )
    make_activity(people, by=people.outsider, region=people.other_community, title="吉福的活动")
    login(people.resident)
    page = body(client.get(url("activities")))
    assert "清理楼道" in page and "草稿活动" not in page and "吉福的活动" not in page
    assert client.get(url("activity", draft.pk)).status_code == 404


def test_it_lists_past_activities_apart(client, login, people, activity):
    past = make_activity(people, title="上周的活动")
    Activity.objects.filter(pk=past.pk).update(
        starts_at=timezone.now() - datetime.timedelta(days=7),
        ends_at=timezone.now() - datetime.timedelta(days=7, hours=-2),
        cancel_deadline=timezone.now() - datetime.timedelta(days=8),
    )
    login(people.resident)
    upcoming = body(client.get(url("activities")))
    earlier = body(client.get(url("activities"), {"when": "past"}))
    assert "清理楼道" in upcoming and "上周的活动" not in upcoming
    assert "上周的活动" in earlier and "清理楼道" not in earlier


def test_a_resident_signs_up_on_the_activity_page(client, login, people, activity):
    login(people.resident)
    assert "Sign up" in body(client.get(url("activity", activity.pk)))
    response = client.post(url("signup", activity.pk))
    assert response.status_code == 302 and response["Location"] == url("activity", activity.pk)
    signup = SignUp.objects.get(activity=activity)
    assert signup.status == SignUpStatus.CONFIRMED and signup.volunteer.resident == people.resident_record
    page = body(client.get(url("activity", activity.pk)))
    assert "You are signed up" in page and "1 of 2 taken" in page


def test_a_full_activity_shows_the_waiting_list_and_my_place_on_it(client, login, people, activity):
    signed_up(people, activity, neighbour(people, 1))
    signed_up(people, activity, neighbour(people, 2))
    login(people.resident)
    assert "Join the waiting list" in body(client.get(url("activity", activity.pk)))
    client.post(url("signup", activity.pk))
    assert SignUp.objects.get(volunteer__resident=people.resident_record).status == SignUpStatus.WAITLISTED
    page = body(client.get(url("activity", activity.pk)))
    assert "number 1 on the waiting list" in page and "1 waiting" in page
    listing = body(client.get(url("activities")))
    assert "Full" in listing and "1 waiting" in listing and "On the waiting list" in listing


def test_a_resident_cancels_their_sign_up_and_the_first_waiting_gets_the_place(
    client, login, people, activity
):
    signed_up(people, activity)
    signed_up(people, activity, neighbour(people, 1))
    waiting = signed_up(people, activity, neighbour(people, 2))
    login(people.resident)
    response = client.post(url("signup_withdraw", activity.pk))
    assert response.status_code == 302
    assert SignUp.objects.get(volunteer__resident=people.resident_record).status == SignUpStatus.CANCELLED
    waiting.refresh_from_db()
    assert waiting.status == SignUpStatus.CONFIRMED


def test_it_refuses_a_sign_up_after_the_start_and_changes_nothing(client, login, people, activity):
    start_now(activity)
    login(people.resident)
    response = client.post(url("signup", activity.pk))
    assert response.status_code == 400
    assert "Sign-up closed when the activity started." in body(response)
    assert not SignUp.objects.exists()


def test_it_refuses_a_cancellation_after_the_deadline_and_changes_nothing(client, login, people, activity):
    signed_up(people, activity)
    Activity.objects.filter(pk=activity.pk).update(
        cancel_deadline=timezone.now() - datetime.timedelta(minutes=1)
    )
    login(people.resident)
    response = client.post(url("signup_withdraw", activity.pk))
    assert response.status_code == 400 and "The cancellation deadline has passed" in body(response)
    assert SignUp.objects.get().status == SignUpStatus.CONFIRMED


def test_a_resident_of_another_community_gets_404_unless_the_activity_is_open_to_everyone(
    client, login, people, activity
):
    login(resident_user(people.other_resident_record, "13700001111"))
    assert client.get(url("activity", activity.pk)).status_code == 404
    assert client.post(url("signup", activity.pk)).status_code == 404
    assert "清理楼道" not in body(client.get(url("activities")))
    open_to_all = make_activity(people, title="全市志愿日", open_to_everyone=True)
    assert client.get(url("activity", open_to_all.pk)).status_code == 200
    client.post(url("signup", open_to_all.pk))
    assert SignUp.objects.get().activity == open_to_all


def test_the_qr_link_shows_a_confirm_button_and_checks_in_only_on_post(client, login, people, activity):
    signup = signed_up(people, activity)
    start_now(activity)
    code = services.activity_code(activity)
    login(people.resident)
    page = client.get(url("checkin", activity.pk), {"code": code})
    assert page.status_code == 200 and f'value="{code}"' in body(page)
    assert "Confirm: check me in" in body(page)
    signup.refresh_from_db()
    assert signup.checked_in_at is None
    response = client.post(url("checkin", activity.pk), {"code": code})
    assert response.status_code == 302 and response["Location"] == url("activity", activity.pk)
    signup.refresh_from_db()
    assert signup.checked_in_at is not None and signup.check_method == "activity_code"
    assert "Checked in at" in body(client.get(url("activity", activity.pk)))


def test_a_volunteer_types_the_code_on_the_activity_page(client, login, people, activity):
    signed_up(people, activity)
    start_now(activity)
    login(people.resident)
    assert 'data-testid="checkin-form"' in body(client.get(url("activity", activity.pk)))
    client.post(url("checkin", activity.pk), {"code": services.activity_code(activity)})
    assert SignUp.objects.get().checked_in_at is not None


def test_a_wrong_check_in_code_is_refused_and_changes_nothing(client, login, people, activity):
    signed_up(people, activity)
    start_now(activity)
    right = services.activity_code(activity)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    login(people.resident)
    response = client.post(url("checkin", activity.pk), {"code": wrong})
    assert response.status_code == 400 and "This code is not valid or has expired" in body(response)
    response = client.post(url("checkin", activity.pk), {"code": "12ab"})
    assert response.status_code == 400
    assert SignUp.objects.get().checked_in_at is None


# ---------------------------------------------------------------------------------------------------------
# Organisers: publishing
# ---------------------------------------------------------------------------------------------------------


def activity_form(people, region, **fields):
    start = timezone.localtime() + datetime.timedelta(days=3)
    return {
        "region": region.pk,
        "title": "敬老院探访",
        "description": "陪老人聊天",
        "place": "社区养老院",
        "starts_at": start.strftime("%Y-%m-%dT09:00"),
        "ends_at": start.strftime("%Y-%m-%dT11:30"),
        "cancel_deadline": "",
        "capacity": "8",
        "skills_wanted": "",
        "min_age": "0",
        "risk_level": "low",
        "points_rule": "per_hour",
        "points": "10",
        **fields,
    }


def test_a_community_worker_creates_a_draft_and_opens_it(client, login, people):
    login(people.community_worker)
    assert client.get(url("activity_new")).status_code == 200
    response = client.post(url("activity_new"), activity_form(people, people.compound))
    activity = Activity.objects.get()
    assert response["Location"] == url("activity", activity.pk)
    assert activity.status == ActivityStatus.DRAFT and activity.region == people.compound
    assert activity.cancel_deadline == activity.starts_at and activity.organisation is None
    assert timezone.localtime(activity.starts_at).hour == 9
    client.post(url("activity_open", activity.pk))
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.OPEN


def test_a_provider_publishes_for_their_organisation_within_its_area(client, login, people):
    login(people.provider_staff)
    form_page = body(client.get(url("activity_new")))
    assert "清波社区" in form_page and "东坡社区" in form_page and "吉福社区" not in form_page
    client.post(
        url("activity_new"), activity_form(people, people.sibling_community, organisation=people.agency.pk)
    )
    activity = Activity.objects.get()
    assert activity.organisation == people.agency and activity.community == people.sibling_community


def test_the_form_refuses_a_region_outside_my_scope_and_bad_times(client, login, people):
    login(people.outsider)
    response = client.post(url("activity_new"), activity_form(people, people.community))
    assert response.status_code == 400 and not Activity.objects.exists()
    login(people.community_worker)
    start = (timezone.localtime() + datetime.timedelta(days=3)).strftime("%Y-%m-%d")
    response = client.post(
        url("activity_new"),
        activity_form(people, people.community, starts_at=f"{start}T11:00", ends_at=f"{start}T09:00"),
    )
    assert response.status_code == 400 and "The activity must end after it starts." in body(response)
    past = (timezone.localtime() - datetime.timedelta(days=1)).strftime("%Y-%m-%d")
    response = client.post(
        url("activity_new"),
        activity_form(people, people.community, starts_at=f"{past}T09:00", ends_at=f"{past}T11:00"),
    )
    assert response.status_code == 400 and "The start must be in the future." in body(response)
    assert not Activity.objects.exists()


def test_a_risky_activity_opens_only_once_the_insurance_is_confirmed(client, login, people):
    login(people.community_worker)
    client.post(url("activity_new"), activity_form(people, people.community, risk_level="high"))
    activity = Activity.objects.get()
    response = client.post(url("activity_open", activity.pk))
    assert response.status_code == 400 and "Confirm the volunteers&#x27; insurance" in body(response)
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.DRAFT
    client.post(url("activity_insurance", activity.pk), {"policy": "平安保险 PA-2026-001"})
    client.post(url("activity_open", activity.pk))
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.OPEN and activity.insurance_note == "平安保险 PA-2026-001"


def test_an_organiser_edits_but_cannot_drop_the_places_below_those_taken(client, login, people, activity):
    signed_up(people, activity)
    signed_up(people, activity, neighbour(people, 1))
    login(people.community_worker)
    edit = url("activity_edit", activity.pk)
    assert "清理楼道" in body(client.get(edit))
    data = activity_form(
        people,
        people.community,
        title="清理楼道和车棚",
        capacity="1",
        starts_at=timezone.localtime(activity.starts_at).strftime("%Y-%m-%dT%H:%M"),
        ends_at=timezone.localtime(activity.ends_at).strftime("%Y-%m-%dT%H:%M"),
    )
    response = client.post(edit, data)
    assert response.status_code == 400 and "2 people have already signed up" in body(response)
    activity.refresh_from_db()
    assert activity.title == "清理楼道" and activity.capacity == 2
    client.post(edit, {**data, "capacity": "3"})
    activity.refresh_from_db()
    assert activity.title == "清理楼道和车棚" and activity.capacity == 3


def test_an_organiser_cancels_the_activity_and_the_volunteers_are_told(
    client, login, people, activity, django_capture_on_commit_callbacks
):
    signed_up(people, activity)
    login(people.community_worker)
    response = client.post(url("activity_cancel", activity.pk), {"reason": ""})
    assert response.status_code == 400
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.OPEN
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("activity_cancel", activity.pk), {"reason": "暴雨预警"})
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.CANCELLED
    assert SignUp.objects.get().status == SignUpStatus.CANCELLED
    assert Notification.objects.filter(user=people.resident, body="暴雨预警").exists()


def test_residents_and_outsiders_get_404_on_the_organisers_pages(client, login, people, activity):
    for user in (people.resident, people.outsider):
        login(user)
        for page in ("activity_edit", "roster", "roster_code"):
            assert client.get(url(page, activity.pk)).status_code == 404, (user, page)
        for action in ("activity_open", "activity_cancel", "roster_scan"):
            assert client.post(url(action, activity.pk), {"reason": "x", "token": "x"}).status_code == 404
    login(people.resident)
    assert client.get(url("organise")).status_code == 404
    assert client.get(url("activity_new")).status_code == 404
    login(people.outsider)
    assert client.get(url("activity", activity.pk)).status_code == 404


def test_the_organise_page_counts_sign_ups_and_hours_to_verify(client, login, people, activity):
    signup = signed_up(people, activity)
    signed_up(people, activity, neighbour(people, 1))
    start_now(activity)
    services.attendance_mark(signup=signup, by=people.community_worker, action="check_in")
    draft = services.activity_create(
        created_by=people.community_worker,
        region=people.community,
        title="草稿活动",
        place="社区",
        starts_at=activity.ends_at + datetime.timedelta(days=2),
        ends_at=activity.ends_at + datetime.timedelta(days=2, hours=1),
        capacity=5,
    )
    login(people.community_worker)
    page = body(client.get(url("organise")))
    assert "清理楼道" in page and draft.title in page and "2 / 2" in page
    to_verify = body(client.get(url("organise"), {"when": "to_verify"}))
    assert "清理楼道" in to_verify and draft.title not in to_verify


# ---------------------------------------------------------------------------------------------------------
# Organisers: the roster
# ---------------------------------------------------------------------------------------------------------


def test_the_roster_shows_the_current_code_as_a_qr_code_that_refreshes_itself(
    client, login, people, activity
):
    login(people.community_worker)
    page = body(client.get(url("roster", activity.pk)))
    code = services.activity_code(activity)
    assert "<svg" in page and f'data-testid="checkin-code">{code}<' in page
    assert f'hx-get="{url("roster_code", activity.pk)}"' in page and 'hx-trigger="every 30s"' in page
    partial = client.get(url("roster_code", activity.pk), **HTMX)
    assert "<svg" in body(partial) and code in body(partial) and "<html" not in body(partial)
    assert "no-cache" in partial["Cache-Control"] or "no-store" in partial["Cache-Control"]


def test_the_organiser_scans_a_volunteers_personal_code(client, login, people, activity):
    signup = signed_up(people, activity)
    start_now(activity)
    token = signup.volunteer.qr_token
    login(people.community_worker)
    response = client.post(url("roster_scan", activity.pk), {"token": f"https://gongzhi.example/v/{token}"})
    assert response.status_code == 302
    signup.refresh_from_db()
    assert signup.checked_in_at is not None and signup.check_method == "personal_code"
    # The second scan checks out; with HTMX the form comes back with the person's line (out of band).
    response = client.post(url("roster_scan", activity.pk), {"token": token}, **HTMX)
    page = body(response)
    assert response.status_code == 200 and "checked out at" in page
    assert f'id="signup-{signup.pk}"' in page and 'hx-swap-oob="true"' in page
    signup.refresh_from_db()
    assert signup.checked_out_at is not None


def test_an_unknown_scanned_code_is_refused_and_changes_nothing(client, login, people, activity):
    signed_up(people, activity)
    start_now(activity)
    login(people.community_worker)
    response = client.post(url("roster_scan", activity.pk), {"token": "not-a-volunteer"})
    assert response.status_code == 400
    assert "This code belongs to nobody signed up for this activity." in body(response)
    response = client.post(url("roster_scan", activity.pk), {"token": "not-a-volunteer"}, **HTMX)
    assert response.status_code == 200 and "belongs to nobody" in body(response)
    assert SignUp.objects.get().checked_in_at is None


def test_the_organiser_ticks_attendance_and_htmx_swaps_the_line(client, login, people, activity):
    signup = signed_up(people, activity)
    absent = signed_up(people, activity, neighbour(people, 1))
    start_now(activity)
    login(people.community_worker)
    response = client.post(url("attendance", activity.pk, signup.pk), {"action": "check_in"}, **HTMX)
    line = body(response)
    assert line.startswith(f'<li id="signup-{signup.pk}"') and "张居民 is checked in." in line
    assert "<html" not in line
    response = client.post(url("attendance", activity.pk, absent.pk), {"action": "no_show"})
    assert response.status_code == 302 and response["Location"] == url("roster", activity.pk)
    signup.refresh_from_db()
    absent.refresh_from_db()
    assert signup.checked_in_at is not None and signup.check_method == "by_hand"
    assert absent.status == SignUpStatus.NO_SHOW and absent.volunteer.no_shows == 1


def test_a_refused_tick_shows_the_error_on_the_line_and_changes_nothing(client, login, people, activity):
    signup = signed_up(people, activity)
    signed_up(people, activity, neighbour(people, 1))
    waiting = signed_up(people, activity, neighbour(people, 2))
    soon = timezone.now() + datetime.timedelta(minutes=30)
    Activity.objects.filter(pk=activity.pk).update(
        starts_at=soon, ends_at=soon + datetime.timedelta(hours=2), cancel_deadline=soon
    )
    login(people.community_worker)
    response = client.post(url("attendance", activity.pk, signup.pk), {"action": "no_show"})
    assert response.status_code == 400
    assert "Absence can be marked once the activity has started." in body(response)
    response = client.post(url("attendance", activity.pk, waiting.pk), {"action": "check_in"}, **HTMX)
    line = body(response)
    assert (
        line.startswith(f'<li id="signup-{waiting.pk}"') and "is on the waiting list, not signed up." in line
    )
    signup.refresh_from_db()
    waiting.refresh_from_db()
    assert signup.status == SignUpStatus.CONFIRMED and signup.checked_in_at is None
    assert waiting.status == SignUpStatus.WAITLISTED and waiting.checked_in_at is None


def test_verifying_hours_pays_points_into_the_passbook(client, login, people, activity):
    signup = signed_up(people, activity)
    start_now(activity)
    login(people.community_worker)
    client.post(url("attendance", activity.pk, signup.pk), {"action": "check_in"})
    signup.refresh_from_db()
    proposed = services.hours_proposed(signup, activity)
    assert f"Approve {proposed} hours" in body(client.get(url("roster", activity.pk)))
    response = client.post(url("verify", activity.pk, signup.pk), {"decision": "approve"}, **HTMX)
    assert "hours verified" in body(response)
    signup.refresh_from_db()
    assert signup.verification == Verification.APPROVED and signup.hours == proposed
    entry = passbook(people.resident_record).get()
    assert entry.amount == services.points_for(activity, proposed) > 0 and entry.memo == "清理楼道"
    login(people.resident)
    assert "Verified:" in body(client.get(url("activity", activity.pk)))


def test_an_organiser_adjusts_hours_with_a_reason(client, login, people, activity):
    signup = signed_up(people, activity)
    start_now(activity)
    services.attendance_mark(signup=signup, by=people.community_worker, action="check_in")
    login(people.community_worker)
    response = client.post(url("verify", activity.pk, signup.pk), {"decision": "adjust", "hours": "2"})
    assert response.status_code == 400
    signup.refresh_from_db()
    assert signup.verification == Verification.PENDING and not passbook(people.resident_record).exists()
    client.post(
        url("verify", activity.pk, signup.pk), {"decision": "adjust", "hours": "2", "reason": "提前到场"}
    )
    signup.refresh_from_db()
    assert signup.verification == Verification.ADJUSTED and signup.hours == Decimal("2.00")
    assert passbook(people.resident_record).get().amount == 20


def test_verifying_twice_is_refused_and_pays_once(client, login, people, activity):
    signup = signed_up(people, activity)
    start_now(activity)
    services.attendance_mark(signup=signup, by=people.community_worker, action="check_in")
    login(people.community_worker)
    client.post(
        url("verify", activity.pk, signup.pk), {"decision": "adjust", "hours": "1", "reason": "按实际"}
    )
    response = client.post(url("verify", activity.pk, signup.pk), {"decision": "approve"})
    assert response.status_code == 400 and "These hours have already been verified." in body(response)
    assert passbook(people.resident_record).get().amount == 10


def test_a_roster_line_of_another_activity_is_404(client, login, people, activity):
    other = make_activity(people, title="另一个活动")
    signup = signed_up(people, other)
    login(people.community_worker)
    assert client.post(url("attendance", activity.pk, signup.pk), {"action": "check_in"}).status_code == 404
    assert client.post(url("verify", activity.pk, signup.pk), {"decision": "approve"}).status_code == 404


def test_the_provider_runs_the_roster_of_their_own_activity_only(client, login, people, activity):
    own = make_activity(people, by=people.provider_staff, organisation=people.agency, title="社工活动")
    login(people.provider_staff)
    assert client.get(url("roster", own.pk)).status_code == 200
    assert client.get(url("roster", activity.pk)).status_code == 404


# ---------------------------------------------------------------------------------------------------------
# Query counts do not grow with rows
# ---------------------------------------------------------------------------------------------------------


def test_the_activity_list_reads_a_fixed_number_of_queries(
    client, login, people, funded, django_assert_max_num_queries
):
    def add(count):
        for n in range(count):
            made = make_activity(people, title=f"活动{n}", capacity=3)
            signed_up(people, made)
            signed_up(people, made, neighbour(people, n))

    add(2)
    login(people.resident)
    # session, user, roles, resident record (scope), count, the page's activities with their places, resident
    # record (own sign-ups), the page's own sign-ups, unread notifications
    with django_assert_max_num_queries(9):
        client.get(url("activities"))
    add(20)
    with django_assert_max_num_queries(9):
        page = body(client.get(url("activities")))
    assert page.count('data-testid="activity-card"') == 20 and page.count("Signed up") == 20


def test_the_roster_reads_a_fixed_number_of_queries(
    client, login, people, funded, django_assert_max_num_queries
):
    services.budget_fund(
        community=people.community, amount=10_000, by=people.community_secretary, idempotency_key="fund-more"
    )
    activity = make_activity(people, capacity=50)

    def add(first, count):
        # Sign-up closes at the start: sign them up while it is tomorrow, then start it and check them in.
        tomorrow = timezone.now() + datetime.timedelta(days=1)
        Activity.objects.filter(pk=activity.pk).update(
            starts_at=tomorrow, ends_at=tomorrow + datetime.timedelta(hours=2), cancel_deadline=tomorrow
        )
        signups = [signed_up(people, activity, neighbour(people, n)) for n in range(first, first + count)]
        start_now(activity)
        for n, signup in enumerate(signups, start=first):
            services.attendance_mark(signup=signup, by=people.community_worker, action="check_in")
            if n % 2:
                services.hours_verify(signup=signup, by=people.community_worker, decision="approve")

    add(0, 3)
    login(people.community_worker)
    # session, user, roles, the activity, the roster with people and verifiers, unread notifications
    with django_assert_max_num_queries(6):
        client.get(url("roster", activity.pk))
    add(3, 25)
    with django_assert_max_num_queries(6):
        page = body(client.get(url("roster", activity.pk)))
    assert page.count('data-testid="roster-row"') == 28


def test_no_action_changes_anything_on_get(client, login, people, activity):
    signup = signed_up(people, activity)
    start_now(activity)
    login(people.community_worker)
    for page in (
        url("activity_open", activity.pk),
        url("activity_cancel", activity.pk),
        url("roster_scan", activity.pk),
        url("attendance", activity.pk, signup.pk) + "?action=check_in",
        url("verify", activity.pk, signup.pk) + "?decision=reject&reason=x",
    ):
        assert client.get(page).status_code == 405, page
    login(people.resident)
    assert client.get(url("signup_withdraw", activity.pk)).status_code == 405
    assert (
        client.get(url("checkin", activity.pk), {"code": services.activity_code(activity)}).status_code == 200
    )
    signup.refresh_from_db()
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.OPEN
    assert signup.status == SignUpStatus.CONFIRMED and signup.checked_in_at is None
    assert signup.verification == Verification.PENDING
