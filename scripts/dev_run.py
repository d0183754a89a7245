"""`make run`: all three services on SQLite files under var/, SMS and email to log
sinks, in the foreground. Ctrl-C stops all three cleanly."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from cashback_kit.config import DEFAULT_ADDRS
from cashback_kit.procs import ServiceProcess, start_process

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
KEYS = VAR / "api-keys.json"


def ensure_keys() -> dict[str, str]:
    """A dev keys file, made once and kept, so keys stay stable between runs."""
    VAR.mkdir(exist_ok=True)
    if not KEYS.exists():
        entries = [
            {"key": f"dev-{role}-{secrets.token_hex(12)}", "role": role, "merchants": ["*"]}
            for role in ("ops", "checkout", "app", "service")
        ]
        KEYS.write_text(json.dumps({"keys": entries}, indent=2))
        KEYS.chmod(0o600)
    return {e["role"]: e["key"] for e in json.loads(KEYS.read_text())["keys"]}


def main() -> int:
    keys = ensure_keys()
    addrs = {name: os.environ.get(f"{name.upper()}_ADDR", addr) for name, addr in DEFAULT_ADDRS.items()}
    env = {
        **{f"{name.upper()}_ADDR": addr for name, addr in addrs.items()},
        "RULES_METRICS_PORT": "9101",
        "WALLET_METRICS_PORT": "9102",
        "NOTIFY_METRICS_PORT": "9103",
        "CASHBACK_API_KEYS_FILE": str(KEYS),
        "CASHBACK_SERVICE_KEY": keys["service"],
        "CASHBACK_VAR_DIR": str(VAR),
        "RULES_TARGET": addrs["rules"],
        "WALLET_TARGET": addrs["wallet"],
    }
    procs: list[ServiceProcess] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for name in ("rules", "wallet", "notify"):
            procs.append(start_process(name, env, echo=True))
        print("\ncashback is running (SQLite under var/, SMS and email to log sinks):")
        for p in procs:
            print(f"  {p.name:<7} {p.target}")
        print(f"  API keys: {KEYS}")
        for role, key in keys.items():
            print(f"    {role:<9} {key}")
        print("Press Ctrl-C to stop.\n", flush=True)
        while not stopping and all(p.proc.poll() is None for p in procs):
            time.sleep(0.2)
        dead = [p.name for p in procs if p.proc.poll() is not None]
        if dead and not stopping:
            print(f"stopping: {', '.join(dead)} exited", file=sys.stderr)
    finally:
        for p in reversed(procs):
            p.terminate()
        print("all services stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
