import io
import json
import logging

from cashback_kit.logs import PiiFilter, configure_logging, redact


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
