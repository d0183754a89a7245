"""Reads and small writes notify's service layer shares: contacts, policies,
templates, opt-outs, and PostgreSQL's insert-if-absent and upsert."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_services.notify.adapters import tables as t
from cashback_services.notify.domain.model import DEFAULT_WARNING_DAYS, Contact, Policy
from cashback_services.notify.domain.rendering import language


def insert_ignore(table: Any, values: dict[str, Any]) -> Any:
    return pg_insert(table).values(values).on_conflict_do_nothing()


def upsert(table: Any, values: dict[str, Any], keys: list[str]) -> Any:
    stmt = pg_insert(table).values(values)
    return stmt.on_conflict_do_update(index_elements=keys,
                                      set_={k: stmt.excluded[k] for k in values if k not in keys})


async def load_contact(conn: AsyncConnection, merchant_id: str, customer_id: str) -> Contact | None:
    row = (await conn.execute(select(t.contacts).where(
        t.contacts.c.merchant_id == merchant_id, t.contacts.c.customer_id == customer_id))).mappings().first()
    if row is None:
        return None
    return Contact(row["merchant_id"], row["customer_id"], row["phone_e164"], row["email"], row["locale"],
                   row["timezone"], row["sms_opt_in"], row["email_opt_in"])


async def find_contacts(conn: AsyncConnection, merchant_id: str, phones: list[str], email: str,
                        limit: int) -> list[Contact]:
    """The merchant's contacts with one of these E.164 phones or this email (any
    case); both use an index of migration 0008."""
    c = t.contacts.c
    match: list[ColumnElement[bool]] = []
    if phones:
        match.append(c.phone_e164.in_(phones))
    if email:
        match.append(func.lower(c.email) == email.lower())
    rows = (await conn.execute(select(t.contacts).where(c.merchant_id == merchant_id, or_(*match))
                               .order_by(c.customer_id).limit(limit))).mappings().all()
    return [Contact(r["merchant_id"], r["customer_id"], r["phone_e164"], r["email"], r["locale"], r["timezone"],
                    r["sms_opt_in"], r["email_opt_in"]) for r in rows]


async def load_policy(conn: AsyncConnection, merchant_id: str) -> Policy:
    row = (await conn.execute(select(t.policies).where(t.policies.c.merchant_id == merchant_id))).mappings().first()
    if row is None:
        return Policy(merchant_id)
    days = tuple(int(d) for d in row["expiry_warning_days"].split(",") if d) or DEFAULT_WARNING_DAYS
    return Policy(merchant_id, days, row["quiet_hours_start"], row["quiet_hours_end"], row["notify_on_credit"],
                  row["notify_on_available"], row["shop_name"], row["default_region"], row["hijri_dates"],
                  row["latin_digits"])


async def opted_out(conn: AsyncConnection, numbers: list[str]) -> set[str]:
    if not numbers:
        return set()
    rows = await conn.execute(select(t.optouts.c.phone_e164).where(t.optouts.c.phone_e164.in_(numbers)))
    return {r[0] for r in rows}


async def load_template(conn: AsyncConnection, merchant_id: str, kind: str, channel: str,
                        locale: str) -> tuple[str, str] | None:
    """The merchant's template for the exact locale, else for its language."""
    T = t.templates
    rows = (await conn.execute(select(T).where(T.c.merchant_id == merchant_id, T.c.kind == kind,
                                               T.c.channel == channel))).mappings().all()
    by_locale = {r["locale"].lower(): r for r in rows}
    for key in (locale.lower(), language(locale)):
        if key in by_locale:
            return by_locale[key]["body"], by_locale[key]["subject"]
    return None
