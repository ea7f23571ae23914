"""The row builder against a plain reference implementation, on generated batches."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingest.rows import HOUR_US, RowBuilder

readings = st.lists(
    st.tuples(
        st.integers(1, 4),  # series
        st.integers(0, 3 * HOUR_US).map(lambda us: 1_795_000_000_000_000 + us - us % 1000),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    max_size=200,
)


def reference(
    batch: list[tuple[int, int, float]],
) -> tuple[list[tuple[int, int, float]], dict[int, tuple[int, float]], set[tuple[int, int]]]:
    rows, seen, latest = [], set(), {}
    for sid, us, value in batch:
        if (sid, us) in seen:
            continue
        seen.add((sid, us))
        rows.append((us, sid, value))
        if sid not in latest or latest[sid][0] < us:
            latest[sid] = (us, value)
    hours = {(sid, us - us % HOUR_US) for us, sid, _v in rows}
    return rows, latest, hours


@given(readings)
def test_builder_matches_the_reference(batch: list[tuple[int, int, float]]) -> None:
    builder = RowBuilder()
    for sid, us, value in batch:
        builder.add(sid, us, value)
    rows, latest, hours = reference(batch)
    assert builder.rows == rows
    assert builder.latest() == latest
    assert builder.hours == hours
    assert builder.repeated == len(batch) - len(rows)


@given(st.lists(st.integers(0, 10 * HOUR_US), max_size=100))
def test_newest_of_a_device_message(times: list[int]) -> None:
    builder = RowBuilder()
    newest = builder.add_readings({"m": 7}, [(t, "m", 1.0) for t in times])
    assert newest == (max(times) if times else 0)
