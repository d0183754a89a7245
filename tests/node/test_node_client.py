"""A checkout written in Node (@grpc/grpc-js + @grpc/proto-loader on protos/) runs a
full checkout flow against rules and wallet running as real processes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cashback_kit.procs import start_process
from tests.support.keys import TEST_KEYS, process_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def test_a_node_checkout_quotes_awards_redeems_and_captures(tmp_path, pg_url):
    node = shutil.which("node")
    assert node, "Node.js is required for this test (the machine image ships it)"
    assert (ROOT / "node_modules" / "@grpc" / "grpc-js").exists(), "run `npm install` (make test does)"
    env = process_env(tmp_path, pg_url, WALLET_SWEEP_INTERVAL_SECONDS="0.2")
    rules = start_process("rules", env)
    wallet = start_process("wallet", {**env, "RULES_TARGET": rules.target})
    try:
        result = subprocess.run(
            [node, str(ROOT / "tests" / "node" / "checkout_flow.mjs")],
            env={"PATH": "/usr/bin:/bin", "RULES_TARGET": rules.target, "WALLET_TARGET": wallet.target,
                 "OPS_KEY": TEST_KEYS["ops"], "CHECKOUT_KEY": TEST_KEYS["checkout"], "MERCHANT_ID": "m1"},
            capture_output=True, text=True, timeout=120,
        )
    finally:
        wallet.terminate()
        rules.terminate()
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {"ok": True, "quoted": "5000", "credited": "5000", "available_after_capture": "3000"}
