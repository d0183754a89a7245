"""Console settings from the environment (nothing is read at import time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from cashback_kit.config import DEFAULT_ADDRS


@dataclass(frozen=True)
class ConsoleSettings:
    addr: str
    targets: dict[str, str]
    # Merchants a key is tried against at sign-in when the form names none: the services
    # have no "who am I" call, so the console asks them which of these the key may act for.
    merchants: tuple[str, ...]
    # "auto": Secure cookies when the request came over https (directly or X-Forwarded-Proto
    # from a trusted proxy); "always"/"never" force it.
    secure_cookies: str
    session_idle_seconds: int
    session_max_seconds: int
    login_attempts: int
    login_window_seconds: int
    forwarded_allow_ips: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsoleSettings:
        e = os.environ if env is None else env
        merchants = e.get("CONSOLE_MERCHANTS", "") or e.get("CASHBACK_MERCHANT", "") or "m1"
        return cls(
            addr=e.get("CONSOLE_ADDR", "127.0.0.1:8080"),
            targets={s: e.get(f"{s.upper()}_ADDR", DEFAULT_ADDRS[s]) for s in DEFAULT_ADDRS},
            merchants=tuple(m.strip() for m in merchants.split(",") if m.strip()),
            secure_cookies=e.get("CONSOLE_SECURE_COOKIES", "auto"),
            session_idle_seconds=int(e.get("CONSOLE_SESSION_IDLE_SECONDS", "1800")),
            session_max_seconds=int(e.get("CONSOLE_SESSION_MAX_SECONDS", "43200")),
            login_attempts=int(e.get("CONSOLE_LOGIN_ATTEMPTS", "5")),
            login_window_seconds=int(e.get("CONSOLE_LOGIN_WINDOW_SECONDS", "300")),
            forwarded_allow_ips=e.get("CONSOLE_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        )

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.addr.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)
