import io
import json
import logging

import pytest

from cashback_kit.logs import PiiFilter, configure_logging, json_formatter, redact, scrub, valid_request_id


def test_phone_numbers_and_emails_are_scrubbed():
    text = "sent to +989121234567 and 09121234567 and ali@example.com for order o-123456"
    out = redact(text)
    assert "9121234567" not in out and "example.com" not in out
    assert "o-123456" in out


def test_log_records_are_json_without_personal_data():
    saved = logging.getLogger().handlers[:]
    buf = io.StringIO()
    try:
        configure_logging("test", stream=buf)
        logging.getLogger("x").info("to %s", "+966501234567", extra={"email": "a@b.io"})
    finally:
        logging.getLogger().handlers[:] = saved
    record = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert record["service"] == "test"
    assert "501234567" not in json.dumps(record)
    assert record["email"] == "<email>"


def test_the_filter_keeps_other_fields():
    rec = logging.LogRecord("x", logging.INFO, "f", 1, "amount %d", (5,), None)
    PiiFilter().filter(rec)
    assert rec.getMessage() == "amount 5"


def _log_lines(emit) -> list[dict]:
    saved = logging.getLogger().handlers[:]
    buf = io.StringIO()
    try:
        configure_logging("test", stream=buf)
        emit()
    finally:
        logging.getLogger().handlers[:] = saved
    return [json.loads(line) for line in buf.getvalue().splitlines()]


async def test_a_real_postgresql_error_logs_its_traceback_without_the_statements_values(pg_url):
    """The phone is written without a '+', so only cutting the values out can hide it."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    phone, body = "989121234567", "Your secret code is 4417"
    engine = create_async_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE contact (phone text PRIMARY KEY, body text)"))
            await conn.execute(sa.text("INSERT INTO contact VALUES (:p, :b)"), {"p": phone, "b": body})
        with pytest.raises(sa.exc.IntegrityError) as caught:
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO contact VALUES (:p, :b)"), {"p": phone, "b": body})
    finally:
        await engine.dispose()
    assert phone in str(caught.value) and "[parameters:" in str(caught.value)  # what would have leaked

    def emit() -> None:
        logging.getLogger("x").error("rpc failed", exc_info=caught.value)
        logging.getLogger("x").warning("write failed: %s", caught.value)

    lines = _log_lines(emit)
    text = json.dumps(lines)
    assert phone not in text and "secret code" not in text
    assert "UniqueViolationError" in lines[0]["exc_info"]  # the traceback itself is kept
    # SQLAlchemy's parameters and asyncpg's chained error with PostgreSQL's DETAIL line, both cut
    assert "[parameters: <redacted>]" in lines[0]["exc_info"] and "DETAIL: <redacted>" in lines[0]["exc_info"]
    assert "[parameters: <redacted>]" in lines[1]["message"]


def test_an_asyncpg_argument_error_and_a_bad_input_error_lose_the_value():
    text = "invalid input for query argument $2: 'ali.reza.private' (expected str, got int)"
    assert "ali.reza" not in scrub(text) and "query argument $2" in scrub(text)
    text = 'invalid input syntax for type integer: "ali reza private"\nLINE 1: SELECT 1'
    assert scrub(text) == "invalid input syntax for type integer: <redacted>\nLINE 1: SELECT 1"


def test_the_formatter_scrubs_on_its_own_without_the_filter():
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(json_formatter("test"))
    logger = logging.getLogger("formatter-only")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.info({"to": "+447700900123", "n": 3})
        try:
            raise ValueError("bad contact a.person@example.org")
        except ValueError:
            logger.exception("failed", extra={"phone": "00447700900123"})
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in buf.getvalue().splitlines())
    assert first["to"] == "<phone>" and first["n"] == 3
    assert "example.org" not in second["exc_info"] and second["phone"] == "<phone>"


def test_request_ids_are_taken_only_when_short_and_plain():
    assert valid_request_id("req-42.a_b:c") == "req-42.a_b:c"
    assert valid_request_id("x" * 64) == "x" * 64
    for bad in ("x" * 65, "a\r\nlevel: ERROR", "a b", "+989121234567", "", None, "<script>"):
        assert valid_request_id(bad) is None


async def test_a_real_bad_argument_error_logs_without_the_argument(pg_url):
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    secret = "ali.reza.private"
    engine = create_async_engine(pg_url)
    try:
        with pytest.raises(sa.exc.DBAPIError) as caught:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT CAST(:v AS integer)"), {"v": secret})
    finally:
        await engine.dispose()
    assert secret in str(caught.value)
    lines = _log_lines(lambda: logging.getLogger("x").error("query failed", exc_info=caught.value))
    assert secret not in json.dumps(lines) and "query argument $1: <redacted>" in lines[0]["exc_info"]
