"""The database's refusal of a write, as the API's error (one rule for every domain).

PostgreSQL's SQLSTATEs: 23505 unique violation and 23P01 exclusion violation are 409 (the row,
or an overlapping one, is there already); 23503 foreign-key violation is 422 naming the column
(foreign keys are named ``{table}_park_id_{column}_fkey``); any other refusal (a check, a not
null) is 422 with the constraint's name.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from app.core.errors import AppError, Conflict, Unprocessable

UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
EXCLUSION_VIOLATION = "23P01"


def constraint_name(exc: IntegrityError) -> str:
    """The name of the constraint that refused the write ("" when the driver gives none)."""
    diag = getattr(exc.orig, "diag", None)
    return str(getattr(diag, "constraint_name", "") or "")


def integrity_error(exc: IntegrityError, what: str, *, scope: str | None = "this park") -> AppError:
    """``what`` (e.g. "building 'b1'") refused by the database, as 409 or 422; a duplicate is
    said to exist "in ``scope``" (None: nowhere in particular)."""
    constraint = constraint_name(exc)
    state = getattr(exc.orig, "sqlstate", "")
    if state == UNIQUE_VIOLATION:
        where = f" in {scope}" if scope else ""
        return Conflict(f"{what} already exists{where}", field="id")
    if state == EXCLUSION_VIOLATION:
        return Conflict(f"{what} overlaps an existing one ({constraint})")
    if state == FOREIGN_KEY_VIOLATION:
        field = constraint.partition("_park_id_")[2].removesuffix("_fkey") or None
        return Unprocessable(f"{what}: {field or 'a reference'} names nothing", field=field)
    return Unprocessable(f"{what}: refused by the database ({constraint or state})")
