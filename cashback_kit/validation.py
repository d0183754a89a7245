"""Checks for every string a service stores: no control characters (CR, LF and NUL
included; templates may keep LF and TAB), bounded lengths, one email address per field.
Each check adds field violations to an errors.Violations, so a request reports every
problem at once and changes nothing.

`message_violations` walks a whole protobuf request (nested messages, repeated fields,
maps) and applies the defaults to every string it finds; services add field-specific
limits on top (`limits={"order.lines.sku": 64}`, paths without indexes)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from cashback_kit.auth import is_repeated
from cashback_kit.errors import FieldViolation, Violations

MAX_ID_CHARS = 64  # ids are VARCHAR(64) columns on PostgreSQL
MAX_NAME_CHARS = 200
MAX_TEXT_CHARS = 2_000
MAX_TEMPLATE_CHARS = 10_000
MAX_EMAIL_CHARS = 254  # RFC 5321 path limit
MAX_LIST_ITEMS = 100

_MULTILINE_OK = frozenset("\n\t")
# Bidirectional overrides and isolates: they make stored text display other than it reads.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def text_problem(value: str, *, max_chars: int, multiline: bool = False) -> str | None:
    """Why `value` cannot be stored, or None. Never repeats the value (it may be personal)."""
    if len(value) > max_chars:
        return f"must be at most {max_chars} characters (got {len(value)})"
    for ch in value:
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp", "Cs") and not (multiline and ch in _MULTILINE_OK):
            allowed = " (line feed and tab are allowed)" if multiline else ""
            return f"must not contain control characters such as U+{ord(ch):04X}{allowed}"
        if ch in _BIDI_CONTROLS:
            return f"must not contain bidirectional control characters such as U+{ord(ch):04X}"
    return None


def check_text(
    v: Violations, field: str, value: str, *, max_chars: int = MAX_TEXT_CHARS, required: bool = False,
    multiline: bool = False,
) -> None:
    if not value:
        v.check(not required, field, "is required")
        return
    problem = text_problem(value, max_chars=max_chars, multiline=multiline)
    if problem is not None:
        v.add(field, problem)


def check_id(v: Violations, field: str, value: str, *, required: bool = True, max_chars: int = MAX_ID_CHARS) -> None:
    """An identifier: 1..64 characters, no whitespace or control characters."""
    if not value:
        v.check(not required, field, "is required")
        return
    problem = text_problem(value, max_chars=max_chars)
    if problem is None and any(ch.isspace() for ch in value):
        problem = "must not contain spaces"
    if problem is not None:
        v.add(field, problem)


def check_email(v: Violations, field: str, value: str, *, required: bool = False) -> None:
    """Exactly one address: "a@x,b@y" or "A <a@x>" would reach other people."""
    if not value:
        v.check(not required, field, "is required")
        return
    if len(value) > MAX_EMAIL_CHARS:
        v.add(field, f"must be at most {MAX_EMAIL_CHARS} characters")
    elif value.count("@") != 1 or any(sep in value for sep in ",;<> \t\r\n\"()"):
        v.add(field, "must be exactly one email address (no lists, names or separators)")
    elif not _EMAIL.fullmatch(value) or len(value.split("@")[0]) > 64:
        v.add(field, "is not a valid email address")


def check_list(
    v: Violations, field: str, values: Iterable[str], *, max_items: int = MAX_LIST_ITEMS,
    max_chars: int = MAX_ID_CHARS,
) -> None:
    items = list(values)
    if len(items) > max_items:
        v.add(field, f"must have at most {max_items} items (got {len(items)})")
        return
    for i, item in enumerate(items):
        check_id(v, f"{field}[{i}]", item, max_chars=max_chars)


def message_violations(
    message: Message,
    *,
    max_chars: int = MAX_TEXT_CHARS,
    max_items: int = 1_000,
    limits: Mapping[str, int] | None = None,
    multiline: Iterable[str] = (),
) -> list[FieldViolation]:
    """Every string in `message` checked against the defaults (or `limits` by path)."""
    v = Violations()
    _walk(v, message, "", "", _Rules(max_chars, max_items, dict(limits or {}), frozenset(multiline)))
    return v.items


class _Rules:
    def __init__(self, max_chars: int, max_items: int, limits: dict[str, int], multiline: frozenset[str]) -> None:
        self.max_chars, self.max_items, self.limits, self.multiline = max_chars, max_items, limits, multiline


def _check_string(v: Violations, where: str, path: str, value: str, rules: _Rules) -> None:
    problem = text_problem(value, max_chars=rules.limits.get(path, rules.max_chars), multiline=path in rules.multiline)
    if problem is not None:
        v.add(where, problem)


def _walk(v: Violations, message: Message, prefix: str, path_prefix: str, rules: _Rules) -> None:
    for fd, value in message.ListFields():
        where, path = f"{prefix}{fd.name}", f"{path_prefix}{fd.name}"
        entry_type = fd.message_type
        if entry_type is not None and entry_type.GetOptions().map_entry:
            if len(value) > rules.max_items:
                v.add(where, f"must have at most {rules.max_items} entries")
                continue
            value_fd = entry_type.fields_by_name["value"]
            for key, item in value.items():
                entry = f"{where}[{str(key)[:32]!r}]"
                if isinstance(key, str):
                    _check_string(v, entry, path, key, rules)
                _walk_value(v, value_fd, item, entry, path, rules)
        elif is_repeated(fd):
            if len(value) > rules.max_items:
                v.add(where, f"must have at most {rules.max_items} items (got {len(value)})")
                continue
            for i, item in enumerate(value):
                _walk_value(v, fd, item, f"{where}[{i}]", path, rules)
        else:
            _walk_value(v, fd, value, where, path, rules)


def _walk_value(v: Violations, fd: FieldDescriptor, value: object, where: str, path: str, rules: _Rules) -> None:
    if isinstance(value, Message):
        _walk(v, value, f"{where}.", f"{path}.", rules)
    elif isinstance(value, str) and fd.type == FieldDescriptor.TYPE_STRING:
        _check_string(v, where, path, value, rules)
