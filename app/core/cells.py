"""Spreadsheet cells out: text that Excel or LibreOffice would run as a formula made inert.

The one rule (OWASP "CSV injection"): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is a formula to a spreadsheet. In CSV such text gets a leading ``'``; in
XLSX it is written as a string cell (never a formula). Numbers, dates and other non-text values
are left as they are, so a negative number stays a number.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_like(value: Any) -> bool:
    """True for text a spreadsheet would read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def neutralise(value: Any) -> Any:
    """A CSV cell's value: formula-like text prefixed with ``'``, anything else unchanged."""
    return "'" + value if formula_like(value) else value
