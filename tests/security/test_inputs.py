"""Issue 15, point 9 (kit parts): stored strings, email fields, page tokens and
recipient fingerprints. Storage is checked on a real PostgreSQL; tokens over real gRPC."""

from __future__ import annotations

import hashlib
import secrets

import grpc
import pytest
import sqlalchemy as sa
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import create_async_engine

from cashback_kit.errors import InvalidArgument, Violations
from cashback_kit.tokens import PageTokens, recipient_fingerprint
from cashback_kit.validation import (
    MAX_ID_CHARS,
    check_email,
    check_id,
    check_list,
    check_text,
    message_violations,
)
from tests.security.conftest import wallet_stub
from tests.support.servers import auth


def _violations(check, *args, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    v = Violations()
    check(v, "f", *args, **kwargs)
    return [item.description for item in v.items]


@pytest.mark.parametrize("value", [
    "a@x.io,b@y.io,c@z.io", "a@x.io;b@y.io", "Ali <a@x.io>", "a@x.io b@y.io", "a@x.io\r\nBcc: b@y.io",
    "a@@x.io", "a@x", "@x.io", "a" * 65 + "@x.io",
])
def test_an_email_field_holds_exactly_one_address(value):
    assert _violations(check_email, value)


def test_an_ordinary_email_address_passes():
    assert _violations(check_email, "ali.reza+cashback@mail.example.co.uk") == []


@pytest.mark.parametrize("value", ["line\r\nInjected: header", "nul\x00byte", "bell\x07", "sep\u2028", "rlo\u202e"])
def test_control_characters_are_refused_in_stored_text(value):
    assert _violations(check_text, value)
    assert _violations(check_id, value)


def test_a_template_may_keep_line_feeds_and_tabs_but_not_carriage_returns():
    assert _violations(check_text, "Hello\n\tthere", multiline=True) == []
    assert _violations(check_text, "Hello\r\nthere", multiline=True)


def test_a_megabyte_id_is_refused_without_echoing_it():
    [problem] = _violations(check_id, "x" * 1_000_000)
    assert problem == f"must be at most {MAX_ID_CHARS} characters (got 1000000)"


def test_a_huge_category_list_is_refused_by_its_length_first():
    assert _violations(check_list, [f"cat-{i}" for i in range(300_000)]) == ["must have at most 100 items (got 300000)"]


def test_every_string_of_a_request_is_checked_and_every_violation_reported_at_once():
    order = rules_pb2.Order(merchant_id="m1", order_id="o\x001", customer_id="c" * 70)
    order.lines.add(sku="ok", category_ids=["fine", "bad\r\n"])
    order.lines.add(sku="s\u202e")
    found = message_violations(rules_pb2.ScoreOrderRequest(order=order), max_chars=200,
                               limits={"order.customer_id": MAX_ID_CHARS})
    assert [f.field for f in found] == [
        "order.order_id", "order.customer_id", "order.lines[0].category_ids[1]", "order.lines[1].sku"]
    v = Violations()
    v.items = found
    with pytest.raises(InvalidArgument) as raised:
        v.raise_if_any()
    assert len(raised.value.violations) == 4 and "(and 3 more)" in raised.value.message


_text = st.text(st.characters(codec="utf-8"), max_size=80)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_text, min_size=1, max_size=20))
async def test_whatever_passes_the_id_check_fits_a_postgresql_varchar_64_column(pg_url, values):
    engine = create_async_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TEMP TABLE ids (id VARCHAR(64) NOT NULL) ON COMMIT DROP"))
            for value in values:
                v = Violations()
                check_id(v, "id", value)
                if v.items:
                    continue
                await conn.execute(sa.text("INSERT INTO ids VALUES (:v)"), {"v": value})
                stored = (await conn.execute(sa.text("SELECT id FROM ids ORDER BY ctid DESC LIMIT 1"))).scalar()
                assert stored == value
    finally:
        await engine.dispose()


