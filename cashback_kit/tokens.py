"""Keyed digests (HMAC-SHA256 with a secret from settings): recipient fingerprints nobody
can reverse. Signed page tokens are in cashback_kit.paging (PageTokens re-exported here).

Recipient fingerprints were the first 40 bits of an unsalted SHA-256 of the phone number:
every phone number of a country fits in a few seconds of hashing. A keyed hash cannot be
recomputed without the secret, so the log sink can correlate deliveries without
revealing who received them."""

from __future__ import annotations

import hashlib
import hmac

from cashback_kit.paging import MAX_TOKEN_CHARS, PageTokens

__all__ = ["MAX_TOKEN_CHARS", "PageTokens", "recipient_fingerprint"]

_FINGERPRINT_CONTEXT = b"cashback.recipient.v1\0"
FINGERPRINT_HEX_CHARS = 20  # 80 bits: enough to tell recipients apart, meaningless without the secret


def recipient_fingerprint(secret: bytes, recipient: str) -> str:
    """A stable, keyed reference to a phone number or email address for logs."""
    if len(secret) < 16:
        raise ValueError("the fingerprint secret must have at least 16 bytes")
    normalised = recipient.strip().lower()
    if normalised.startswith("+") or normalised[:1].isdigit():
        normalised = "+" + "".join(ch for ch in normalised if ch.isdigit())
    digest = hmac.new(secret, _FINGERPRINT_CONTEXT + normalised.encode(), hashlib.sha256).hexdigest()
    return digest[:FINGERPRINT_HEX_CHARS]
