"""Settings of the hardening in the kit (issue 15): stream caps, the key-file poll and
the secrets behind page tokens and recipient fingerprints.

Read once at start from the environment, beside Settings (config.py), and passed down.
A secret left unset is replaced by a random one for this process, with a warning: page
tokens then work on one replica only and fingerprints change at each restart."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cashback_kit.known_keys import example_key_reason

log = logging.getLogger("cashback.hardening")

HARDENING_ENV_VARS = (
    "CASHBACK_HEALTH_ADDR",
    "CASHBACK_MAX_STREAMS_PER_KEY",
    "CASHBACK_MAX_PUBLIC_STREAMS",
    "CASHBACK_KEYS_POLL_SECONDS",
    "CASHBACK_TOKEN_SECRET",
    "CASHBACK_FINGERPRINT_SECRET",
)
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class Hardening:
    # Open server-streaming calls (StreamEvents) one key may hold; one more is RESOURCE_EXHAUSTED.
    max_streams_per_key: int = 8
    # Open unauthenticated streams (health Watch, reflection) of the whole server.
    max_public_streams: int = 64
    # Seconds between checks of the keys file for a change; 0 = only SIGHUP reloads.
    keys_poll_seconds: float = 5.0
    # A second, plaintext listener with only grpc.health.v1 (kubelet gRPC probes speak no
    # TLS); its own small RPC limit. Empty = health only on the service's port.
    health_addr: str = ""
    token_secret: bytes = b""
    fingerprint_secret: bytes = b""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Hardening:
        e = os.environ if env is None else env
        # Each name spelled out in an e.get(...) so the deploy check sees what is read.
        return cls(
            max_streams_per_key=_number("CASHBACK_MAX_STREAMS_PER_KEY", e.get("CASHBACK_MAX_STREAMS_PER_KEY"), 8),
            max_public_streams=_number("CASHBACK_MAX_PUBLIC_STREAMS", e.get("CASHBACK_MAX_PUBLIC_STREAMS"), 64),
            keys_poll_seconds=_number("CASHBACK_KEYS_POLL_SECONDS", e.get("CASHBACK_KEYS_POLL_SECONDS"), 5.0),
            health_addr=e.get("CASHBACK_HEALTH_ADDR", ""),
            token_secret=_secret("CASHBACK_TOKEN_SECRET", e.get("CASHBACK_TOKEN_SECRET", "")),
            fingerprint_secret=_secret("CASHBACK_FINGERPRINT_SECRET", e.get("CASHBACK_FINGERPRINT_SECRET", "")),
        )

    @classmethod
    def for_tests(cls, **overrides: object) -> Hardening:
        base = cls(token_secret=secrets.token_bytes(32), fingerprint_secret=secrets.token_bytes(32))
        return cls(**{**base.__dict__, **overrides})


def _number(name: str, raw: str | None, default: int | float) -> Any:
    """An int (or float, after the default's type) of at least 1 (0 allowed for floats)."""
    if not raw:
        return default
    try:
        value = type(default)(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    minimum = 1 if isinstance(default, int) else 0
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


# One random secret per name and process, so reading the settings twice gives equal settings.
_RANDOM: dict[str, bytes] = {}


def _secret(name: str, raw: str) -> bytes:
    if not raw:
        if name not in _RANDOM:
            log.warning("secret not set: using a random one for this process only", extra={"setting": name})
            _RANDOM[name] = secrets.token_bytes(32)
        return _RANDOM[name]
    if len(raw) < MIN_SECRET_LENGTH:
        raise ValueError(f"{name} must be at least {MIN_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`)")
    if (why := example_key_reason(raw)) is not None:
        raise ValueError(f"{name}: {why}; generate a real secret")
    return raw.encode()
