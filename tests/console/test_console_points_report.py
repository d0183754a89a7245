"""The console's report page for a merchant that runs points beside credit (issue 17),
over HTTP against real rules, wallet and console processes on PostgreSQL: a points
campaign's cost is a count of points in the session's language, never money."""

from __future__ import annotations

import re

import pytest

from tests.console.conftest import ConsoleStack
from tests.console.test_console_http import signed_in
from tests.support.keys import TEST_KEYS
from tests.support.points_report import points_beside_credit

pytestmark = pytest.mark.e2e
ROW = re.compile(r"<tr><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td></tr>")
KPI = re.compile(r'<div class="kpi"><b>([^<]*)</b><span>([^<]*)</span>')


def test_the_report_page_counts_a_points_campaigns_cost_in_points_in_each_language(console: ConsoleStack):
    points_beside_credit(console.stack, "m1", TEST_KEYS["checkout"])
    http = signed_in(console)
    pages = {}
    for lang in ("en", "fa", "ar"):
        http.get(f"{console.url}/lang/{lang}", headers={"Referer": f"{console.url}/report"})
        pages[lang] = http.get(f"{console.url}/report").text
    assert ROW.findall(pages["en"]) == [("Credit 2%", "4.80 SAR", "2.0%"), ("Points 50%", "12,000 points", "—")]
    assert ROW.findall(pages["fa"])[1][1:] == ("۱۲٬۰۰۰ امتیاز", "—")
    assert ROW.findall(pages["ar"])[1][1:] == ("١٢٬٠٠٠ نقطة", "—")
    assert {k: v for v, k in KPI.findall(pages["en"])}["cashback earned"] == "4.80 SAR"
