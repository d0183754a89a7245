"""The promotions page in a real headless Chromium (the system one, driven by
Playwright), in Persian: reached from the nav, each text previewed live with its
SMS segment count («لغو۱۱» included), a promotion created and seen sent, a bad
text refused next to its field, and a form without its CSRF token refused."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.console.conftest import ConsoleStack
from tests.console.seed import seed
from tests.support.keys import TEST_KEYS

pytestmark = pytest.mark.e2e
TEXT = "{% if shop %}{{ shop }}: {% endif %}دلمان برایتان تنگ شده! تا پایان هفته ۲۰٪ تخفیف ویژهٔ شماست"


@pytest.fixture(scope="module")
def seeded(console: ConsoleStack) -> ConsoleStack:
    seed(console.stack)
    return console


@pytest.fixture
def page(browser, seeded) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" and "400" not in m.text else None)
    yield p
    context.close()
    assert errors == [], errors


def sign_in_fa(page, console: ConsoleStack) -> None:
    page.goto(f"{console.url}/login")
    page.click("a[hreflang=fa]")
    page.fill("input[name=api_key]", TEST_KEYS["ops"])
    page.fill("input[name=merchant]", "m2")
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/campaigns$"))


def test_a_marketer_writes_a_persian_promotion_sees_its_segments_and_sends_it(page, seeded) -> None:
    sign_in_fa(page, seeded)
    page.click("nav a[href='/promotions']")
    assert page.get_attribute("html", "dir") == "rtl"
    expect(page.locator("h1")).to_have_text("پیشنهادهای ویژه")
    expect(page.locator("#promotion-form")).to_contain_text("در خطر رفتن")  # the segments, in Persian
    page.fill("#promotion-form input[name=name]", "دلتنگی")
    page.fill("textarea[name=sms_fa]", TEXT)
    # Typed, not submitted: notify renders it as an Iranian number gets it, with the opt-out line.
    preview = page.locator("#preview-sms_fa")
    expect(preview).to_contain_text("لغو۱۱")
    expect(preview.locator(".segments")).to_contain_text("UCS-2 · ۱ بخش پیامک")
    page.fill("textarea[name=sms_fa]", TEXT + " " + "واقعاً " * 2)
    expect(preview.locator(".segments")).to_contain_text("۲ بخش پیامک")
    page.fill("textarea[name=sms_fa]", TEXT)
    page.click("#promotion-form button[type=submit]:not([formaction])")
    expect(page.locator(".flash")).to_have_text("پیشنهاد ساخته شد.")
    row = page.locator("#promotions tr", has_text="دلتنگی")
    expect(row).to_have_count(1)
    # The leader's scheduler sends it within seconds; the list then says so, in Persian digits.
    deadline = time.monotonic() + 30
    while "ارسال‌شده" not in row.locator(".status").inner_text():
        assert time.monotonic() < deadline, row.inner_text()
        time.sleep(1)
        page.reload()
    matched = row.locator(".matched").inner_text()
    assert re.fullmatch(r"[۱-۹][۰-۹]*", matched), matched  # the seeded customers of m2, none in Latin digits


def test_a_bad_text_is_refused_beside_its_field_and_a_form_without_csrf_changes_nothing(page, seeded) -> None:
    sign_in_fa(page, seeded)
    page.goto(f"{seeded.url}/promotions")
    page.fill("#promotion-form input[name=name]", "ناقص")
    page.check("input[name=channels][value=email]")
    page.fill("textarea[name=sms_fa]", TEXT)
    page.fill("textarea[name=email_fa]", "سلام {{ shop }}")
    page.click("#promotion-form button[type=submit]:not([formaction])")
    expect(page.locator("input[name=subject_fa] ~ .field-error")).to_be_visible()  # the email needs its subject
    assert page.input_value("textarea[name=sms_fa]") == TEXT  # what was typed is kept
    expect(page.locator("#promotions tr", has_text="ناقص")).to_have_count(0)
    answer = page.request.post(f"{seeded.url}/promotions", form={"name": "no token", "sms_en": "hi"})
    assert answer.status == 403
    page.reload()
    expect(page.locator("#promotions tr", has_text="no token")).to_have_count(0)
