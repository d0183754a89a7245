"""JSON logs that never carry a phone number, an email address or SQL parameters.

Two layers, because either alone has let data through: PiiFilter scrubs a record's
message and string fields as it enters a handler, and ScrubbingJsonFormatter scrubs
every value of the finished JSON document, including the traceback it formats from
exc_info (python-json-logger formats exc_info itself and ignores the filter's
exc_text). Database errors carry the statement's values ("[parameters: …]" from
SQLAlchemy, "DETAIL: Key (phone)=(…)" from PostgreSQL, "query argument $1: '…'"
from asyncpg): those parts are cut out whatever the values look like."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str] = ContextVar("request_id", default="")
# The calling key's id (8 hex of its digest, never the key): who did what, in every line.
caller_key_id: ContextVar[str] = ContextVar("caller_key_id", default="")

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# E.164 and local formats: +989121234567, 09121234567, 0501234567, (+966) 50 123 4567.
_PHONE = re.compile(r"(?<![\w.])(?:\+|00)\d[\d\s\-()]{6,18}\d|(?<![\w.])0\d{9,10}(?!\d)")

# SQLAlchemy prints the bound values on one line (repr escapes newlines in strings).
_SQL_PARAMS = re.compile(r"\[parameters: [^\n]*")
# PostgreSQL's DETAIL quotes row values ("Key (phone)=(…)", "Failing row contains (…)").
_PG_DETAIL = re.compile(r"^(\s*)DETAIL:[^\n]*", re.MULTILINE)
# asyncpg's DataError names the argument and repeats its value.
_ASYNCPG_ARG = re.compile(r"(query argument \$\d+):[^\n]*")
# PostgreSQL quotes the offending value in the message itself for bad input.
_PG_BAD_INPUT = re.compile(r'(invalid input (?:syntax|value) for [^:\n]*): "[^\n]*"')

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

# Client-chosen request ids are logged and echoed, so only a short, plain token is taken.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")


def redact(text: str) -> str:
    return _PHONE.sub("<phone>", _EMAIL.sub("<email>", text))


def scrub(text: str) -> str:
    """Cut database values out, then redact contacts from what is left."""
    text = _SQL_PARAMS.sub("[parameters: <redacted>]", text)
    text = _PG_DETAIL.sub(r"\1DETAIL: <redacted>", text)
    text = _ASYNCPG_ARG.sub(r"\1: <redacted>", text)
    text = _PG_BAD_INPUT.sub(r"\1: <redacted>", text)
    return redact(text)


def valid_request_id(value: str | None) -> str | None:
    """The caller's x-request-id when it is a plain token of at most 64 characters, else None."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return None


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    return value


class PiiFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):
                record.msg = str(record.msg)
            record.args = None
        record.msg = scrub(str(record.msg))
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, scrub(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        rid = request_id.get()
        if rid:
            record.request_id = rid
        caller = caller_key_id.get()
        if caller:
            record.key_id = caller
        return True


class ScrubbingJsonFormatter(JsonFormatter):
    """The last word before a line is written: every value of the document is scrubbed,
    whatever a filter, a library or a dict message put there."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {k: _scrub_value(v) for k, v in super().process_log_record(log_data).items()}


def json_formatter(service: str) -> ScrubbingJsonFormatter:
    return ScrubbingJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "asctime": "ts", "name": "logger"},
        static_fields={"service": service},
    )


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter(service))
    handler.addFilter(PiiFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("sqlalchemy.engine", "twilio.http_client", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
