"""Keyset pagination: ``{"items": [...], "next_cursor": ...}`` with ``limit`` and ``cursor``.

A cursor is the sort key of the last item served, as base64url JSON: opaque to clients,
stable under inserts, and cheap to resume from with ``WHERE (key) > (:cursor)``.

One rule for every list: the repository fetches :attr:`PageParams.fetch_limit` rows (the page
and one more, which says whether another page follows, without a count), and
:func:`paginate` cuts them to the page and makes the next cursor from the last item shown.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel

from app.core.errors import Unprocessable

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


CURSOR_REFUSED = "cursor: not a cursor this API handed out"
INT64 = 2**63
Part = str | int


def decode_cursor(cursor: str) -> list[Part]:
    """The sort key in a cursor: a list of strings and 64-bit integers, or 422 (whatever
    the client made up: bad base64, other JSON, nested values, floats, huge numbers)."""
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise Unprocessable(CURSOR_REFUSED) from exc
    if not isinstance(value, list) or not all(_is_part(v) for v in value):
        raise Unprocessable(CURSOR_REFUSED)
    return value


def _is_part(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, str) or (isinstance(value, int) and -INT64 <= value < INT64)


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None

    def after(self, size: int, kinds: tuple[type[Part], ...] | None = None) -> list[Any] | None:
        """The decoded cursor (or None), checked to hold ``size`` sort-key values of the
        ``kinds`` given (by default every one a string), so that a crafted cursor is a 422
        here and never a wrongly typed SQL parameter."""
        if self.cursor is None:
            return None
        key = decode_cursor(self.cursor)
        kinds = kinds or (str,) * size
        if len(key) != size or any(type(v) is not k for v, k in zip(key, kinds, strict=True)):
            raise Unprocessable("cursor: not a cursor for this list")
        return key

    @property
    def fetch_limit(self) -> int:
        """The rows to fetch: the page and one more, to know whether another page follows."""
        return self.limit + 1


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="items per page (default 100, max 1000)")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def paginate(
    rows: Sequence[T], page: PageParams, key: Callable[[T], Sequence[Any]]
) -> tuple[list[T], str | None]:
    """Split the ``page.fetch_limit`` rows fetched into the page and the cursor of the next
    one (None: this is the last page); ``key`` is an item's sort key."""
    if len(rows) > page.fetch_limit:
        raise ValueError(f"{len(rows)} rows fetched for a page of {page.limit}")
    items = list(rows[: page.limit])
    more = len(rows) > page.limit
    return items, encode_cursor(key(items[-1])) if more and items else None
