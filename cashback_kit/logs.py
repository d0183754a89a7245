"""JSON logs that never carry a phone number or an email address.

Every record goes through PiiFilter, which scrubs the message and every string
field; services also avoid logging contacts in the first place."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str] = ContextVar("request_id", default="")

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# E.164 and local formats: +989121234567, 09121234567, 0501234567, (+966) 50 123 4567.
_PHONE = re.compile(r"(?<![\w.])(?:\+|00)\d[\d\s\-()]{6,18}\d|(?<![\w.])0\d{9,10}(?!\d)")

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def redact(text: str) -> str:
    return _PHONE.sub("<phone>", _EMAIL.sub("<email>", text))


class PiiFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):
                record.msg = str(record.msg)
            record.args = None
        record.msg = redact(str(record.msg))
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        rid = request_id.get()
        if rid:
            record.request_id = rid
        return True


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "asctime": "ts", "name": "logger"},
            static_fields={"service": service},
        )
    )
    handler.addFilter(PiiFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("sqlalchemy.engine", "twilio.http_client", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
