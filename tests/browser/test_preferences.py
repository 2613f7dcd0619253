import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_visitor_switches_to_english_and_large_text_and_both_stay_on(page):
    page.goto("/login/")
    expect(page.locator("h1")).to_have_text("登录")
    page.click("[data-testid=switch-language]")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.click("[data-testid=toggle-large-text]")
    expect(page.locator("html")).to_have_class("large-text")
    font_size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert font_size >= 22
    page.goto("/")
    expect(page.locator("html")).to_have_class("large-text")
    expect(page.locator("[data-testid=switch-language]")).to_have_text("中文")


def test_pages_run_without_csp_violations(page):
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto("/login/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof window.htmx") == "object"
    assert violations == []
