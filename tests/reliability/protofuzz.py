"""Hypothesis strategies for protobuf messages, built from their descriptors:
random, extreme and malformed values for every field (int64 limits, empty and
1 MB strings, unicode, control characters, hostile merchant templates, unknown
enum values, out-of-range and backdated timestamps)."""

from __future__ import annotations

import time
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

F = FieldDescriptor
INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)
MB = "x" * (1 << 20)
# What a hostile merchant puts in a template (issue 15): recursion, work without end, huge
# numbers and output, a NUL in what it renders, escapes from the sandbox.
HOSTILE_TEMPLATES = [
    "{% macro f() %}{{ f() }}{% endmacro %}{% if customer_id %}{{ f() }}{% else %}ok{% endif %}",
    "{% for i in range(400) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
    "{{ 9 ** 999999 }}",
    "{{ 'x' * 100000000 }}",
    "{{ '\\x00' }}{{ amount }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% set x = [] %}{% for i in range(10**7) %}{{ x.append(i) }}{% endfor %}",
]
STRINGS = st.one_of(
    st.sampled_from(["", "m1", "m2", "c1", "SAR", "IRR", "sar", "XXX", " m1", "\u0000", "سلام", "🙂" * 20,
                     "+989121234567", "a@b.co", "a@b.co,c@d.co", "line\r\nbreak", "0 10 * * 6", "Asia/Tehran",
                     "Mars/Olympus", "credited", MB, *HOSTILE_TEMPLATES]),
    st.text(max_size=30),
)
NOW = int(time.time())
DAY = 86_400
# Backdated and future instants near today: an order "placed" 15-24 days ago, an hour ahead.
NEAR_NOW = [NOW - 24 * DAY, NOW - 15 * DAY, NOW - 2 * DAY, NOW - 3600, NOW, NOW + 3600, NOW + 400 * DAY]


def _scalar(f: FieldDescriptor) -> st.SearchStrategy[Any]:
    t = f.type
    if t == F.TYPE_STRING:
        return STRINGS
    if t == F.TYPE_BYTES:
        return st.binary(max_size=64)
    if t == F.TYPE_BOOL:
        return st.booleans()
    if t in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
        return st.one_of(st.sampled_from([0, 1, -1, *INT64, 10**15]), st.integers(*INT64))
    if t in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    if t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return st.one_of(st.sampled_from([0, 1, -1, *INT32, 10001, 366]), st.integers(*INT32))
    if t in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    if t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32 if t == F.TYPE_FLOAT else 64)
    if t == F.TYPE_ENUM:
        known = [v.number for v in f.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-5, 50))  # open enums: unknown values too
    raise TypeError(f"no strategy for field type {t}")


def _timestamp() -> st.SearchStrategy[dict[str, int]]:
    return st.fixed_dictionaries({
        "seconds": st.one_of(st.integers(-62135596800, 253402300799), st.sampled_from([0, -1, 1_800_000_000]),
                             st.sampled_from(NEAR_NOW)),
        "nanos": st.one_of(st.integers(0, 999_999_999), st.sampled_from([0, -1, 10**9])),
    })


def message_dict(desc: Descriptor, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for f in desc.fields:
        if f.message_type is not None:
            if f.message_type.GetOptions().map_entry:
                key = _scalar(f.message_type.fields_by_name["key"])
                val = _scalar(f.message_type.fields_by_name["value"])
                optional[f.name] = st.dictionaries(key, val, max_size=2)
                continue
            if f.message_type.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
                inner: st.SearchStrategy[Any] = _timestamp()
            elif depth >= 3:
                continue
            else:
                inner = message_dict(f.message_type, depth + 1)
        else:
            inner = _scalar(f)
        rep = getattr(f, "is_repeated", None)
        repeated = rep if rep is not None else f.label == F.LABEL_REPEATED
        optional[f.name] = st.lists(inner, max_size=3) if repeated else inner
    return st.fixed_dictionaries({}, optional=optional)


def build(desc: Descriptor, values: dict[str, Any]) -> Message:
    msg = GetMessageClass(desc)()
    fill(msg, values)
    return msg


def fill(msg: Message, values: dict[str, Any]) -> None:
    for name, value in values.items():
        f = msg.DESCRIPTOR.fields_by_name[name]
        target = getattr(msg, name)
        try:
            if f.message_type is not None and f.message_type.GetOptions().map_entry:
                for k, v in value.items():
                    target[k] = v
            elif f.message_type is not None:
                if isinstance(value, list):
                    for item in value:
                        fill(target.add(), item)
                else:
                    fill(target, value)
            elif isinstance(value, list):
                target.extend(value)
            else:
                setattr(msg, name, value)
        except (ValueError, TypeError, OverflowError):
            continue  # a value the field cannot hold at all (the wire could not carry it either)


def strategy(desc: Descriptor, tweak: Any = None) -> st.SearchStrategy[Message]:
    return message_dict(desc).map(lambda d: build(desc, d)).map(tweak or (lambda m: m))
