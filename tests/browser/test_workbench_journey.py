"""The community worker's main journey, in a phone-sized Chromium window."""

import io

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from gongzhi.core.models import AuditEvent, Resident

pytestmark = pytest.mark.browser


def roster_workbook(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "身份证号", "手机号", "楼栋", "房号", "户主", "标签"])
    sheet.append(["陈新来", "510107195205060027", "13622223333", "1栋", "1-301", "是", "老年人"])
    sheet.append(["错号码", "110101199003074478", "13622224444", "2栋", "2-302", "否", ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = tmp_path / "花名册.xlsx"
    path.write_bytes(buffer.getvalue())
    return path


def test_a_community_worker_finds_a_resident_and_imports_a_roster_with_a_bad_row(
    people, page, sign_in, tmp_path
):
    sign_in(people.community_worker, "13800000005")

    page.goto("/workbench/residents/")
    page.fill("input[name=q]", "李奶奶")
    results = page.locator("#resident-results")
    expect(results).to_contain_text("李奶奶")
    expect(results).not_to_contain_text("张居民")
    results.get_by_role("link", name="李奶奶").click()
    expect(page.locator("main")).to_contain_text("139****5678")
    expect(page.locator("main")).not_to_contain_text("13912345678")

    page.goto("/workbench/roster/imports/")
    page.set_input_files("input[type=file]", str(roster_workbook(tmp_path)))
    page.locator("[data-testid=roster-upload] button[type=submit]").click()
    expect(page.get_by_test_id("total-rows")).to_have_text("2")
    expect(page.get_by_test_id("valid-rows")).to_have_text("1")
    errors = page.get_by_test_id("roster-errors")
    expect(errors).to_contain_text("校验位")
    assert Resident.objects.filter(name="陈新来").count() == 0

    page.get_by_label("仅导入无误的行").check()
    page.get_by_role("button", name="导入").click()
    expect(page.get_by_test_id("imported-rows")).to_have_text("1")
    assert Resident.objects.get(name="陈新来").region == people.building
    assert not Resident.objects.filter(name="错号码").exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT, actor=people.community_worker).exists()

    page.click("[data-testid=switch-language]")
    expect(page.locator("h1")).not_to_contain_text("导入")
    page.click("[data-testid=toggle-large-text]")
    expect(page.locator("html")).to_have_class("large-text")
    page.goto("/workbench/")
    expect(page.locator("html")).to_have_class("large-text")
    expect(page.locator("h1")).to_have_text("Workbench")


def test_an_outsider_cannot_open_a_resident_of_another_district(people, page, sign_in):
    sign_in(people.outsider, "13800000011")
    response = page.goto(f"/workbench/residents/{people.neighbour_record.pk}/")
    assert response.status == 404
