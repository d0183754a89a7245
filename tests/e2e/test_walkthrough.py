"""The README walkthrough, run for real: seed campaigns with cashbackctl, then the
example checkout quotes, awards and redeems against rules and wallet processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cashback_kit.procs import start_process
from tests.support.keys import TEST_KEYS, process_env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.e2e


def test_the_walkthrough_seeds_campaigns_and_runs_a_checkout(tmp_path, pg_url):
    env = process_env(tmp_path, pg_url)
    rules = start_process("rules", env)
    wallet = start_process("wallet", {**env, "RULES_TARGET": rules.target})
    notify = start_process("notify", {**env, "WALLET_TARGET": wallet.target})
    client_env = {"PATH": "/usr/bin:/bin", "RULES_ADDR": rules.target, "WALLET_ADDR": wallet.target,
                  "NOTIFY_ADDR": notify.target, "CASHBACK_OPS_KEY": TEST_KEYS["ops"],
                  "CASHBACK_CHECKOUT_KEY": TEST_KEYS["checkout"]}
    try:
        seeded = subprocess.run([str(BIN / "cashbackctl"), "--json", "campaigns", "create",
                                 str(ROOT / "examples" / "seed-campaigns.yaml"), "--activate"],
                                env=client_env, capture_output=True, text=True, timeout=60)
        assert seeded.returncode == 0, seeded.stderr
        assert [c["name"] for c in json.loads(seeded.stdout)] == [
            "Welcome 10%", "mada 7%", "App orders 15 SAR", "Review reward"]
        contact = subprocess.run([str(BIN / "cashbackctl"), "contacts", "set", "c-walk", "--phone", "+966501234567",
                                  "--locale", "ar-SA", "--timezone", "Asia/Riyadh"],
                                 env=client_env, capture_output=True, text=True, timeout=60)
        assert contact.returncode == 0, contact.stderr
        demo = subprocess.run([sys.executable, str(ROOT / "examples" / "checkout_demo.py"), "c-walk"],
                              env=client_env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert demo.returncode == 0, demo.stderr
        # Two campaigns paid (two lots), usable at once: one "credit added" for the order, to the SMS
        # log sink (after notify's few seconds of waiting for the rest of the order).
        for _ in range(200):
            if sum("sms sent to log sink" in line for line in notify.log_lines) >= 1:
                break
            time.sleep(0.1)
        time.sleep(1.5)  # time for a second message to show up, if there were one
        deliveries = subprocess.run([str(BIN / "cashbackctl"), "--json", "deliveries", "--customer", "c-walk"],
                                    env=client_env, capture_output=True, text=True, timeout=60)
    finally:
        notify.terminate()
        wallet.terminate()
        rules.terminate()
    sms_lines = [line for line in notify.log_lines if "sms sent to log sink" in line]
    assert len(sms_lines) == 1, notify.log_lines[-20:]
    assert not any("+966501234567" in line or "501234567" in line for line in notify.log_lines)
    kinds = sorted(d["kind"] for d in json.loads(deliveries.stdout))
    assert kinds == ["MESSAGE_KIND_CREDITED"]
    out = demo.stdout
    # 10% and 7% of 500.00 SAR, each capped at 30: 60.00 SAR; the app campaign does not apply on the web.
    assert "this order earns 60.00 SAR" in out
    assert "AwardOrder credited 60.00 SAR" in out
    assert "available 60.00" in out
    assert "pays 20.00 SAR with credit" in out
