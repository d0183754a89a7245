"""Keyed digests (HMAC-SHA256 with a secret from settings): page tokens a client cannot
forge or move to another query, and recipient fingerprints nobody can reverse.

Page tokens were base64 JSON: a crafted one reached the query and came back INTERNAL, and
one merchant's token could be replayed against another's list. Now a token is
`<payload>.<mac>`; the MAC covers the payload and a scope naming the RPC and its filters,
so anything not issued by us for this very query is INVALID_ARGUMENT before it is parsed.

Recipient fingerprints were the first 40 bits of an unsalted SHA-256 of the phone number:
every phone number of a country fits in a few seconds of hashing. A keyed hash cannot be
recomputed without the secret, so the log sink can correlate deliveries without
revealing who received them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from cashback_kit.errors import InvalidArgument

MAX_TOKEN_CHARS = 512
_MAC_BYTES = 16
_TOKEN_CONTEXT = b"cashback.page-token.v1\0"
_FINGERPRINT_CONTEXT = b"cashback.recipient.v1\0"
FINGERPRINT_HEX_CHARS = 20  # 80 bits: enough to tell recipients apart, meaningless without the secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
        refusal = InvalidArgument(
            f"{field} is not a token this service issued for this request: start again without it",
            field=field,
            reason="INVALID_PAGE_TOKEN",
        )
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise refusal
        payload_text, mac_text = token.split(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise refusal from None
        if not hmac.compare_digest(mac, self._mac(scope, payload)):
            raise refusal
        return json.loads(payload)  # ours: the MAC matched


def recipient_fingerprint(secret: bytes, recipient: str) -> str:
    """A stable, keyed reference to a phone number or email address for logs."""
    if len(secret) < 16:
        raise ValueError("the fingerprint secret must have at least 16 bytes")
    normalised = recipient.strip().lower()
    if normalised.startswith("+") or normalised[:1].isdigit():
        normalised = "+" + "".join(ch for ch in normalised if ch.isdigit())
    digest = hmac.new(secret, _FINGERPRINT_CONTEXT + normalised.encode(), hashlib.sha256).hexdigest()
    return digest[:FINGERPRINT_HEX_CHARS]
