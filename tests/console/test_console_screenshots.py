"""Screenshots of the main pages in English, Persian and Arabic, taken by the system
Chromium. Each must render (no script error, not blank); with CONSOLE_SCREENSHOTS_DIR
set (docs/screenshots) they are kept for the documentation."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.console.seed import seed, showcase
from tests.console.test_console_browser import sign_in
from tests.console.test_console_segments import import_history

pytestmark = pytest.mark.e2e
# language -> merchant: Persian for the merchant in rials, English and Arabic for the one in riyals.
SHOTS = {"en": "m1", "fa": "m2", "ar": "m1"}


@pytest.fixture(scope="module")
def showcased(console):
    seed(console.stack)
    showcase(console.stack)
    import_history(console.stack, "m1", "SAR", 10_000)
    import_history(console.stack, "m2", "IRR", 200_000)
    return console


@pytest.mark.parametrize("lang", list(SHOTS))
def test_the_main_pages_render_in_each_language(browser, showcased, lang, tmp_path: Path):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale=lang)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, showcased, SHOTS[lang], lang=lang)
    customer = "c-fa" if lang == "fa" else "c-en"
    shots: list[Path] = []

    def shot(name: str) -> None:
        path = tmp_path / f"{name}-{lang}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    shot("campaigns")
    page.goto(f"{showcased.url}/campaigns/new")
    page.fill("input[name=name]", {"en": "Weekend 8%", "fa": "آخر هفته ۸٪", "ar": "نهاية الأسبوع ٨٪"}[lang])
    page.fill("input[name=percent]", "8")
    # 8% of last month's orders: wait for the figure of the finished form, not of the empty one.
    expect(page.locator("#sim-cashback")).not_to_have_text(re.compile(r"^[0٠۰](?:[.٫][0٠۰]+)?\s"))
    shot("campaign-form")
    page.goto(f"{showcased.url}/customers/{customer}")
    shot("customer")
    page.goto(f"{showcased.url}/report")
    shot("report")
    page.goto(f"{showcased.url}/segments")
    expect(page.locator("#segments tbody tr")).to_have_count(11)
    shot("segments")
    page.goto(f"{showcased.url}/promotions")
    shop = "{% if shop %}{{ shop }}: {% endif %}"
    text = shop + {"en": "we miss you! 20% off everything until Friday.",
                   "fa": "دلمان برایتان تنگ شده! تا پایان هفته ۲۰٪ تخفیف ویژهٔ شماست",
                   "ar": "اشتقنا إليك! خصم ٢٠٪ على كل شيء حتى الجمعة."}[lang]
    page.fill(f"textarea[name=sms_{lang}]", text)
    expect(page.locator(f"#preview-sms_{lang} .segments")).to_be_visible()  # the live preview and its segments
    shot("promotions")
    context.close()
    assert errors == [], errors
    for path in shots:
        image = Image.open(path).convert("RGB")
        assert len(image.getcolors(maxcolors=1_000_000) or []) > 50, f"{path.name} looks blank"
    keep = os.environ.get("CONSOLE_SCREENSHOTS_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copy(path, Path(keep) / path.name)
