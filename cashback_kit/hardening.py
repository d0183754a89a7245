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

from cashback_kit.known_keys import example_key_reason

log = logging.getLogger("cashback.hardening")

HARDENING_ENV_VARS = (
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
    token_secret: bytes = b""
    fingerprint_secret: bytes = b""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Hardening:
        e = os.environ if env is None else env
        return cls(
            max_streams_per_key=_number(e, "CASHBACK_MAX_STREAMS_PER_KEY", "8", int, minimum=1),
            max_public_streams=_number(e, "CASHBACK_MAX_PUBLIC_STREAMS", "64", int, minimum=1),
            keys_poll_seconds=_number(e, "CASHBACK_KEYS_POLL_SECONDS", "5", float, minimum=0),
            token_secret=_secret(e, "CASHBACK_TOKEN_SECRET"),
            fingerprint_secret=_secret(e, "CASHBACK_FINGERPRINT_SECRET"),
        )

    @classmethod
    def for_tests(cls, **overrides: object) -> Hardening:
        base = cls(token_secret=secrets.token_bytes(32), fingerprint_secret=secrets.token_bytes(32))
        return cls(**{**base.__dict__, **overrides})


def _number(env: Mapping[str, str], name: str, default: str, kind: type, *, minimum: float) -> object:
    raw = env.get(name, default) or default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _secret(env: Mapping[str, str], name: str) -> bytes:
    raw = env.get(name, "")
    if not raw:
        log.warning("secret not set: using a random one for this process only", extra={"setting": name})
        return secrets.token_bytes(32)
    if len(raw) < MIN_SECRET_LENGTH:
        raise ValueError(f"{name} must be at least {MIN_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`)")
    if (why := example_key_reason(raw)) is not None:
        raise ValueError(f"{name}: {why}; generate a real secret")
    return raw.encode()
