"""Server-side sessions and the sign-in rate limit, in memory.

The browser holds only a random session id (HttpOnly, SameSite=Strict cookie); the
ops key stays in this process and is never written to a cookie, URL or log. A
restart signs everyone out, which a console of this kind can afford."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "cb_session"


@dataclass
class Session:
    sid: str
    csrf: str
    created: float
    seen: float
    lang: str = ""
    key: str = field(default="", repr=False)
    merchant: str = ""
    merchants: tuple[str, ...] = ()
    currency: str = ""
    timezone: str = "UTC"
    flash: str = ""

    @property
    def signed_in(self) -> bool:
        return bool(self.key and self.merchant)

    def csrf_ok(self, token: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), (token or "").encode())


class SessionStore:
    def __init__(self, idle_seconds: int, max_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle, self.max, self.clock = idle_seconds, max_seconds, clock
        self._by_id: dict[str, Session] = {}

    def new(self, lang: str = "") -> Session:
        now = self.clock()
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now, lang=lang)
        self._by_id[s.sid] = s
        self._sweep(now)
        return s

    def get(self, sid: str | None) -> Session | None:
        s = self._by_id.get(sid or "")
        if s is None:
            return None
        now = self.clock()
        if now - s.seen > self.idle or now - s.created > self.max:
            self._by_id.pop(s.sid, None)
            return None
        s.seen = now
        return s

    def rotate(self, old: Session) -> Session:
        """A fresh id and CSRF token at sign-in, so an id planted before it is worthless."""
        self._by_id.pop(old.sid, None)
        return self.new(old.lang)

    def drop(self, s: Session) -> None:
        self._by_id.pop(s.sid, None)

    def _sweep(self, now: float) -> None:
        if len(self._by_id) % 64 == 0:
            for sid in [k for k, v in self._by_id.items() if now - v.seen > self.idle or now - v.created > self.max]:
                del self._by_id[sid]


class LoginLimiter:
    """At most `attempts` failed sign-ins per client address in a sliding window."""

    def __init__(self, attempts: int, window_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts, self.window, self.clock = attempts, window_seconds, clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        q = self._failures.setdefault(client, deque())
        cutoff = self.clock() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def retry_after(self, client: str) -> int:
        """Seconds until this client may try again; 0 when it may now."""
        q = self._recent(client)
        if len(q) < self.attempts:
            return 0
        return max(1, int(q[0] + self.window - self.clock()) + 1)

    def failed(self, client: str) -> None:
        self._recent(client).append(self.clock())

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
