"""The database's refusal of an asset write, as the API's error."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from app.core.errors import AppError, Conflict, Unprocessable


def integrity_error(exc: IntegrityError, what: str) -> AppError:
    """409 for a duplicate key; 422 naming the column for a reference to nothing (foreign key
    names are ``{table}_park_id_{column}_fkey``); else 422 with the constraint's name."""
    diag = getattr(exc.orig, "diag", None)
    constraint = str(getattr(diag, "constraint_name", "") or "")
    state = getattr(exc.orig, "sqlstate", "")
    if state == "23505":
        return Conflict(f"{what} already exists in this park", field="id")
    if state == "23503":
        field = constraint.partition("_park_id_")[2].removesuffix("_fkey") or None
        return Unprocessable(f"{what}: {field or 'a reference'} names nothing", field=field)
    return Unprocessable(f"{what}: refused by the database ({constraint or state})")
