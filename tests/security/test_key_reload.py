"""Issue 15, points 7 and 8, on a real process (the kit's serve_forever): keys reload
on SIGHUP and on a file change without dropping a call, and unusable or example keys
stop the process from starting, with a message that says why."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashback_kit.client import bearer
from cashback_kit.procs import ServiceProcess, start_process

ROOT = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, "-m", "tests.security.kit_server"]
OPS, APP = "ops-key-for-reload-test-0001", "app-key-for-reload-test-0001"
BALANCE = wallet_pb2.GetBalanceRequest(merchant_id="m1", customer_id="c1", currency_code="EUR")


def _keys(path: Path, *entries: tuple[str, str]) -> Path:
    path.write_text(json.dumps({"keys": [{"key": k, "role": r, "merchants": ["m1"]} for k, r in entries]}))
    return path


def _env(keys: Path, **extra: str) -> dict[str, str]:
    return {"PYTHONPATH": str(ROOT), "CASHBACK_API_KEYS_FILE": str(keys), "CASHBACK_SHUTDOWN_GRACE": "1",
            "CASHBACK_SERVICE_KEY": "", **extra}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    started: list[ServiceProcess] = []

    def start(keys: Path, **extra: str) -> ServiceProcess:
        started.append(start_process("wallet", _env(keys, **extra), argv=SERVER))
        return started[-1]

    yield start
    for proc in started:
        proc.terminate()


def _balance(target: str, key: str) -> grpc.StatusCode:
    with grpc.insecure_channel(target) as channel:
        try:
            wallet_pb2_grpc.WalletServiceStub(channel).GetBalance(BALANCE, metadata=bearer(key), timeout=5)
            return grpc.StatusCode.OK
        except grpc.RpcError as exc:
            return exc.code()


def _wait_for(predicate, what: str, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen in {timeout}s")
        time.sleep(0.05)


def test_sighup_reloads_the_keys_without_dropping_an_open_stream(serve, tmp_path):
    keys = _keys(tmp_path / "keys.json", (OPS, "ops"), (APP, "app"))
    proc = serve(keys, CASHBACK_KEYS_POLL_SECONDS="0")
    assert _balance(proc.target, APP) is grpc.StatusCode.OK
    with grpc.insecure_channel(proc.target) as channel:
        follow = wallet_pb2_grpc.WalletServiceStub(channel).StreamEvents(
            wallet_pb2.StreamEventsRequest(merchant_id="m1"), metadata=bearer(OPS))
        assert next(follow).event.event_id == "e1"

        _keys(keys, (OPS, "ops"))
        os.kill(proc.proc.pid, signal.SIGHUP)
        _wait_for(lambda: any("api keys reloaded" in line for line in proc.log_lines), "the reload log line")
        assert _balance(proc.target, APP) is grpc.StatusCode.UNAUTHENTICATED  # removed: refused at once
        assert _balance(proc.target, OPS) is grpc.StatusCode.OK
        assert proc.proc.poll() is None and follow.is_active()  # no exit, no drain
        follow.cancel()
    line = next(json.loads(x) for x in proc.log_lines if "api keys reloaded" in x)
    assert line["why"] == "SIGHUP" and line["keys"] == 1


def test_a_changed_keys_file_is_picked_up_and_a_broken_one_keeps_the_old_keys(serve, tmp_path):
    keys = _keys(tmp_path / "keys.json", (OPS, "ops"))
    proc = serve(keys, CASHBACK_KEYS_POLL_SECONDS="0.1")
    assert _balance(proc.target, APP) is grpc.StatusCode.UNAUTHENTICATED
    # A Secret update swaps the file: write beside it, rename over it.
    staged = tmp_path / "staged.json"
    os.replace(_keys(staged, (OPS, "ops"), (APP, "app")), keys)
    _wait_for(lambda: _balance(proc.target, APP) is grpc.StatusCode.OK, "the new key working")

    os.replace(_keys(staged, (OPS, "ops"), (OPS, "app")), keys)  # a duplicate: refused
    _wait_for(lambda: any("NOT reloaded" in line for line in proc.log_lines), "the refusal log line")
    assert _balance(proc.target, APP) is grpc.StatusCode.OK and proc.proc.poll() is None


def _refused_start(env: dict[str, str]) -> str:
    done = subprocess.run(SERVER, env={**os.environ, "WALLET_ADDR": "127.0.0.1:0", **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "listening on" not in done.stdout
    return done.stderr


def test_a_keys_file_with_a_duplicate_key_stops_the_start(tmp_path):
    err = _refused_start(_env(_keys(tmp_path / "keys.json", (OPS, "ops"), (OPS, "app"))))
    assert "keys[1]: the same key as keys[0]" in err and OPS not in err


def test_the_shipped_example_keys_stop_the_start():
    example = ROOT / "deploy" / "k8s" / "api-keys.example.json"
    err = _refused_start(_env(example))
    assert "refusing the API keys file" in err
    for i, _ in enumerate(json.loads(example.read_text())["keys"]):
        assert f"keys[{i}]: this is a published example key" in err


def test_an_example_service_key_stops_the_start(tmp_path):
    keys = _keys(tmp_path / "keys.json", (OPS, "ops"))
    err = _refused_start(_env(keys, CASHBACK_SERVICE_KEY="change-me-service-key-000000"))
    assert "CASHBACK_SERVICE_KEY: this is a published example key" in err
