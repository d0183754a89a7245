"""Wallet and notify each call with a key of their own narrow role (issue 15, point 7):
in the tests' processes, in-process servers and `make run`; the legacy `service` key still works."""

from __future__ import annotations

import json
from pathlib import Path

from cashback_kit.auth import KeyRing
from cashback_kit.config import Settings
from tests.support.keys import TEST_KEYS, process_env, write_keys_file
from tests.support.servers import service_env


def _role(keys_file: Path, key: str) -> str:
    return KeyRing.from_file(keys_file).authenticate(f"Bearer {key}").role


def test_processes_started_from_one_environment_each_get_their_own_narrow_key(tmp_path: Path) -> None:
    env = process_env(tmp_path, "postgresql+asyncpg://u@127.0.0.1:1/x")
    keys_file = Path(env["CASHBACK_API_KEYS_FILE"])
    assert _role(keys_file, Settings.from_env("wallet", env).service_key) == "wallet-service"
    assert _role(keys_file, Settings.from_env("notify", env).service_key) == "notify-service"


def test_in_process_servers_get_their_own_narrow_key(tmp_path: Path) -> None:
    keys_file = write_keys_file(tmp_path / "keys.json")
    for service, role in (("wallet", "wallet-service"), ("notify", "notify-service")):
        settings = Settings.from_env(service, service_env(service, "postgresql+asyncpg://u@h/x", keys_file, None))
        assert _role(keys_file, settings.service_key) == role


def test_the_legacy_shared_key_still_works_when_it_is_all_a_deployment_gives() -> None:
    settings = Settings.from_env("notify", {"CASHBACK_SERVICE_KEY": TEST_KEYS["service"]})
    assert settings.service_key == TEST_KEYS["service"]


def test_make_run_gives_wallet_and_notify_keys_and_no_shared_service_key(tmp_path: Path, monkeypatch) -> None:
    import scripts.dev_run as dev_run

    monkeypatch.setattr(dev_run, "VAR", tmp_path)
    monkeypatch.setattr(dev_run, "KEYS", tmp_path / "api-keys.json")
    keys = dev_run.ensure_keys()
    roles = {e["role"] for e in json.loads((tmp_path / "api-keys.json").read_text())["keys"]}
    assert roles == {"ops", "checkout", "app", "wallet-service", "notify-service"}
    assert dev_run.ensure_keys() == keys  # stable between runs
