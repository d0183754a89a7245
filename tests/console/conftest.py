"""The console as a real process in front of rules, wallet and notify processes on
PostgreSQL, and (for the browser tests) the system Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cashback_kit.procs import ServiceProcess, start_process
from tests.support.pgcluster import PgCluster
from tests.support.stack import Stack, pg_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class ConsoleStack:
    stack: Stack
    console: ServiceProcess

    @property
    def url(self) -> str:
        return f"http://{self.console.target}"


@pytest.fixture(scope="module")
def console(pg_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    root: Path = tmp_path_factory.mktemp("console")
    # The seed scores last month's orders as they happened (as a month of live checkouts would
    # have), so rules accepts orders placed up to 70 days back here.
    with pg_stack(pg_cluster, root, RULES_MAX_BACKDATE_SECONDS=str(70 * 86_400)) as stack:
        env = {**{k: v for k, v in stack.client_env().items() if k != "CASHBACK_OPS_KEY"},
               "CONSOLE_MERCHANTS": "m1,m2,m3", "CONSOLE_LOGIN_ATTEMPTS": "5"}
        proc = start_process("console", env)
        try:
            yield ConsoleStack(stack, proc)
        finally:
            proc.terminate()


@pytest.fixture
def fresh_page(browser) -> Iterator[object]:
    """A page in a context of its own; the test fails on any script error, CSP violation or missing resource."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield p
    context.close()
    assert errors == [], errors


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("the system Chromium is missing: run scripts/ensure_chromium.sh (as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()
