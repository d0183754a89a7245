"""Domain exceptions. Each names the gRPC status it becomes; the mapping to a
status lives in one place (cashback_kit.interceptors). The domain raises these
and never imports grpc."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


def _upper_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


class DomainError(Exception):
    """Base of every error a client caused or can act on.

    `reason` is the google.rpc.ErrorInfo reason callers branch on (never the message):
    by default the class name in UPPER_SNAKE_CASE (InsufficientCredit -> INSUFFICIENT_CREDIT),
    or given per raise (FailedPrecondition("…", reason="BUDGET_SPENT")). `metadata` goes
    into ErrorInfo.metadata: identifiers and amounts, never personal data."""

    code = "UNKNOWN"
    reason = "UNKNOWN"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "reason" not in cls.__dict__:
            cls.reason = _upper_snake(cls.__name__)

    def __init__(self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}


class InvalidArgument(DomainError):
    code = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        violations: list[FieldViolation] | None = None,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations = list(violations or [])
        if field is not None:
            self.violations.insert(0, FieldViolation(field, message))


class CurrencyMismatch(InvalidArgument):
    pass


class NotFound(DomainError):
    code = "NOT_FOUND"


class AlreadyExists(DomainError):
    """Same idempotency key, different payload."""

    code = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    code = "FAILED_PRECONDITION"


class InsufficientCredit(FailedPrecondition):
    pass


class HoldExpired(FailedPrecondition):
    pass


class HoldNotActive(FailedPrecondition):
    pass


class CampaignNotActive(FailedPrecondition):
    pass


class Aborted(DomainError):
    """A concurrent conflict that is safe to retry."""

    code = "ABORTED"


class Unavailable(DomainError):
    """A dependency (database, another service) is down."""

    code = "UNAVAILABLE"


class ResourceExhausted(DomainError):
    """A per-caller limit (open streams, request rate) is reached: retry later."""

    code = "RESOURCE_EXHAUSTED"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"


class Violations:
    """Collects field violations and raises them together."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def check(self, ok: bool, field: str, description: str) -> None:
        if not ok:
            self.add(field, description)

    def raise_if_any(self, message: str = "invalid request") -> None:
        if self.items:
            first = self.items[0]
            summary = f"{message}: {first.field}: {first.description}"
            if len(self.items) > 1:
                summary += f" (and {len(self.items) - 1} more)"
            raise InvalidArgument(summary, violations=self.items)
