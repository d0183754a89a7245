"""Idempotent replays, one way for every service: a request carries a key and a
fingerprint of its content; the first outcome is stored under the key; the
same request again gets that outcome (its result, or its refusal raised again),
and a different request under the same key is refused."""

from __future__ import annotations

from dataclasses import dataclass

from cashback_kit.errors import AlreadyExists, DomainError, FailedPrecondition


class StoredFailure(FailedPrecondition):
    """A refusal replayed from a stored outcome (never stored again)."""


@dataclass(frozen=True)
class Outcome:
    """The stored first outcome of a keyed request: a result id, or a refusal."""

    fingerprint: str
    result_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    # The refusal's ErrorInfo reason, so a replayed refusal is told apart the same way.
    error_reason: str | None = None

    @classmethod
    def failed(cls, fingerprint: str, error: DomainError) -> Outcome:
        return cls(fingerprint, None, error.code, error.message, error.reason)


KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"


def check_same(stored_fingerprint: str, fingerprint: str, what: str) -> None:
    """Refuse a request that reuses a key (or natural id) `what` for different content:
    ALREADY_EXISTS naming the key, reason IDEMPOTENCY_KEY_REUSED."""
    if stored_fingerprint != fingerprint:
        raise AlreadyExists(f"{what} was already used for a different request", reason=KEY_REUSED)


def replay(outcome: Outcome | None, fingerprint: str, what: str) -> str | None:
    """The result id of a stored outcome for this request (None: nothing stored
    yet, go ahead); raises the stored refusal again, or AlreadyExists."""
    if outcome is None:
        return None
    check_same(outcome.fingerprint, fingerprint, what)
    if outcome.error_code:
        raise StoredFailure(outcome.error_message or outcome.error_code,
                            reason=outcome.error_reason or outcome.error_code)
    return outcome.result_id
