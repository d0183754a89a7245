"""docs/api.md is the contract in the repository: generated from the protos and the code,
it names every RPC, role and environment variable the running code has."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cashback.notify.v1 import notify_pb2
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2

from cashback_kit import auth, config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_api_docs.py"
API = ROOT / "docs" / "api.md"


@pytest.fixture(scope="module")
def api() -> str:
    return API.read_text()


def test_every_rpc_of_the_three_services_has_its_heading(api):
    for module in (rules_pb2, wallet_pb2, notify_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            assert f"### service `{service.full_name}`" in api
            for method in service.methods:
                heading = f"#### `{method.name}({method.input_type.name}) → "
                assert heading in api, heading


def test_an_rpc_comment_from_the_proto_comes_along(api):
    heading = "#### `ScoreOrder(ScoreOrderRequest) → ScoreOrderResponse`"
    body = api.split(heading, 1)[1].split("\n#### ", 1)[0]
    assert "Idempotency: by (merchant_id, order_id)." in body


def test_every_role_is_listed_with_what_it_may_call(api):
    section = api.split("## Roles", 1)[1].split("\n## ", 1)[0]
    for role in auth.ROLES:
        assert f"| `{role}` |" in section
    assert "`AwardOrder`" in section.split("| `checkout` |", 1)[1].split("\n", 1)[0]
    assert "`AwardOrder`" not in section.split("| `app` |", 1)[1].split("\n", 1)[0]


def test_every_environment_variable_the_code_reads_is_described(api):
    section = api.split("## Environment variables", 1)[1].split("\n# ", 1)[0]
    for var in config.ENV_VARS:
        generic = var
        for service in config.DEFAULT_ADDRS:
            if var.startswith(f"{service.upper()}_") and f"`{{SERVICE}}_{var.split('_', 1)[1]}`" in section:
                generic = "{SERVICE}_" + var.split("_", 1)[1]
        assert f"| `{generic}` |" in section, var


def test_the_check_fails_on_a_stale_api_md_and_passes_on_a_fresh_one(tmp_path):
    def check(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(SCRIPT), "--check", "--file", str(path)],
                              capture_output=True, text=True)

    fresh = check(API)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    stale = tmp_path / "api.md"
    stale.write_text(API.read_text().replace("| `checkout` |", "| `chekout` |"))
    result = check(stale)
    assert result.returncode == 1
    assert "docs/api.md is out of date" in result.stdout
