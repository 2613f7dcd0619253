"""A matter's whole journey in a phone-sized Chromium window: a resident reports with a photo, the compound
leader accepts and escalates, the community worker resolves, the resident confirms and rates, and the
dashboard counts it."""

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from gongzhi.matters.models import Category, Matter, Status, Tier
from gongzhi.matters.services import default_categories_install

pytestmark = pytest.mark.browser


def photo(tmp_path):
    path = tmp_path / "楼道.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "gray").save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def switch_to(page, sign_in, user, mobile: str):
    page.context.clear_cookies()
    sign_in(user, mobile)


def act(page, action: str, **fields):
    panel = page.get_by_test_id(f"action-{action}")
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    for name, value in fields.items():
        panel.locator(f"[name={name}]").fill(value)
    panel.get_by_test_id(f"submit-{action}").click()


def test_a_matter_climbs_from_the_compound_to_the_community_and_is_rated(people, page, sign_in, tmp_path):
    default_categories_install()
    csp_violations = []
    page.on(
        "console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None
    )

    sign_in(people.resident, "13800000001")
    page.goto("/matters/new/")
    repairs = Category.objects.get(community=None, code="repairs")
    page.select_option("select[name=category]", value=str(repairs.pk))
    page.fill("textarea[name=description]", "2单元楼道的声控灯坏了一周，晚上老人看不见台阶")
    page.set_input_files("input[name=photos]", str(photo(tmp_path)))
    page.locator("#report-form button[type=submit]").last.click()
    expect(page.get_by_test_id("matter-status")).to_be_visible()
    matter = Matter.objects.get()
    assert (matter.tier, matter.handling_region) == (Tier.COMPOUND, people.compound)
    assert matter.photos.count() == 1

    switch_to(page, sign_in, people.compound_leader, "13800000003")
    page.goto(f"/matters/{matter.pk}/")
    act(page, "accept", note="收到，今天去看")
    expect(page.get_by_test_id("timeline")).to_contain_text("收到，今天去看")
    act(page, "escalate", reason="需要社区联系物业更换线路")
    expect(page.get_by_test_id("matter-tier")).to_contain_text(people.community.name)

    switch_to(page, sign_in, people.community_worker, "13800000005")
    page.goto("/matters/queue/")
    page.get_by_test_id("matter-list").get_by_role("link").first.click()
    act(page, "accept")
    act(page, "resolve", note="物业已更换线路和灯具")
    matter.refresh_from_db()
    assert (matter.status, matter.resolved_tier) == (Status.RESOLVED, Tier.COMMUNITY)

    switch_to(page, sign_in, people.resident, "13800000001")
    page.goto(f"/matters/{matter.pk}/")
    panel = page.get_by_test_id("action-confirm")
    panel.locator("input[name=resolved][value='1']").check()
    panel.locator("input[name=rating][value='5']").check()
    panel.locator("[name=comment]").fill("很快就修好了")
    panel.get_by_test_id("submit-confirm").click()
    expect(page.get_by_test_id("matter-rating")).to_contain_text("5")
    matter.refresh_from_db()
    assert (matter.status, matter.rating) == (Status.CLOSED, 5)

    switch_to(page, sign_in, people.street_officer, "13800000007")
    page.goto(f"/matters/dashboard/?region={people.street.pk}")
    figures = page.get_by_test_id("dashboard-figures")
    expect(figures.locator("[data-metric=received] .figure")).to_have_text("1")
    expect(figures.locator("[data-metric=satisfaction] .fraction")).to_have_text("1 / 1")
    expect(figures.locator("[data-metric=resolution] .fraction").first).to_have_text("1 / 1")
    expect(page.get_by_test_id("dashboard-rankings")).to_contain_text(people.community.name)
    expect(page.locator("#trend-chart canvas, [data-testid=dashboard-trend] canvas").first).to_be_visible()
    assert csp_violations == []
