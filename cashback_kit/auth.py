"""API keys, roles and which RPCs each role may call (CONTRACT.md, Authentication).

Keys are looked up by their SHA-256 digest and confirmed with hmac.compare_digest,
so the time a lookup takes says nothing about how much of a key was right."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message

from cashback_kit.errors import PermissionDenied, Unauthenticated

RULES = "cashback.rules.v1.RulesService"
WALLET = "cashback.wallet.v1.WalletService"
NOTIFY = "cashback.notify.v1.NotifyService"
SERVICES = (RULES, WALLET, NOTIFY)

ROLES = ("checkout", "app", "ops", "service")

# Reachable with no key: probes and tooling discovery.
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _m(service: str, *rpcs: str) -> set[str]:
    return {f"/{service}/{rpc}" for rpc in rpcs}


ROLE_METHODS: dict[str, frozenset[str]] = {
    "checkout": frozenset(
        _m(RULES, "QuoteOrder")
        | _m(
            WALLET,
            "AwardOrder",
            "AwardEvent",
            "GetBalance",
            "AuthorizeRedemption",
            "CaptureRedemption",
            "VoidRedemption",
            "RefundOrder",
        )
    ),
    "app": frozenset(
        _m(RULES, "QuoteOrder") | _m(WALLET, "GetBalance", "ListTransactions") | _m(NOTIFY, "GetContact")
    ),
    # Service-to-service: the wallet calling rules, notify reading the wallet.
    "service": frozenset(
        _m(RULES, "ScoreOrder", "ScoreEvent", "ReverseOrder", "QuoteOrder", "GetCampaign", "GetCustomerProfile")
        | _m(WALLET, "StreamEvents", "GetBalance", "ListBalances", "ListExpiringCredits", "ListTransactions")
    ),
}
# ops: every RPC of the three services, for its merchants.
OPS_PREFIXES = tuple(f"/{s}/" for s in SERVICES)

ALL_MERCHANTS = "*"


@dataclass(frozen=True)
class Principal:
    role: str
    merchants: frozenset[str]
    key_id: str  # first 8 hex chars of the key's digest: safe to log

    @property
    def all_merchants(self) -> bool:
        return self.role == "service" or ALL_MERCHANTS in self.merchants

    def may_call(self, method: str) -> bool:
        if self.role == "ops":
            return method.startswith(OPS_PREFIXES)
        return method in ROLE_METHODS.get(self.role, frozenset())

    def may_act_for(self, merchant_id: str) -> bool:
        return self.all_merchants or (bool(merchant_id) and merchant_id in self.merchants)


current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class KeyRing:
    def __init__(self, entries: Iterable[dict[str, object]]) -> None:
        self._by_digest: dict[bytes, Principal] = {}
        for i, entry in enumerate(entries):
            key = entry.get("key")
            role = entry.get("role")
            merchants = entry.get("merchants", [])
            if not isinstance(key, str) or len(key) < 16:
                raise ValueError(f"keys[{i}]: key must be a string of at least 16 characters")
            if role not in ROLES:
                raise ValueError(f"keys[{i}]: role must be one of {', '.join(ROLES)}")
            if not isinstance(merchants, list) or not all(isinstance(m, str) for m in merchants):
                raise ValueError(f"keys[{i}]: merchants must be a list of strings")
            digest = _digest(key)
            self._by_digest[digest] = Principal(str(role), frozenset(merchants), digest.hex()[:8])

    @classmethod
    def from_file(cls, path: str | Path) -> KeyRing:
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise ValueError(f"{path}: expected {{\"keys\": [...]}}")
        return cls(data["keys"])

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated("missing authorization metadata: send 'authorization: Bearer <key>'")
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise Unauthenticated("authorization must be 'Bearer <key>'")
        digest = _digest(key.strip())
        principal = self._by_digest.get(digest)
        # Compare anyway so a miss and a hit take the same path.
        expected = digest if principal is not None else b"\0" * 32
        if principal is None or not hmac.compare_digest(digest, expected):
            raise Unauthenticated("unknown API key")
        return principal


def merchant_of(request: Message) -> str:
    """The merchant a request acts for: its own merchant_id, or that of its one
    top-level message field that has one (order, campaign, contact, template…)."""
    fields = request.DESCRIPTOR.fields_by_name
    if "merchant_id" in fields:
        return str(getattr(request, "merchant_id"))  # noqa: B009 (any request type with that field)
    for f in request.DESCRIPTOR.fields:
        if f.message_type is not None and not _is_repeated(f) and "merchant_id" in f.message_type.fields_by_name:
            return str(getattr(request, f.name).merchant_id)
    return ""


def _is_repeated(field: object) -> bool:
    is_rep = getattr(field, "is_repeated", None)
    if is_rep is not None:
        return bool(is_rep)
    return getattr(field, "label", None) == 3


def authorize(principal: Principal, method: str, request: Message) -> None:
    if not principal.may_call(method):
        raise PermissionDenied(f"a {principal.role} key may not call {method.rsplit('/', 1)[-1]}")
    merchant = merchant_of(request)
    if not principal.may_act_for(merchant):
        if not merchant:
            raise PermissionDenied("this key is limited to its merchants and the request names none")
        raise PermissionDenied(f"this key may not act for merchant {merchant!r}")
