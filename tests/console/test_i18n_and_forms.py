"""Without services: every phrase the templates show has Persian and Arabic, and the
campaign form turns into the Campaign the contract wants and back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cashback.rules.v1 import rules_pb2 as R
from starlette.datastructures import FormData

import cashback_console
from cashback_console.forms import campaign_from_form, form_from_campaign
from cashback_console.i18n import AR, FA, negotiate, translate
from cashback_console.sessions import LoginLimiter, SessionStore

TEMPLATES = Path(cashback_console.__file__).parent / "templates"
PHRASE = re.compile(r"""_\(\s*(["'])(.+?)\1\s*[,)]""")
LABEL = re.compile(r"""(?:field|select)\("\w+", "([^"]+)"|hint="([^"]+)"|\("\w+", "([^"]+)"\)""")


CODE_PHRASE = re.compile(r'(?:translate|\bt)\(\s*"([^"]+)"|title_key="([^"]+)"')


def template_phrases() -> set[str]:
    found: set[str] = set()
    for path in TEMPLATES.parent.rglob("*.py"):
        found |= {next(g for g in m.groups() if g) for m in CODE_PHRASE.finditer(path.read_text())}
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text()
        found |= {m.group(2) for m in PHRASE.finditer(text)}
        found |= {next(g for g in m.groups() if g) for m in LABEL.finditer(text)}
    return found


@pytest.mark.parametrize("table", [FA, AR], ids=["fa", "ar"])
def test_every_phrase_in_the_templates_has_a_translation(table):
    phrases = template_phrases()
    assert len(phrases) > 150
    missing = sorted(p for p in phrases if p not in table and not p.startswith("/"))
    assert missing == []


def test_the_language_follows_the_browser_and_falls_back_to_english():
    assert negotiate("fa-IR,fa;q=0.9,en;q=0.5") == "fa"
    assert negotiate("de-DE, ar;q=0.8") == "ar"
    assert negotiate("de") == "en"
    assert translate("Too many sign-in attempts; try again in {seconds} seconds.", "fa", seconds="۳") == (
        "تلاش‌های ورود زیاد بود؛ ۳ ثانیه دیگر دوباره امتحان کنید.")


def form(**values: object) -> FormData:
    items: list[tuple[str, str]] = []
    for k, v in values.items():
        items += [(k, x) for x in v] if isinstance(v, list) else [(k, str(v))]
    return FormData(items)


def test_a_toman_merchants_bare_amounts_are_tomans_and_come_back_as_typed():
    c, errors = campaign_from_form(form(name="Yalda", reward_kind="percent", percent="۵", max_per_order="۵۰٬۰۰۰",
                                        budget="2,000,000", timezone="Asia/Tehran", starts_on="2026-12-21",
                                        ends_on="2026-12-22", channels=["app"]), "m2", "IRR", str, creating=True)
    assert errors == {}
    assert c.percent_bps == 500 and c.currency_code == "IRR"
    assert c.max_per_order.amount_minor == 500_000 and c.budget.amount_minor == 20_000_000
    assert list(c.channels) == [R.CHANNEL_APP]
    back = form_from_campaign(c)
    assert back["max_per_order"] == "50,000" and back["budget"] == "2,000,000" and back["percent"] == "5"
    assert back["starts_on"] == "2026-12-21" and back["ends_on"] == "2026-12-22"


def test_form_problems_are_reported_per_field():
    c, errors = campaign_from_form(form(name="", reward_kind="fixed", fixed="", percent="x", min_order="ten",
                                        priority="high", tier_percent="gold", rate_overrides="shoes=3"),
                                   "m1", "SAR", str, creating=True)
    assert c is None
    assert set(errors) == {"name", "fixed", "min_order", "priority", "tier_percent", "rate_overrides"}


def test_sessions_expire_when_idle_and_sign_in_failures_are_limited():
    now = [0.0]
    store = SessionStore(idle_seconds=60, max_seconds=3600, clock=lambda: now[0])
    s = store.new()
    now[0] = 59
    assert store.get(s.sid) is s
    now[0] = 120
    assert store.get(s.sid) is None
    limiter = LoginLimiter(attempts=2, window_seconds=10, clock=lambda: now[0])
    limiter.failed("a")
    limiter.failed("a")
    assert limiter.retry_after("a") > 0 and limiter.retry_after("b") == 0
    now[0] += 11
    assert limiter.retry_after("a") == 0
