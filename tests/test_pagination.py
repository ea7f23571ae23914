"""The one keyset-page rule (app/core/pagination.py): fetch the page and one more row; the
extra row only says that another page follows, and the cursor is the last shown item's key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.pagination import PageParams, decode_cursor, paginate


@given(limit=st.integers(1, 50), extra=st.integers(-50, 1))
def test_a_page_is_its_first_rows_with_a_cursor_only_when_more_follow(
    limit: int, extra: int
) -> None:
    page = PageParams(limit=limit, cursor=None)
    assert page.fetch_limit == limit + 1
    fetched = list(range(max(0, limit + extra)))
    items, cursor = paginate(fetched, page, lambda n: [f"id{n}"])
    assert items == fetched[:limit]
    if len(fetched) > limit:
        assert cursor is not None and decode_cursor(cursor) == [f"id{limit - 1}"]
    else:
        assert cursor is None


def test_a_repository_that_fetched_too_many_rows_is_a_bug_not_a_page() -> None:
    with pytest.raises(ValueError, match="4 rows fetched for a page of 2"):
        paginate([1, 2, 3, 4], PageParams(limit=2, cursor=None), lambda n: [n])
