"""API keys used by tests: one per role, written to a keys file per test session."""

from __future__ import annotations

import json
from pathlib import Path

TEST_KEYS: dict[str, str] = {
    "ops": "test-ops-key-m1-m2-000000000000",
    "ops_all": "test-ops-key-all-merchants-00000",
    "checkout": "test-checkout-key-m1-0000000000",
    "app": "test-app-key-m1-000000000000000",
    "service": "test-service-key-all-0000000000",
    "checkout_m2": "test-checkout-key-m2-0000000000",
    "wallet_service": "test-wallet-service-key-00000000",
    "notify_service": "test-notify-service-key-00000000",
}

_ENTRIES = [
    {"key": TEST_KEYS["ops"], "role": "ops", "merchants": ["m1", "m2"]},
    {"key": TEST_KEYS["ops_all"], "role": "ops", "merchants": ["*"]},
    {"key": TEST_KEYS["checkout"], "role": "checkout", "merchants": ["m1"]},
    {"key": TEST_KEYS["app"], "role": "app", "merchants": ["m1"]},
    {"key": TEST_KEYS["service"], "role": "service", "merchants": ["*"]},
    {"key": TEST_KEYS["checkout_m2"], "role": "checkout", "merchants": ["m2"]},
    {"key": TEST_KEYS["wallet_service"], "role": "wallet-service", "merchants": ["*"], "name": "wallet"},
    {"key": TEST_KEYS["notify_service"], "role": "notify-service", "merchants": ["*"], "name": "notify"},
]


def write_keys_file(path: Path) -> Path:
    path.write_text(json.dumps({"keys": _ENTRIES}, indent=2))
    return path


def process_env(root: Path, database_url: str, **extra: str) -> dict[str, str]:
    """Environment for services started as processes by a test: its own keys file
    and var directory under `root`, the wallet's and notify's own service keys, and all
    three services on one PostgreSQL database (their tables and version tables are
    prefixed by service)."""
    return {
        "CASHBACK_API_KEYS_FILE": str(write_keys_file(root / "keys.json")),
        "WALLET_SERVICE_KEY": TEST_KEYS["wallet_service"],
        "NOTIFY_SERVICE_KEY": TEST_KEYS["notify_service"],
        "CASHBACK_VAR_DIR": str(root),
        **{f"{s}_DATABASE_URL": database_url for s in ("RULES", "WALLET", "NOTIFY")},
        **extra,
    }
