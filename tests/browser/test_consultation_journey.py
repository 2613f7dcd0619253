"""A consultation's whole procedure in a phone-sized Chromium window: a resident proposes a topic, a
neighbour co-signs it, the committee accepts it, chooses the compound's residents, calls the meeting; the
resident signs in with the hall's code, the hall votes by a show of hands counted by one worker and confirmed
by the secretary, the resolution is published, implementation starts and the progress report reaches the
topic's page."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import make_user
from gongzhi.consultations import services
from gongzhi.consultations.models import Consultation, Stage
from gongzhi.consultations.rules import DecisionRule
from gongzhi.core.models import Resident

pytestmark = pytest.mark.browser


def switch_to(page, sign_in, user, mobile: str):
    page.context.clear_cookies()
    sign_in(user, mobile)


def local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def act(page, testid: str, **fields):
    form = page.get_by_test_id(testid)
    details = form.locator("xpath=ancestor::details[1]")
    if details.count() and details.get_attribute("open") is None:
        details.locator("summary").click()
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").first.click()


def test_a_residents_topic_goes_from_co_signing_to_an_implementation_report(people, page, sign_in):
    worker, secretary = people.community_worker, people.community_secretary
    # The community's rules, without waiting periods so the whole procedure fits in one test.
    services.rule_set_create(
        by=worker, region=people.community, name="清波社区议事规则", cosign_threshold=1, notice_days=0,
        publication_days=0, objection_days=0, quorum_share="0.5", decision_rule=DecisionRule.MAJORITY_OF_CAST,
    )  # fmt: skip
    neighbour = make_user("13800000099", "李奶奶")
    Resident.objects.filter(pk=people.neighbour_record.pk).update(user=neighbour)

    sign_in(people.resident, "13800000001")
    page.goto("/consultations/propose/")
    act(page, "propose-form", title="院落加装休息座椅", description="院落里没有座椅，老人走累了没处歇脚。")
    expect(page.get_by_test_id("consultation-stage")).to_be_visible()
    consultation = Consultation.objects.get()
    assert consultation.stage == Stage.COSIGNING

    switch_to(page, sign_in, neighbour, "13800000099")
    page.goto(f"/consultations/{consultation.pk}/")
    page.get_by_test_id("cosign-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("cosign-count")).to_contain_text("1")
    consultation.refresh_from_db()
    assert consultation.stage == Stage.REVIEW

    switch_to(page, sign_in, worker, "13800000005")
    page.goto(f"/consultations/{consultation.pk}/manage/")
    review = page.get_by_test_id("form-review")
    review.locator("input[name=decision][value=accept]").check()
    review.locator("[name=reason]").fill("涉及全院落居民，同意提交协商。")
    review.locator("button[type=submit]").click()
    expect(page.get_by_test_id("form-participants_region")).to_be_attached()
    region = page.get_by_test_id("form-participants_region")
    page.get_by_test_id("form-participants_region").locator("xpath=ancestor::details[1]/summary").click()
    region.locator("select[name=region]").select_option(str(people.compound.pk))
    region.locator("button[type=submit]").click()
    expect(page.get_by_test_id("participants")).to_contain_text("李奶奶")
    act(page, "form-motion", text="同意在院落东侧加装4组休息座椅")
    act(page, "form-notice", meeting_at=local(timezone.now() + datetime.timedelta(minutes=10)),
        place="清波社区会议室", materials="座椅样式与位置图")  # fmt: skip
    code = page.get_by_test_id("meeting-code").inner_text().strip()
    consultation.refresh_from_db()
    assert consultation.notice_sent_at is not None and len(code) == 6

    switch_to(page, sign_in, people.resident, "13800000001")
    page.goto(f"/consultations/{consultation.pk}/sign-in/?code={code}")
    page.get_by_test_id("signin-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("record")).to_contain_text("张居民")
    # 李奶奶 has no phone at hand: a worker signs her in at the door.
    grandma = consultation.participants.get(resident=people.neighbour_record)
    services.attendance_sign_in(consultation=consultation, participant=grandma, by=worker)

    switch_to(page, sign_in, worker, "13800000005")
    page.goto(f"/consultations/{consultation.pk}/manage/")
    act(page, "form-voting_open", closes_at=local(timezone.now() + datetime.timedelta(hours=2)))
    act(page, "form-hall_tally-1", yes_heads="2", no_heads="0", abstain_heads="0")
    expect(page.get_by_test_id("motion-1")).to_contain_text("2")

    switch_to(page, sign_in, secretary, "13800000006")
    page.goto(f"/consultations/{consultation.pk}/manage/")
    page.get_by_test_id("form-hall_confirm-1").locator("button[type=submit]").click()
    page.get_by_test_id("form-voting_close").locator("button[type=submit]").click()
    expect(page.get_by_test_id("result-1")).to_be_visible()
    assert consultation.motions.get().passed is True
    page.get_by_test_id("form-publish").locator("button[type=submit]").click()
    page.get_by_test_id("form-conclude_publication").locator("button[type=submit]").click()
    act(page, "form-task", title="采购并安装座椅", responsible="物业公司",
        due_on=(timezone.localdate() + datetime.timedelta(days=30)).isoformat())  # fmt: skip
    task = consultation.tasks.get()
    act(page, f"form-progress-{task.pk}", text="座椅已订货，下周安装。")

    switch_to(page, sign_in, people.resident, "13800000001")
    page.goto(f"/consultations/{consultation.pk}/")
    expect(page.get_by_test_id("tasks")).to_contain_text("座椅已订货")
    expect(page.get_by_test_id("resolution-link")).to_be_visible()
    consultation.refresh_from_db()
    assert consultation.stage == Stage.IMPLEMENTING
