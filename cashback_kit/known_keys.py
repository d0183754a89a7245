"""Keys that must never guard a real deployment: placeholders and every key printed in
this repository's examples. Anyone can read them, so a server refuses to start with one."""

from __future__ import annotations

# Words that mark a placeholder, wherever they appear in a key (case-insensitive).
PLACEHOLDER_MARKS = ("change-me", "changeme", "replace-me", "example-key")

# Keys published in deploy/ (now and in earlier releases) and in the docs.
PUBLISHED_EXAMPLE_KEYS = frozenset(
    {
        "change-me-service-key-000000",
        "change-me-ops-key-0000000000",
        "change-me-wallet-service-key-000000",
        "change-me-notify-service-key-000000",
        "change-me-checkout-key-m1-000000",
    }
)


def example_key_reason(key: str) -> str | None:
    """Why `key` is a known example (never echoing the key), or None when it is not one."""
    if key in PUBLISHED_EXAMPLE_KEYS:
        return "this is a published example key"
    lowered = key.lower()
    mark = next((m for m in PLACEHOLDER_MARKS if m in lowered), None)
    if mark is not None:
        return f"this key contains {mark!r}: it is a placeholder"
    return None
