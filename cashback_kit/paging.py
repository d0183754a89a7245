"""Page tokens and page sizes, one way for every List RPC of every service.

A token is `<payload>.<mac>`: the position after the last row of a page (JSON), and an
HMAC-SHA256 over it and a scope naming the RPC, the merchant and every filter of the
request. Anything not issued by this deployment for this very query -- crafted, cut,
another merchant's, another filter's -- is INVALID_ARGUMENT with reason
INVALID_PAGE_TOKEN on `page_token` before it is parsed, never a server error.

The secret is `Hardening.token_secret` (CASHBACK_TOKEN_SECRET), set once per process by
the server at start (`use_secret`); it must be the same on every replica so a client may
land on another one for its next page."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from cashback_kit.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_TOKEN_CHARS = 512
_MAC_BYTES = 16
_TOKEN_CONTEXT = b"cashback.page-token.v1\0"

T = TypeVar("T")


def page_size(value: int, default: int = DEFAULT_PAGE_SIZE, most: int = MAX_PAGE_SIZE) -> int:
    """A request's page_size: 0 means the default, anything above `most` is `most`."""
    if value < 0:
        raise InvalidArgument("page_size must not be negative", field="page_size")
    return min(value or default, most)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refusal(field: str) -> InvalidArgument:
    return InvalidArgument(
        f"{field} is not a token this service issued for this request: start again without it",
        field=field,
        reason="INVALID_PAGE_TOKEN",
    )


class PageTokens:
    """`issue(scope, position)` -> token; `read(token, scope)` -> position (None for "")."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the page-token secret must have at least 16 bytes")
        self._secret = secret

    def _mac(self, scope: str, payload: bytes) -> bytes:
        msg = _TOKEN_CONTEXT + scope.encode() + b"\0" + payload
        return hmac.new(self._secret, msg, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, scope: str, position: Any) -> str:
        payload = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._mac(scope, payload))}"

    def read(self, token: str, scope: str, field: str = "page_token") -> Any:
        if not token:
            return None
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise _refusal(field)
        payload_text, mac_text = token.split(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise _refusal(field) from None
        if not hmac.compare_digest(mac, self._mac(scope, payload)):
            raise _refusal(field)
        return json.loads(payload)  # ours: the MAC matched


_tokens: PageTokens | None = None


def use_secret(secret: bytes) -> None:
    """The process's page-token key (the server calls this at start with Hardening.token_secret)."""
    global _tokens
    _tokens = PageTokens(secret)


def _signer() -> PageTokens:
    if _tokens is None:  # in-process use without serve_forever (tests, tools): same settings
        from cashback_kit.hardening import Hardening

        use_secret(Hardening.from_env().token_secret)
    assert _tokens is not None
    return _tokens


def scope(rpc: str, merchant_id: str, *filters: object) -> str:
    """The query a token belongs to: the RPC, the merchant and every filter (not page_size)."""
    def plain(value: object) -> object:
        return value.isoformat() if isinstance(value, datetime) else value if value is None else str(value)

    return json.dumps([rpc, merchant_id, *(plain(f) for f in filters)], separators=(",", ":"))


def issue(query: str, position: Any) -> str:
    """The token of the page after `position` for the query `query` (from `scope`)."""
    return _signer().issue(query, position)


def read(token: str, query: str, shape: Callable[[Any], T]) -> T | None:
    """The position in `token` (None for no token), checked by `shape`, which returns it
    typed or raises ValueError/TypeError/KeyError (a token from an older shape)."""
    position = _signer().read(token, query)
    if position is None:
        return None
    try:
        return shape(position)
    except (ValueError, TypeError, KeyError) as exc:
        raise _refusal("page_token") from exc
