"""Configuration from the environment variables listed in docs/api.md (Environment variables).

Read once in main(); passed down explicitly. Nothing reads os.environ elsewhere."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cashback_kit.hardening import HARDENING_ENV_VARS, Hardening

VAR_DIR = Path(os.environ.get("CASHBACK_VAR_DIR", "var"))

DEFAULT_ADDRS = {"rules": "127.0.0.1:50051", "wallet": "127.0.0.1:50052", "notify": "127.0.0.1:50053"}

# Every variable a service reads, for the deploy check (issue 8) and the README.
ENV_VARS = (
    "RULES_ADDR",
    "WALLET_ADDR",
    "NOTIFY_ADDR",
    "RULES_DATABASE_URL",
    "WALLET_DATABASE_URL",
    "NOTIFY_DATABASE_URL",
    "RULES_TARGET",
    "WALLET_TARGET",
    "CASHBACK_API_KEYS_FILE",
    "CASHBACK_SERVICE_KEY",
    "WALLET_SERVICE_KEY",
    "NOTIFY_SERVICE_KEY",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "TWILIO_API_BASE_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_FROM",
    "CASHBACK_VAR_DIR",
    "CASHBACK_LOG_LEVEL",
    "CASHBACK_SHUTDOWN_GRACE",
    "CASHBACK_METRICS_PORT",
    "RULES_METRICS_PORT",
    "WALLET_METRICS_PORT",
    "NOTIFY_METRICS_PORT",
    "CASHBACK_TLS_CERT",
    "CASHBACK_TLS_KEY",
    "CASHBACK_TLS_CLIENT_CA",
    "CASHBACK_TLS_CA",
    "CASHBACK_TRACING",
    "WALLET_SWEEP_INTERVAL_SECONDS",
    "WALLET_WRITE_BATCH",
    "NOTIFY_LEASE_SECONDS",
    "NOTIFY_SEND_CONCURRENCY",
    *HARDENING_ENV_VARS,
)


@dataclass(frozen=True)
class Settings:
    service: str
    addr: str
    database_url: str
    api_keys_file: str
    service_key: str
    rules_target: str
    wallet_target: str
    twilio_account_sid: str
    twilio_auth_token: str
    twilio_from: str
    twilio_api_base_url: str
    smtp_host: str
    smtp_port: int
    smtp_from: str
    log_level: str
    shutdown_grace: float
    metrics_port: int
    tls_cert: str
    tls_key: str
    tls_client_ca: str
    tls_ca: str
    tracing: str
    # Wallet: seconds between sweeps (mature, expire, release stale holds); 0 = off.
    wallet_sweep_interval: str
    # Wallet: most credit writes grouped into one database transaction; 0 or 1 = each alone.
    wallet_write_batch: str
    # Notify: how long a sender's claim on a delivery lasts before another sender may take it.
    notify_lease_seconds: float
    # Notify: how many sends each process keeps in flight (kept as given; parsed by notify).
    notify_send_concurrency: str
    # Stream caps, the keys-file poll, the health listener, the page-token and fingerprint
    # secrets (cashback_kit/hardening.py). A bad value stops the start naming the variable.
    hardening: Hardening = field(default_factory=Hardening)

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        up = service.upper()
        var = Path(e.get("CASHBACK_VAR_DIR", str(VAR_DIR)))
        return cls(
            service=service,
            addr=e.get(f"{up}_ADDR", DEFAULT_ADDRS[service]),
            # No default: a service must be told which PostgreSQL to use (make run does).
            database_url=e.get(f"{up}_DATABASE_URL", ""),
            api_keys_file=e.get("CASHBACK_API_KEYS_FILE", str(var / "api-keys.json")),
            # <SERVICE>_SERVICE_KEY first, so one environment can start wallet and notify each
            # with its own narrow key (wallet-service, notify-service), as `make run` and the tests do.
            service_key=e.get(f"{up}_SERVICE_KEY", "") or e.get("CASHBACK_SERVICE_KEY", ""),
            rules_target=e.get("RULES_TARGET", DEFAULT_ADDRS["rules"]),
            wallet_target=e.get("WALLET_TARGET", DEFAULT_ADDRS["wallet"]),
            twilio_account_sid=e.get("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=e.get("TWILIO_AUTH_TOKEN", ""),
            twilio_from=e.get("TWILIO_FROM", ""),
            twilio_api_base_url=e.get("TWILIO_API_BASE_URL", ""),
            smtp_host=e.get("SMTP_HOST", ""),
            smtp_port=int(e.get("SMTP_PORT", "25") or 25),
            smtp_from=e.get("SMTP_FROM", ""),
            log_level=e.get("CASHBACK_LOG_LEVEL", "INFO"),
            shutdown_grace=float(e.get("CASHBACK_SHUTDOWN_GRACE", "5")),
            # -1 = off (the default); 0 = any free port.
            metrics_port=int(e.get(f"{up}_METRICS_PORT", e.get("CASHBACK_METRICS_PORT", "-1")) or -1),
            tls_cert=e.get("CASHBACK_TLS_CERT", ""),
            tls_key=e.get("CASHBACK_TLS_KEY", ""),
            tls_client_ca=e.get("CASHBACK_TLS_CLIENT_CA", ""),
            tls_ca=e.get("CASHBACK_TLS_CA", ""),
            tracing=e.get("CASHBACK_TRACING", "off"),
            wallet_sweep_interval=e.get("WALLET_SWEEP_INTERVAL_SECONDS", "30"),
            wallet_write_batch=e.get("WALLET_WRITE_BATCH", "256"),
            notify_lease_seconds=float(e.get("NOTIFY_LEASE_SECONDS", "60") or 60),
            notify_send_concurrency=e.get("NOTIFY_SEND_CONCURRENCY", "32"),
            hardening=Hardening.from_env(e),
        )
