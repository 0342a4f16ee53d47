"""Structured logs: one JSON object a line, each carrying the request id, and never an
e-mail address (an address in a log line marks a person as a KAP patient)."""

from __future__ import annotations

import contextvars
import logging
import re
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import salted_hmac
from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Attributes that Django or libraries attach to records and that could carry request
# content; they are dropped before a record is formatted.
_DROPPED_ATTRIBUTES = ("request", "args_repr", "body")


# Wide on purpose: a false match costs a replaced word in a log line, a miss costs an
# address. A person's address has a dot in its domain; a Celery node name
# ("celery@worker1") does not, and stays readable.
_ADDRESS = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.ASCII)
_DIGEST_SALT = "afterglow.logging.address"
# The attributes every LogRecord has; any other attribute came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
}


def address_digest(address: str) -> str:
    """A keyed digest that names an e-mail address in logs without revealing it.

    HMAC-SHA256 under a key derived from SECRET_KEY (Django's `salted_hmac`), of the
    address as sign-in compares it (trimmed, lower-case): the same account gives the same
    digest in every line, so an operator can follow one through a lock-out, but nobody
    holding the logs alone can confirm a guessed address.
    """
    normalized = address.strip().lower()
    return "addr:" + salted_hmac(_DIGEST_SALT, normalized, algorithm="sha256").hexdigest()[:16]


def _without_addresses(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        try:
            return address_digest(match.group(0))
        except ImproperlyConfigured:  # a line logged before settings are read: no key yet
            return "addr:redacted"

    return _ADDRESS.sub(replace, text)


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


class AddressRedactingFilter(logging.Filter):
    """Replaces any e-mail address in a record (its message, arguments and extra text
    fields) with its keyed digest.

    The sign-in lock-out already logs digests (backend/accounts/lockout.py); this is the
    net under everything else, our code and libraries alike, on the way to the handler.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # the handler reports a record it cannot format
        if "@" in message:
            record.msg, record.args = _without_addresses(message), ()
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES and isinstance(value, str) and "@" in value:
                setattr(record, name, _without_addresses(value))
        return True
