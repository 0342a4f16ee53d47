"""Structured logs: one JSON object a line, each carrying the request id."""

from __future__ import annotations

import contextvars
import logging
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Attributes that Django or libraries attach to records and that could carry request
# content; they are dropped before a record is formatted.
_DROPPED_ATTRIBUTES = ("request", "args_repr", "body")


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record and drops request objects from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        for name in _DROPPED_ATTRIBUTES:
            if name in record.__dict__:
                delattr(record, name)
        return True


class JsonFormatter(_BaseJsonFormatter):
    """python-json-logger's formatter with our field names."""

    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["level"] = log_record.pop("levelname", record.levelname)
        log_record["logger"] = log_record.pop("name", record.name)
        log_record.pop("asctime", None)
        log_record["time"] = datetime.fromtimestamp(record.created, UTC).isoformat()
        if "request_id" not in log_record:
            log_record["request_id"] = getattr(record, "request_id", None)
