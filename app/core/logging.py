"""Logging, configured once per process by the CLI (and each ingest worker process).

``PARKTWIN_LOG_FORMAT=text`` (the default) writes one human line per record;
``PARKTWIN_LOG_FORMAT=json`` one JSON object per line with ``ts``, ``level``, ``logger``,
``message``, ``process``, ``request_id`` while an API request is handled
(app/core/request_id.py), and every ``extra=`` field of the call.

No secrets in the logs (review L7): the engines hide SQL parameters (``hide_parameters``), and
every handler drops the row values PostgreSQL puts in a constraint violation's detail
("Failing row contains (...)": a whole row, a webhook's secret included), and the value of
an ``access_token=`` query parameter (the event stream's key, in uvicorn's access line).
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

# The row ends with ")." at the end of a line (values may span lines); failing that, the rest of
# the line goes.
FAILING_ROW = re.compile(
    r"(Failing row contains) (?:\(.*?\)\.(?=\n|\Z)|(?!\(values hidden\))[^\n]*)", re.S
)


def hide_row_values(text: str) -> str:
    return FAILING_ROW.sub(r"\1 (values hidden).", text)


class HideRowValues(logging.Filter):
    """Rewrites a record's message and traceback without the failing row's values."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Failing row contains" in message:
            record.msg, record.args = hide_row_values(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and "Failing row contains" in record.exc_text:
            record.exc_text = hide_row_values(record.exc_text)
        return True


# ``?access_token=<key>`` (accepted by the event stream only): the key never reaches a log line.
ACCESS_TOKEN = re.compile(r"(access_token=)[^&\s\"']*", re.I)


def hide_access_token(text: str) -> str:
    return ACCESS_TOKEN.sub(r"\1[hidden]", text)


class HideAccessToken(logging.Filter):
    """Rewrites a record (uvicorn's access line above all) without an ``access_token`` value."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "access_token=" in message.lower():
            record.msg, record.args = hide_access_token(message), None
        return True


TEXT_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"

# The id of the API request being handled, set by app/core/request_id.py.
REQUEST_ID: ContextVar[str | None] = ContextVar("parktwin_request_id", default=None)

# Attributes every LogRecord has: anything else on a record came from ``extra=`` (but
# uvicorn's ``color_message``, its message again with terminal colour codes).
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "request_id",
    "color_message",
}


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or None) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """The classic line, with ``[request_id=...]`` appended inside a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request_id={request_id}]" if request_id else line


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_text:  # as HideRowValues left it
            entry["exc_info"] = record.exc_text
        elif record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return _dumps(entry)


def _timestamp(created: float) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-12-03T09:10:20.123Z``."""
    moment = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def _dumps(entry: dict[str, Any]) -> str:
    try:
        return orjson.dumps(entry, default=str).decode()
    except TypeError:  # e.g. an int beyond 64 bits, which orjson refuses even with a default
        return json.dumps(entry, default=str, ensure_ascii=False)


def build_handler(log_format: str = "text", stream: Any = None) -> logging.Handler:
    """A handler writing ``log_format`` lines to ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(HideRowValues())
    handler.addFilter(HideAccessToken())
    return handler


def configure_logging(level: str, log_format: str = "text") -> None:
    logging.basicConfig(level=level.upper(), handlers=[build_handler(log_format)])
    # Alembic narrates every plugin it loads at INFO.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
