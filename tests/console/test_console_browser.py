"""The console in a real headless Chromium (the system one, driven by Playwright):
sign in, create a campaign and see it listed, watch the simulation, look up a
customer and adjust the balance, in English and in Persian."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from cashbackctl.units import date_text
from tests.console.conftest import ConsoleStack
from tests.console.seed import seed
from tests.support.keys import TEST_KEYS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def seeded(console: ConsoleStack) -> ConsoleStack:
    seed(console.stack)
    return console


@pytest.fixture
def page(fresh_page, seeded) -> object:
    return fresh_page  # no script errors, no CSP violations, nothing missing


def sign_in(page, console: ConsoleStack, merchant: str, lang: str = "en") -> None:
    page.goto(f"{console.url}/login")
    if lang != "en":
        page.click(f"a[hreflang={lang}]")
    page.fill("input[name=api_key]", TEST_KEYS["ops"])
    page.fill("input[name=merchant]", merchant)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/campaigns$"))


def last_month_days() -> tuple[date, date]:
    today = date.today()
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


# What the same walkthrough types and expects in each language.
FLOWS = {
    "en": {"merchant": "m1", "dir": "ltr", "name": "Browser 7%", "percent": "7", "cap": "30",
           # three orders of 100.00 SAR last month at 7%
           "cashback": "21.00 SAR", "cap_back": "30.00", "status": "active", "reward": "7%",
           "customer": "c-en", "before": "25.00 SAR", "adjust": "-5", "reason": "goodwill", "after": "20.00 SAR",
           "in_history": "-5.00 SAR"},
    "fa": {"merchant": "m2", "dir": "rtl", "name": "یلدا ۵٪", "percent": "۵", "cap": "۵۰٬۰۰۰",
           # three orders of 1,000,000 IRR at 5% = 150,000 IRR = 15,000 toman, in Persian digits
           "cashback": "۱۵٬۰۰۰ تومان", "cap_back": "50,000", "status": "فعال", "reward": "۵٪",
           "customer": "c-fa", "before": "۷۳٬۰۰۰ تومان", "adjust": "۱۰٬۰۰۰", "reason": "هدیه",
           "after": "۸۳٬۰۰۰ تومان", "in_history": "۱۴۰"},  # a Solar Hijri year
}


@pytest.mark.parametrize("lang", list(FLOWS))
def test_a_marketer_creates_a_campaign_simulates_it_and_adjusts_a_customer(page, seeded, lang):
    f = FLOWS[lang]
    sign_in(page, seeded, f["merchant"], lang=lang)
    assert page.get_attribute("html", "dir") == f["dir"] and page.get_attribute("html", "lang") == lang
    page.click("a.button[href='/campaigns/new']")
    page.fill("input[name=name]", f["name"])
    page.fill("input[name=percent]", f["percent"])
    page.fill("input[name=max_per_order]", f["cap"])
    # The panel beside the form updates as the form changes, in the merchant's units.
    expect(page.locator("#sim-cashback")).to_have_text(f["cashback"])
    assert re.match(r"^[3۳] / [3۳]$", page.inner_text("#sim-orders"))
    first, last = last_month_days()
    period = page.inner_text("#simulation .hint")
    assert (date_text(first, lang) in period and date_text(last, lang) in period), period
    page.click("#campaign-form button[type=submit]:not([formaction])")
    page.wait_for_url(re.compile(r"/campaigns/cmp_[0-9a-f]+$"))
    assert page.input_value("input[name=max_per_order]") == f["cap_back"]
    page.click("form[action$='/status']:has(input[value=active]) button")
    page.click("nav a[href='/campaigns']")
    row = page.locator("#campaigns tr", has_text=f["name"]).inner_text()
    assert f["status"] in row and f["reward"] in row

    page.click("nav a[href='/customers']")
    page.fill("input[name=q]", f["customer"])
    page.press("input[name=q]", "Enter")
    assert page.inner_text("#available") == f["before"]
    page.fill("#adjust input[name=amount]", f["adjust"])
    page.fill("#adjust input[name=reason]", f["reason"])
    page.click("#adjust button[type=submit]")
    page.wait_for_selector(".flash")
    assert page.inner_text("#available") == f["after"]
    history = page.inner_text("#history")
    assert f["reason"] in history and f["in_history"] in history
    adjusted = page.locator("#history tbody tr", has_text=f["reason"]).locator("td.amount").all_inner_texts()
    assert len(adjusted) == 2 and adjusted[0] == adjusted[1] != "-"  # an adjustment moves available credit only
    if lang == "fa":
        assert not re.search(r"[0-9]", page.inner_text("#balance"))  # Persian digits only
