"""API keys, roles and which RPCs each role may call (docs/api.md, Authentication and Roles).

Keys are looked up by their SHA-256 digest and confirmed with hmac.compare_digest,
so the time a lookup takes says nothing about how much of a key was right."""

from __future__ import annotations

import hashlib
import hmac
import json
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message

from cashback_kit.errors import PermissionDenied, Unauthenticated
from cashback_kit.known_keys import example_key_reason

RULES = "cashback.rules.v1.RulesService"
WALLET = "cashback.wallet.v1.WalletService"
NOTIFY = "cashback.notify.v1.NotifyService"
SERVICES = (RULES, WALLET, NOTIFY)

# `service` is the one shared key of the first release (docs/api-intro.md): deprecated, kept
# working; give each calling service its own key with only the RPCs it needs.
LEGACY_SERVICE = "service"
SERVICE_ROLES = frozenset({"wallet-service", "notify-service", LEGACY_SERVICE})
ROLES = ("checkout", "app", "ops", LEGACY_SERVICE, "wallet-service", "notify-service")

# Reachable with no key: probes and tooling discovery.
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _m(service: str, *rpcs: str) -> set[str]:
    return {f"/{service}/{rpc}" for rpc in rpcs}


# The wallet scores and reverses orders; notify reads the wallet's stream and balances.
_WALLET_CALLS = _m(RULES, "ScoreOrder", "ScoreEvent", "ReverseOrder", "QuoteOrder", "GetCampaign", "GetCustomerProfile")
_NOTIFY_CALLS = _m(WALLET, "StreamEvents", "GetBalance", "ListBalances", "ListExpiringCredits", "ListTransactions")
# Promotions: notify reads a promotion's audience from rules (customers by segment, tier, inactivity).
_NOTIFY_CALLS |= _m(RULES, "ListCustomers")

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
            "TransferCredit",
            "ConvertCredit",
        )
    ),
    "app": frozenset(
        _m(RULES, "QuoteOrder") | _m(WALLET, "GetBalance", "ListTransactions") | _m(NOTIFY, "GetContact")
    ),
    "wallet-service": frozenset(_WALLET_CALLS),
    "notify-service": frozenset(_NOTIFY_CALLS),
    LEGACY_SERVICE: frozenset(_WALLET_CALLS | _NOTIFY_CALLS),
}
# ops: every RPC of the three services, for its merchants.
OPS_PREFIXES = tuple(f"/{s}/" for s in SERVICES)

ALL_MERCHANTS = "*"


@dataclass(frozen=True)
class Principal:
    role: str
    merchants: frozenset[str]
    key_id: str  # first 8 hex chars of the key's digest: safe to log
    name: str = ""  # the keys file's optional label, e.g. "wallet-prod"

    @property
    def all_merchants(self) -> bool:
        return self.role in SERVICE_ROLES or ALL_MERCHANTS in self.merchants

    def may_call(self, method: str) -> bool:
        if self.role == "ops":
            return method.startswith(OPS_PREFIXES)
        return method in ROLE_METHODS.get(self.role, frozenset())

    def may_act_for(self, merchant_id: str) -> bool:
        return self.all_merchants or (bool(merchant_id) and merchant_id in self.merchants)


current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _entry_problems(entry: object, where: str) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{where}: expected an object with key, role and merchants"]
    problems = []
    if unknown := sorted(set(entry) - _ENTRY_FIELDS):
        allowed = ", ".join(sorted(_ENTRY_FIELDS))
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {allowed})")
    key, role, merchants = entry.get("key"), entry.get("role"), entry.get("merchants", [])
    if not isinstance(key, str) or len(key) < MIN_KEY_LENGTH or key != key.strip():
        problems.append(f"{where}: key must be a string of at least {MIN_KEY_LENGTH} characters, no outer spaces")
    elif (why := example_key_reason(key)) is not None:
        problems.append(f"{where}: {why}; generate a real one (e.g. `openssl rand -hex 32`)")
    if role not in ROLES:
        problems.append(f"{where}: role must be one of {', '.join(ROLES)}")
    if not isinstance(merchants, list) or not all(isinstance(m, str) and m for m in merchants):
        problems.append(f'{where}: merchants must be a list of merchant ids (or ["*"])')
    elif role in ("checkout", "app", "ops") and not merchants:
        problems.append(f'{where}: a {role} key must name its merchants (or ["*"])')
    if not isinstance(entry.get("name", ""), str):
        problems.append(f"{where}: name must be a string")
    return problems