async def test_without_the_check_a_nul_byte_or_a_65_character_id_fails_on_postgresql(pg_url):
    """The failures the checks prevent (they came back as INTERNAL)."""
    engine = create_async_engine(pg_url)
    try:
        for bad in ("nul\x00byte", "x" * 65):
            with pytest.raises(sa.exc.DBAPIError):
                async with engine.begin() as conn:
                    await conn.execute(sa.text("CREATE TEMP TABLE ids (id VARCHAR(64)) ON COMMIT DROP"))
                    await conn.execute(sa.text("INSERT INTO ids VALUES (:v)"), {"v": bad})
            assert _violations(check_id, bad)
    finally:
        await engine.dispose()


TOKENS = PageTokens(secrets.token_bytes(32))


def test_a_page_token_reads_back_only_for_the_query_it_was_issued_for():
    token = TOKENS.issue("ListTransactions:m1:c1", {"before": 42})
    assert TOKENS.read(token, "ListTransactions:m1:c1") == {"before": 42}
    assert TOKENS.read("", "ListTransactions:m1:c1") is None
    payload, mac = token.split(".")
    forged = PageTokens(b"k" * 32).issue("ListTransactions:m1:c1", {"before": 42})
    for bad, scope in [(token, "ListTransactions:m2:c1"), (forged, "ListTransactions:m1:c1"),
                       (f"{payload[:-2]}AA.{mac}", "ListTransactions:m1:c1")]:
        with pytest.raises(InvalidArgument) as refused:
            TOKENS.read(bad, scope)
        assert refused.value.reason == "INVALID_PAGE_TOKEN" and refused.value.violations[0].field == "page_token"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=600), st.binary(max_size=400).map(lambda b: b.hex())))
def test_any_crafted_page_token_is_invalid_argument_and_nothing_else(token):
    if token:
        with pytest.raises(InvalidArgument):
            TOKENS.read(token, "scope")


async def test_a_crafted_page_token_over_grpc_is_invalid_argument_and_a_real_one_pages(server_at):
    async with server_at() as (_, target):
        _, wallet = wallet_stub(target)
        request = wallet_pb2.ListTransactionsRequest(merchant_id="m1", customer_id="c1", page_size=2)
        seen, token = [], ""
        while True:
            request.page_token = token
            page = await wallet.ListTransactions(request, metadata=auth("app"))
            seen += [t.transaction_id for t in page.transactions]
            if not (token := page.next_page_token):
                break
        assert seen == ["t5", "t4", "t3", "t2", "t1"]
        for crafted in ("eyJiZWZvcmUiOiAtMX0=", "x" * 5000, "e30.AAAA"):
            request.page_token = crafted
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await wallet.ListTransactions(request, metadata=auth("app"))
            assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def _old_recipient_ref(to: str) -> str:
    """The log sink's former fingerprint: 40 bits of an unsalted SHA-256."""
    return hashlib.sha256(to.encode()).hexdigest()[:10]


def test_a_recipient_fingerprint_cannot_be_reversed_by_trying_every_number():
    secret, phone = secrets.token_bytes(32), "+989121234567"
    candidates = [f"+98912{n:07d}" for n in range(1_230_000, 1_240_000)]
    old = _old_recipient_ref(phone)
    assert [c for c in candidates if _old_recipient_ref(c) == old] == [phone]  # found by brute force
    keyed = recipient_fingerprint(secret, phone)
    guessed_secret = b"\0" * 32
    assert not [c for c in candidates if recipient_fingerprint(guessed_secret, c) == keyed]
    # Stable for one secret (and one number however written), different under another.
    assert recipient_fingerprint(secret, "+98 912 123 4567") == keyed
    assert recipient_fingerprint(secrets.token_bytes(32), phone) != keyed
    assert recipient_fingerprint(secret, "Ali@Example.com") == recipient_fingerprint(secret, "ali@example.com")
