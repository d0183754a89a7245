"""Domain exceptions. Each names the gRPC status it becomes; the mapping to a
status lives in one place (cashback_kit.interceptors). The domain raises these
and never imports grpc."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of every error a client caused or can act on."""

    code = "UNKNOWN"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    code = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        violations: list[FieldViolation] | None = None,
    ) -> None:
        super().__init__(message)
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
