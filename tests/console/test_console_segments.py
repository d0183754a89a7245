"""The segments page, the customer's segment and RFM scores, a tier by the
calendar month and the customer search by phone, in a real headless Chromium
against the console and rules, wallet and notify processes on PostgreSQL."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2, notify_pb2_grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from playwright.sync_api import expect

from cashback_console.i18n import translate
from cashback_console.i18n_segments import SEGMENT_WORDS
from cashback_kit.client import bearer
from cashback_services.rules.domain.rfm import SEGMENTS
from cashbackctl.units import number
from tests.console.conftest import ConsoleStack
from tests.console.test_console_browser import sign_in
from tests.support.keys import TEST_KEYS
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
OPS = bearer(TEST_KEYS["ops"])
STAR_PHONE = "۰۹۱۲ ۳۴۵ ۶۷۸۹"  # as a Persian keyboard types it
FAMILY_PHONE = "09127654321"  # one phone, two customers


def _past(merchant: str, currency: str, order_id: str, customer: str, minor: int,
          days_ago: int) -> rules_pb2.Order:
    o = rules_pb2.Order(merchant_id=merchant, order_id=order_id, customer_id=customer, currency_code=currency,
                        lines=[rules_pb2.OrderLine(sku="past-order", quantity=1, unit_price=common_pb2.Money(
                            currency_code=currency, amount_minor=minor))])
    o.placed_at.FromDatetime(datetime.now(UTC) - timedelta(days=days_ago))
    return o


def import_history(stack: Stack, merchant: str, currency: str, unit: int) -> rules_pb2.ListSegmentsResponse:
    """A year of past orders (orders of `unit` minor units and multiples) imported for `merchant`,
    its segments once computed: `star` buys big, often and lately; `faded` once, small, a year
    ago; 30 customers in between. Orders are 70 days old or more after the first weeks' star ones,
    so last month's simulation of the other console tests is not what they see."""
    orders = [_past(merchant, currency, f"star-{i}", "star", 45 * unit, 1 + i) for i in range(12)]
    orders.append(_past(merchant, currency, "faded-1", "faded", unit // 4, 360))
    for k in range(30):
        orders += [_past(merchant, currency, f"c{k}-{j}", f"c{k}", unit * (k % 6 + 1), 9 * k + 20 * j + 70)
                   for j in range(k % 4 + 1)]
    with grpc.insecure_channel(stack.procs["rules"].target) as channel:
        rules = rules_pb2_grpc.RulesServiceStub(channel)
        rules.ImportOrders(rules_pb2.ImportOrdersRequest(merchant_id=merchant, orders=orders), metadata=OPS,
                           timeout=30)
        deadline = time.monotonic() + 30
        while True:
            listed = rules.ListSegments(rules_pb2.ListSegmentsRequest(merchant_id=merchant), metadata=OPS,
                                        timeout=10)
            if listed.HasField("computed_at") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert listed.HasField("computed_at"), "segments were not computed within 30 s of the import"
    return listed


@pytest.fixture(scope="module")
def segmented(console: ConsoleStack) -> rules_pb2.ListSegmentsResponse:
    """m2 (rials) with a year of imported orders, its segments computed, and contacts with phones."""
    listed = import_history(console.stack, "m2", "IRR", 200_000)
    with grpc.insecure_channel(console.stack.procs["notify"].target) as channel:
        notify = notify_pb2_grpc.NotifyServiceStub(channel)
        for customer, phone, email in (("star", STAR_PHONE, ""), ("c1", FAMILY_PHONE, ""), ("c2", FAMILY_PHONE, ""),
                                       ("c3", "", "Sara.Ahmadi@Example.com")):
            notify.UpsertContact(notify_pb2.UpsertContactRequest(contact=notify_pb2.Contact(
                merchant_id="m2", customer_id=customer, phone_e164=phone, email=email, locale="fa-IR",
                timezone="Asia/Tehran", sms_opt_in=True)), metadata=OPS, timeout=10)
    return listed


@pytest.fixture
def page(fresh_page) -> object:
    return fresh_page


@pytest.mark.parametrize("lang", ["fa", "ar", "en"])
def test_the_segments_page_lists_the_eleven_segments_with_counts_and_spend_in_native_digits(
        page, console, segmented, lang) -> None:
    sign_in(page, console, "m2", lang=lang)
    page.click("nav a[href='/segments']")
    page.wait_for_url(re.compile(r"/segments$"))
    rows = page.locator("#segments tbody tr")
    expect(rows).to_have_count(11)
    assert [rows.nth(i).get_attribute("data-segment") for i in range(11)] == list(SEGMENTS)
    for i, s in enumerate(segmented.segments):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == translate(SEGMENT_WORDS[s.segment][0], lang)
        assert cells.nth(2).inner_text() == number(s.customers, lang)
    champions = next(s for s in segmented.segments if s.segment == "champions")
    spend = rows.nth(0).locator("td").nth(3).inner_text()
    toman = number(champions.spend.amount_minor // 10, lang)
    assert toman in spend and ("تومان" in spend if lang == "fa" else "toman" in spend or "تومان" in spend)
    total = page.locator("#segments-total td").nth(1).inner_text()
    assert total == number(sum(s.customers for s in segmented.segments), lang)
    if lang != "en":
        assert not re.search(r"[0-9]", page.locator("#segments").inner_text())  # native digits only


def test_a_persian_digit_phone_finds_the_customer_whose_page_shows_segment_and_scores(page, console, segmented):
    sign_in(page, console, "m2", lang="fa")
    page.goto(f"{console.url}/customers")
    page.fill("input[name=q]", STAR_PHONE)
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"/customers/star$"))
    expect(page.locator("#segment")).to_have_attribute("data-segment", "champions")
    expect(page.locator("#segment")).to_have_text("قهرمانان")
    expect(page.locator("#rfm")).to_have_text("تازگی ۵ · دفعات ۵ · مبلغ ۵ (از ۵)")

    page.fill("input[name=q]", "+98 912 765 4321")  # the family's phone, written another way
    page.click("form.search button[type=submit]")
    expect(page.locator("#found tbody tr")).to_have_count(2)
    page.click("#found a[href='/customers/c2']")
    page.wait_for_url(re.compile(r"/customers/c2$"))

    page.fill("input[name=q]", "0912 000 0000")
    page.click("form.search button[type=submit]")
    expect(page.locator("#not-found")).to_be_visible()
    page.fill("input[name=q]", "sara.ahmadi@example.com")  # an email, in any case
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"/customers/c3$"))
    page.fill("input[name=q]", "faded")  # an id still opens the customer
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"/customers/faded$"))
    expect(page.locator("#segment")).to_have_attribute("data-segment", "lost")
    logs = "\n".join(console.console.log_lines + console.stack.procs["notify"].log_lines)
    for written in ("9123456789", "۳۴۵", "7654321", "9120000000", "sara"):
        assert written not in logs.lower()  # neither the console nor notify logs a phone or an email


def test_a_tier_by_the_calendar_month_is_saved_and_the_customer_page_says_this_month(page, console, segmented):
    sign_in(page, console, "m2", lang="fa")
    page.goto(f"{console.url}/settings")
    page.fill("textarea[name=tiers]", "gold = ۱٬۰۰۰٬۰۰۰ تومان")  # no campaign yet tells the console the unit
    page.check("input[name=calendar_month]")
    page.click("form[action='/settings/tiers'] button[type=submit]")
    page.wait_for_url(re.compile(r"/settings$"))
    page.goto(f"{console.url}/customers/star")
    expect(page.locator("#profile")).to_contain_text("خرید (این ماه)")
