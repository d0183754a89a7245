"""The console in a real headless Chromium (the system one, driven by Playwright):
sign in, create a campaign and see it listed, watch the simulation, look up a
customer and adjust the balance, in English and in Persian."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.console.conftest import ConsoleStack
from tests.console.seed import seed
from tests.support.keys import TEST_KEYS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def seeded(console: ConsoleStack) -> ConsoleStack:
    seed(console.stack)
    return console


@pytest.fixture
def page(browser, seeded) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield p
    context.close()
    assert errors == [], errors  # no script errors, no CSP violations, nothing missing


def sign_in(page, console: ConsoleStack, merchant: str, lang: str = "en") -> None:
    page.goto(f"{console.url}/login")
    if lang != "en":
        page.click(f"a[hreflang={lang}]")
    page.fill("input[name=api_key]", TEST_KEYS["ops"])
    page.fill("input[name=merchant]", merchant)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/campaigns$"))


def test_in_english_a_marketer_creates_a_campaign_simulates_it_and_adjusts_a_customer(page, seeded):
    sign_in(page, seeded, "m1")
    assert page.get_attribute("html", "dir") == "ltr"
    page.click("text=New campaign")
    page.fill("input[name=name]", "Browser 7%")
    page.fill("input[name=percent]", "7")
    page.fill("input[name=max_per_order]", "30")
    # Three orders of 100.00 SAR last month at 7%: the panel updates as the form changes.
    expect(page.locator("#sim-cashback")).to_have_text("21.00 SAR")
    assert page.inner_text("#sim-orders").startswith("3 / 3")
    page.click("#campaign-form button[type=submit]:not([formaction])")
    page.wait_for_url(re.compile(r"/campaigns/cmp_[0-9a-f]+$"))
    assert "Campaign saved." in page.inner_text(".flash")
    page.click("form[action$='/status'] button:has-text('Activate')")
    page.click("nav >> text=Campaigns")
    row = page.locator("#campaigns tr", has_text="Browser 7%")
    assert "active" in row.inner_text() and "7%" in row.inner_text()

    page.click("nav >> text=Customers")
    page.fill("input[name=q]", "c-en")
    page.press("input[name=q]", "Enter")
    assert page.inner_text("#available") == "25.00 SAR"
    page.fill("#adjust input[name=amount]", "-5")
    page.fill("#adjust input[name=reason]", "goodwill")
    page.click("#adjust button[type=submit]")
    page.wait_for_selector(".flash")
    assert page.inner_text("#available") == "20.00 SAR"
    assert "goodwill" in page.inner_text("#history") and "-5.00 SAR" in page.inner_text("#history")


def test_in_persian_the_console_is_right_to_left_with_tomans_and_persian_digits(page, seeded):
    sign_in(page, seeded, "m2", lang="fa")
    assert page.get_attribute("html", "dir") == "rtl" and page.get_attribute("html", "lang") == "fa"
    page.click("text=کمپین تازه")
    page.fill("input[name=name]", "یلدا ۵٪")
    page.fill("input[name=percent]", "۵")
    page.fill("input[name=max_per_order]", "۵۰٬۰۰۰")
    # 3 x 1,000,000 IRR at 5% = 150,000 IRR = 15,000 toman, in Persian digits.
    expect(page.locator("#sim-cashback")).to_have_text("۱۵٬۰۰۰ تومان")
    page.click("#campaign-form button[type=submit]:not([formaction])")
    page.wait_for_url(re.compile(r"/campaigns/cmp_[0-9a-f]+$"))
    assert page.input_value("input[name=max_per_order]") == "50,000"  # kept in tomans
    page.click("nav >> text=کمپین‌ها")
    row = page.locator("#campaigns tr", has_text="یلدا")
    assert "۵٪" in row.inner_text() and "پیش‌نویس" in row.inner_text()

    page.click("nav >> text=مشتریان")
    page.fill("input[name=q]", "c-fa")
    page.press("input[name=q]", "Enter")
    assert page.inner_text("#available") == "۷۳٬۰۰۰ تومان"
    page.fill("#adjust input[name=amount]", "۱۰٬۰۰۰")
    page.fill("#adjust input[name=reason]", "هدیه")
    page.click("#adjust button[type=submit]")
    page.wait_for_selector(".flash")
    assert page.inner_text("#available") == "۸۳٬۰۰۰ تومان"
    history = page.inner_text("#history")
    assert "هدیه" in history and "۱۴۰" in history  # Solar Hijri year, Persian digits
    assert not re.search(r"[0-9]", page.inner_text("#balance"))
