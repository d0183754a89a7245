"""The environment-variables section of docs/api.md, from what the code reads.

Each settings reader (the kit's Settings per service, the kit's Hardening, notify's own
settings) is called with an empty environment that records every name asked for and the
default given with it; a scan of the source for literal names (as tests/deploy does) adds
any read elsewhere. Defaults that a reader applies after the lookup (`get(name, "") or 8`)
are kept by hand in ENV_DEFAULTS, and each is checked against the reader: giving that value
must change nothing.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("rules", "wallet", "notify")

# What each variable means. `{SERVICE}` stands for RULES, WALLET or NOTIFY.
ENV_NOTES = {
    "{SERVICE}_ADDR": "address the service listens on (host:port)",
    "{SERVICE}_DATABASE_URL": "the service's PostgreSQL, a SQLAlchemy async URL (`postgresql+asyncpg://…`); "
    "each service owns its schema and migrates it at start. `make run` sets it to its embedded server",
    "{SERVICE}_METRICS_PORT": "Prometheus metrics port for this service (overrides CASHBACK_METRICS_PORT)",
    "{SERVICE}_SERVICE_KEY": "this service's own key for calling another (the wallet: role wallet-service; "
    "notify: notify-service); overrides CASHBACK_SERVICE_KEY",
    "RULES_TARGET": "where the wallet finds rules (host:port)",
    "WALLET_TARGET": "where notify finds the wallet (host:port)",
    "CASHBACK_API_KEYS_FILE": "the JSON file of API keys and their roles (see Authentication)",
    "CASHBACK_SERVICE_KEY": "the key a service sends when it calls another service",
    "CASHBACK_KEYS_POLL_SECONDS": "seconds between checks of the keys file for a change (0 = reload on SIGHUP only)",
    "CASHBACK_HEALTH_ADDR": "a second, plaintext listener serving only grpc.health.v1 (for kubelet probes "
    "when the service port speaks TLS); empty = health on the service port only",
    "CASHBACK_MAX_STREAMS_PER_KEY": "open server-streaming calls (StreamEvents) one key may hold; "
    "one more is RESOURCE_EXHAUSTED",
    "CASHBACK_MAX_PUBLIC_STREAMS": "open unauthenticated streams (health Watch, reflection) per server",
    "CASHBACK_TOKEN_SECRET": "secret (32+ characters) that signs page tokens; unset = a random one per "
    "process (tokens then work on one replica only)",
    "CASHBACK_FINGERPRINT_SECRET": "secret (32+ characters) for the keyed hash of recipients in logs; "
    "unset = a random one per process",
    "TWILIO_ACCOUNT_SID": "Twilio account for SMS; with no SMS provider set, SMS go to a log sink",
    "TWILIO_AUTH_TOKEN": "Twilio auth token",
    "TWILIO_FROM": "the sender number or messaging service for SMS",
    "TWILIO_API_BASE_URL": "send Twilio requests to another base URL (tests)",
    "KAVENEGAR_API_KEY": "notify: Kavenegar API key for SMS (by default +98 numbers go to Kavenegar when set)",
    "KAVENEGAR_SENDER": "notify: Kavenegar sender line",
    "KAVENEGAR_API_BASE_URL": "notify: send Kavenegar requests to another base URL (tests)",
    "SMS_ROUTES": "notify: SMS provider by calling code, e.g. `98=kavenegar,*=twilio` (providers: kavenegar, "
    "twilio, log)",
    "SMTP_HOST": "SMTP server for email; with none, email goes to a log sink",
    "SMTP_PORT": "SMTP port",
    "SMTP_FROM": "the From address of email",
    "SMTP_USERNAME": "notify: SMTP login user (with SMTP_PASSWORD)",
    "SMTP_PASSWORD": "notify: SMTP login password",
    "SMTP_TLS": "notify: `starttls`, `tls` or `none`",
    "SMTP_CA_FILE": "notify: a private CA for the SMTP relay's certificate (empty = the system's)",
    "CASHBACK_VAR_DIR": "directory for local state (`make run`'s keys file and data)",
    "CASHBACK_LOG_LEVEL": "log level (JSON logs on stderr)",
    "CASHBACK_SHUTDOWN_GRACE": "seconds in-flight calls get to finish on SIGTERM",
    "CASHBACK_METRICS_PORT": "Prometheus metrics port (-1 = off, 0 = any free port)",
    "CASHBACK_TLS_CERT": "certificate (PEM file): when set the server serves TLS only; also the client "
    "certificate a service presents when it calls another",
    "CASHBACK_TLS_KEY": "the private key of CASHBACK_TLS_CERT (PEM file)",
    "CASHBACK_TLS_CLIENT_CA": "when set, clients must present a certificate signed by this CA (mutual TLS)",
    "CASHBACK_TLS_CA": "when set, a service calls the others over TLS, trusting this CA",
    "CASHBACK_TRACING": "OpenTelemetry tracing: off, otlp (to OTEL_EXPORTER_OTLP_ENDPOINT) or console",
    "WALLET_SWEEP_INTERVAL_SECONDS": "wallet: seconds between sweeps (mature, expire, release stale holds); 0 = off",
    "WALLET_WRITE_BATCH": "wallet: most credit writes grouped into one database transaction; 0 or 1 = each alone",
    "NOTIFY_LEASE_SECONDS": "notify: how long a sender's claim on a delivery lasts before another sender may take it",
    "NOTIFY_SEND_CONCURRENCY": "notify: sends each process keeps in flight",
    "NOTIFY_RETRY_BUDGET_SECONDS": "notify: how long a failing delivery is retried before it is dead",
    "RULES_MAX_BACKDATE_SECONDS": "rules: how far before the server's clock a live order's placed_at (or an "
    "event's occurred_at) may be; older history goes through ImportOrders",
    "RULES_MAX_FUTURE_SECONDS": "rules: how far after the server's clock placed_at / occurred_at may be",
    "RULES_SIMULATION_MAX_ORDERS": "rules: the most recorded orders one SimulateCampaign replays",
    "RULES_SIMULATION_SECONDS": "rules: the time budget of one simulation's replay (in a worker thread)",
    "RULES_SIMULATIONS_PER_MERCHANT": "rules: simulations and campaign reports running at once for one merchant",
    "RULES_SIMULATIONS": "rules: simulations and campaign reports running at once in one process",
    "RULES_RFM_WINDOW_DAYS": "rules: RFM segments score the customers with an order in this many days (1 to 3650)",
    "RULES_RFM_REFRESH_SECONDS": "rules: a merchant's RFM scores older than this are recomputed (at least 60; "
    "an import also recomputes them a few seconds after it pauses)",
    "NOTIFY_MISFIRE_GRACE_SECONDS": "notify: how late a scheduled job (reminders, expiry scan) may still run",
    "NOTIFY_ORDER_GATHER_SECONDS": "notify: how long events of one order are gathered into one message",
    "NOTIFY_RENDER_BUDGET_SECONDS": "notify: the CPU time one merchant template may use to render (in a worker "
    "process); past it the render fails",
    "CONSOLE_ADDR": "console: address the web console listens on",
    "CONSOLE_MERCHANTS": "console: comma-separated merchants a key is tried against at sign-in when the form "
    "names none (else CASHBACK_MERCHANT)",
    "CONSOLE_SECURE_COOKIES": "console: `auto` (Secure cookies over https, also behind a trusted proxy), "
    "`always` or `never`",
    "CONSOLE_SESSION_IDLE_SECONDS": "console: a session ends after this long without a request",
    "CONSOLE_SESSION_MAX_SECONDS": "console: a session ends this long after sign-in, whatever happens",
    "CONSOLE_LOGIN_ATTEMPTS": "console: failed sign-ins allowed per client in the window below",
    "CONSOLE_LOGIN_WINDOW_SECONDS": "console: the window of CONSOLE_LOGIN_ATTEMPTS",
    "CONSOLE_FORWARDED_ALLOW_IPS": "console: proxies whose X-Forwarded-* headers are trusted",
    "CASHBACK_MERCHANT": "cashbackctl: the merchant to act for (`--merchant`); the console's fallback for "
    "CONSOLE_MERCHANTS",
    "CASHBACK_OPS_KEY": "cashbackctl: the ops key (`--key`; default: the ops key in `make run`'s keys file)",
    "CASHBACK_CURRENCY": "cashbackctl: the merchant's currency (`--currency`; default: found from its "
    "campaigns or wallet)",
    "CASHBACK_LOCALE": "cashbackctl report: its language (default: Persian for a merchant in rials, else English)",
}

# Defaults a reader applies after the lookup, so the recorder cannot see them (checked below).
ENV_DEFAULTS = {
    "CASHBACK_KEYS_POLL_SECONDS": "5.0",
    "CASHBACK_MAX_STREAMS_PER_KEY": "8",
    "CASHBACK_MAX_PUBLIC_STREAMS": "64",
    "KAVENEGAR_API_BASE_URL": "https://api.kavenegar.com",
    "SMTP_TLS": "none",
    "NOTIFY_RETRY_BUDGET_SECONDS": "86400",
    "NOTIFY_MISFIRE_GRACE_SECONDS": "3600",
    "NOTIFY_ORDER_GATHER_SECONDS": "3",
    "NOTIFY_RENDER_BUDGET_SECONDS": "0.5",
    "RULES_MAX_BACKDATE_SECONDS": "86400",
    "RULES_MAX_FUTURE_SECONDS": "300",
    "RULES_SIMULATION_MAX_ORDERS": "20000",
    "RULES_SIMULATION_SECONDS": "10",
    "RULES_SIMULATIONS_PER_MERCHANT": "1",
    "RULES_SIMULATIONS": "2",
    "RULES_RFM_WINDOW_DAYS": "365",
    "RULES_RFM_REFRESH_SECONDS": "21600",
    "CONSOLE_MERCHANTS": "m1",
    "CASHBACK_MERCHANT": "m1",
}

# Literal names read straight from an environment mapping (the pattern tests/deploy uses).
_LITERAL = re.compile(r"""(?:environ\.get|environ\[|getenv|\benv\.get|\be\.get)\(?\s*["']([A-Z][A-Z0-9_]{2,})["']""")

Reader = Callable[[Mapping[str, str]], Any]


class _Recorder(Mapping[str, str]):
    """An empty environment that notes every variable read from it and the default given."""

    def __init__(self) -> None:
        self.reads: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        self.reads.setdefault(key, default if isinstance(default, str) else "")
        return default

    def __getitem__(self, key: str) -> str:
        self.reads.setdefault(key, "")
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def readers() -> list[tuple[str, Reader]]:
    """(process, or "" for every service; reader): every settings object a process builds from
    its environment."""
    from cashback_console.config import ConsoleSettings
    from cashback_kit import config, hardening
    from cashback_services.notify.config import NotifySettings
    from cashback_services.rules.limits import RulesLimits

    def settings_of(service: str) -> Reader:
        return lambda env: config.Settings.from_env(service, env)

    per_service = [(s, settings_of(s)) for s in config.DEFAULT_ADDRS]
    return [*per_service, ("", hardening.Hardening.from_env), ("notify", NotifySettings.from_env),
            ("console", ConsoleSettings.from_env), ("rules", RulesLimits.from_env)]


def _changes_nothing(reader: Reader, env: Mapping[str, str]) -> bool:
    """Whether reading `env` gives the settings an empty environment gives (fields that differ
    between two empty reads, such as random secrets, are left out)."""
    first, second, given = vars(reader({})), vars(reader({})), vars(reader(env))
    return all(given[k] == first[k] for k in first if first[k] == second[k])


def env_rows() -> dict[str, dict[str, str]]:
    """{variable: {service: default}}; a variable each service reads under its own prefix
    (RULES_ADDR, WALLET_ADDR, ...) becomes {SERVICE}_..."""
    os.environ.pop("CASHBACK_VAR_DIR", None)  # so the defaults shown are the code's own
    reads: dict[str, dict[str, str]] = {}
    reader_of: dict[str, Reader] = {}
    paths: list[Path] = []
    for service, reader in readers():
        env = _Recorder()
        reader(env)
        for var, default in env.reads.items():
            for s in [service] if service else SERVICES:
                reads.setdefault(var, {})[s] = default
            reader_of.setdefault(var, reader)
    for package in ("cashback_services", "cashback_kit", "cashback_console", "cashbackctl"):
        paths.extend(ROOT.glob(f"{package}/**/*.py"))
    for path in paths:
        for var in _LITERAL.findall(path.read_text()):
            reads.setdefault(var, {})
    for var, default in ENV_DEFAULTS.items():
        if var not in reader_of or not _changes_nothing(reader_of[var], {var: default}):
            raise SystemExit(f"ENV_DEFAULTS[{var!r}] = {default!r} is not what the code does without {var}")
        reads[var] = dict.fromkeys(reads[var] or SERVICES, default)
    rows: dict[str, dict[str, str]] = {}
    for var, defaults in reads.items():
        prefix, _, suffix = var.partition("_")
        own = {s: f"{s.upper()}_{suffix}" for s in SERVICES}
        if prefix.lower() in SERVICES and all(s in reads.get(v, {}) for s, v in own.items()):
            rows.setdefault(f"{{SERVICE}}_{suffix}", {})[prefix.lower()] = defaults.get(prefix.lower(), "")
        else:
            rows[var] = defaults
    return rows


def render_env(lines: list[str]) -> None:
    lines += ["## Environment variables", "",
              "Read once at start by the services (`cashback_kit/config.py`, `cashback_kit/hardening.py`,",
              "notify's `config.py`), the console (`cashback_console/config.py`) and `cashbackctl`.",
              "`{SERVICE}` is `RULES`, `WALLET` or `NOTIFY`; a default of — is given in the meaning.", "",
              "| variable | default | meaning |", "|---|---|---|"]
    logging.disable(logging.WARNING)  # an unset secret warns; here that is expected
    try:
        rows = env_rows()
    finally:
        logging.disable(logging.NOTSET)
    for var in sorted(rows, key=lambda v: (not v.startswith("{"), v)):
        if var not in ENV_NOTES:
            raise SystemExit(f"environment variable {var} has no description: add it to ENV_NOTES in "
                             f"{Path(__file__).name}")
        values = set(rows[var].values())
        if not rows[var]:
            shown = "—"
        elif len(values) > 1:
            shown = "; ".join(f"{s}: `{v}`" if v else f"{s}: (none)" for s, v in rows[var].items())
        else:
            value = values.pop() if values else ""
            shown = f"`{value}`" if value else "(none)"
        lines.append(f"| `{var}` | {shown} | {ENV_NOTES[var]} |")
    lines.append("")
