"""Logging, configured once per process by the CLI.

No secrets in the logs (review L7): the engines hide SQL parameters (``hide_parameters``), and
every handler drops the row values PostgreSQL puts in a constraint violation's detail
("Failing row contains (...)": a whole row, a webhook's secret included)."""

from __future__ import annotations

import logging
import re

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


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(HideRowValues())
    # Alembic narrates every plugin it loads at INFO.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