def load_principals(entries: object, source: str = "keys") -> dict[bytes, Principal]:
    """Every entry checked, all problems reported at once (never a key itself); nothing
    is half-loaded."""
    if not isinstance(entries, list):
        raise KeyFileError(f'{source}: expected {{"keys": [...]}}')
    problems: list[str] = []
    out: dict[bytes, Principal] = {}
    first_seen: dict[bytes, int] = {}
    for i, entry in enumerate(entries):
        entry_problems = _entry_problems(entry, f"{source}: keys[{i}]")
        problems += entry_problems
        if entry_problems or not isinstance(entry, dict):
            continue
        digest = _digest(entry["key"])
        if digest in first_seen:
            problems.append(f"{source}: keys[{i}]: the same key as keys[{first_seen[digest]}]; each key appears once")
            continue
        first_seen[digest] = i
        merchants = frozenset(entry.get("merchants", []))
        out[digest] = Principal(entry["role"], merchants, digest.hex()[:8], entry.get("name", ""))
    if problems:
        raise KeyFileError("refusing the API keys file:\n  " + "\n  ".join(problems))
    return out


class KeyFileError(ValueError):
    """The keys file is unusable: a service refuses to start, a reload keeps the old keys."""


MIN_KEY_LENGTH = 16
_ENTRY_FIELDS = frozenset({"key", "role", "merchants", "name"})


class KeyRing:
    """The keys a server accepts. `reload()` swaps the whole set at once, so a removed
    key stops working on the next call and a bad file changes nothing."""

    def __init__(self, entries: object, path: str | Path | None = None) -> None:
        """`entries`: the keys file's "keys" list (anything else is refused)."""
        self.path = Path(path) if path is not None else None
        self._by_digest = load_principals(entries, str(path or "keys"))

    @classmethod
    def from_file(cls, path: str | Path) -> KeyRing:
        return cls(_read_entries(Path(path)), path)

    def __len__(self) -> int:
        return len(self._by_digest)

    @property
    def roles(self) -> list[str]:
        return sorted(p.role for p in self._by_digest.values())

    def reload(self) -> int:
        """Read the file again; raises KeyFileError (old keys kept) when it is unusable."""
        if self.path is None:
            raise KeyFileError("this key ring was not loaded from a file")
        self._by_digest = load_principals(_read_entries(self.path), str(self.path))
        return len(self._by_digest)

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


def _read_entries(path: Path) -> object:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the API keys file ({exc.strerror})") from exc
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise KeyFileError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict) or set(data) != {"keys"}:
        raise KeyFileError(f'{path}: expected {{"keys": [...]}} and nothing else')
    return data["keys"]


def merchant_of(request: Message) -> str:
    """The merchant a request acts for: its own merchant_id, or that of its one
    top-level message field that has one (order, campaign, contact, template…)."""
    fields = request.DESCRIPTOR.fields_by_name
    if "merchant_id" in fields:
        return str(getattr(request, "merchant_id"))  # noqa: B009 (any request type with that field)
    for f in request.DESCRIPTOR.fields:
        if f.message_type is not None and not is_repeated(f) and "merchant_id" in f.message_type.fields_by_name:
            return str(getattr(request, f.name).merchant_id)
    return ""


def is_repeated(field: object) -> bool:
    """A protobuf field is repeated (protobuf 6 and 7 spell it differently)."""
    is_rep = getattr(field, "is_repeated", None)
    if is_rep is not None:
        return bool(is_rep)
    return getattr(field, "label", None) == 3


def authorize_method(principal: Principal, method: str) -> None:
    if not principal.may_call(method):
        raise PermissionDenied(f"a {principal.role} key may not call {method.rsplit('/', 1)[-1]}")


def authorize(principal: Principal, method: str, request: Message) -> None:
    authorize_method(principal, method)
    merchant = merchant_of(request)
    if not principal.may_act_for(merchant):
        if not merchant:
            raise PermissionDenied("this key is limited to its merchants and the request names none")
        raise PermissionDenied(f"this key may not act for merchant {merchant!r}")
