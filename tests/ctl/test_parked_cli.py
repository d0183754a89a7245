"""cashbackctl parked (list, retry, audit) against the real processes on PostgreSQL."""

from __future__ import annotations

import hashlib
import json

import pytest
from typer.testing import CliRunner

from cashbackctl.main import app
from tests.support.keys import TEST_KEYS
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
runner = CliRunner()


def ctl(stack: Stack, *args: str):
    return runner.invoke(app, ["--merchant", "m1", *args], env={**stack.client_env(), "COLUMNS": "200"})


def test_parked_events_are_listed_and_retried_and_the_retry_is_in_the_audit_log(stack):
    listed = ctl(stack, "--json", "parked", "list")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == []
    retried = ctl(stack, "parked", "retry")
    assert retried.exit_code == 0 and "processed" in retried.output
    log = ctl(stack, "--json", "parked", "audit", "--action", "RetryParkedEvents")
    assert log.exit_code == 0, log.output
    events = json.loads(log.output)
    assert events[0]["action"] == "RetryParkedEvents"
    assert events[0]["key_id"] == hashlib.sha256(TEST_KEYS["ops"].encode()).hexdigest()[:8]
    assert TEST_KEYS["ops"] not in log.output
