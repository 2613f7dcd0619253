"""Volunteering's whole journey in a phone-sized Chromium window: a resident signs up, checks in with the
code the organiser's roster shows, the organiser verifies the hours, the points appear in the passbook, the
resident redeems vegetables for them, and the vegetable plot's staff scan the code to hand them over."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from gongzhi.volunteering import services
from gongzhi.volunteering.models import Activity, Item, Outlet, Redemption, SignUp

pytestmark = pytest.mark.browser


def switch_to(page, sign_in, user, mobile: str):
    page.context.clear_cookies()
    sign_in(user, mobile)


def test_volunteer_hours_become_vegetables(people, page, sign_in):
    worker = people.community_worker
    services.budget_fund(community=people.community, amount=500, by=people.admin, idempotency_key="fund")
    start = timezone.now() + datetime.timedelta(minutes=30)
    activity = services.activity_open(
        activity=services.activity_create(
            created_by=worker,
            region=people.community,
            title="菜地除草",
            place="清波社区菜地",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            capacity=5,
            points=10,
        ),
        by=worker,
    )
    plot = services.outlet_save(
        outlet=Outlet(community=people.community, name="清波菜地", kind="plot"), by=worker
    )
    greens = services.item_save(
        item=Item(outlet=plot, name="青菜", unit="把", price=5, stock=30, limit_per_person=2), by=worker
    )

    sign_in(people.resident, "13800000001")
    page.goto(f"/volunteering/activities/{activity.pk}/")
    page.get_by_test_id("signup-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("checkin-form")).to_be_visible()
    assert SignUp.objects.get(activity=activity).status == "confirmed"

    switch_to(page, sign_in, worker, "13800000005")
    page.goto(f"/volunteering/activities/{activity.pk}/roster/")
    code = page.get_by_test_id("checkin-code").inner_text().strip()
    assert len(code) == 6 and code.isdigit()

    switch_to(page, sign_in, people.resident, "13800000001")
    page.goto(f"/volunteering/activities/{activity.pk}/")
    form = page.get_by_test_id("checkin-form")
    form.locator("input[name=code]").fill(code)
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("my-status")).to_be_visible()
    signup = SignUp.objects.get(activity=activity)
    assert signup.checked_in_at is not None

    # The activity takes place: it began five minutes before the check-in and ends two hours after it.
    checked_in = signup.checked_in_at
    Activity.objects.filter(pk=activity.pk).update(
        cancel_deadline=checked_in - datetime.timedelta(minutes=10),
        starts_at=checked_in - datetime.timedelta(minutes=5),
        ends_at=checked_in + datetime.timedelta(hours=2),
    )

    switch_to(page, sign_in, worker, "13800000005")
    page.goto(f"/volunteering/activities/{activity.pk}/roster/")
    page.get_by_test_id("verify").locator("button[name=decision][value=approve]").click()
    expect(page.get_by_test_id("verified")).to_be_visible()
    signup.refresh_from_db()
    assert (signup.verification, signup.hours) == ("approved", 2)

    switch_to(page, sign_in, people.resident, "13800000001")
    page.goto("/volunteering/passbook/")
    expect(page.get_by_test_id("balance")).to_contain_text("20")
    expect(page.locator("table")).to_contain_text("菜地除草")

    page.goto("/volunteering/shop/")
    page.get_by_test_id(f"item-{greens.pk}").locator("button[type=submit]").click()
    code_text = page.get_by_test_id("redemption-code")
    expect(code_text).to_be_visible()
    expect(page.get_by_test_id("redemption-qr").locator("svg")).to_be_visible()
    redemption = Redemption.objects.get()
    assert code_text.inner_text().replace(" ", "") == redemption.code
    greens.refresh_from_db()
    assert greens.stock == 29

    switch_to(page, sign_in, worker, "13800000005")
    page.goto("/volunteering/outlets/desk/")
    desk = page.get_by_test_id("desk-form")
    desk.locator("input[name=code]").fill(code_text_for_scanner(redemption.code))
    desk.locator("button[value=hand_over]").click()
    expect(page.get_by_test_id("desk-result")).to_contain_text("青菜")
    redemption.refresh_from_db()
    assert redemption.status == "handed_over"
    assert services.points_account_for(resident=people.resident_record).balance == 15


def code_text_for_scanner(code: str) -> str:
    """The code as a person might type it from the screen: lower case, with a space."""
    return f"{code[:5].lower()} {code[5:]}"
