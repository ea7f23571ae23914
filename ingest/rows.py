"""Turning a batch's readings into rows: pure, and the hottest loop of the ingestor.

Rules: within a batch, as in the table, the first value of a (series, time) wins; keep the
newest reading per series (for ``latest_value``) and the UTC hours touched (for the rollups).

Fast path: a device's readings of one series nearly always come in increasing time, and a
reading newer than everything already seen for its series cannot repeat one of them, so it
needs no lookup. Only an older reading consults the set of (series, time) keys, built from the
rows the first time it is needed and kept up to date after that.
"""

from __future__ import annotations

from collections.abc import Iterable

HOUR_US = 3_600_000_000

Row = tuple[int, int, float]  # (microseconds since the Unix epoch, series id, value)


class RowBuilder:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.hours: set[tuple[int, int]] = set()
        self.repeated = 0
        self._newest: dict[int, list[float]] = {}  # series -> [us, value, hour]
        self._keys: set[tuple[int, int]] | None = None

    def add(self, series_id: int, us: int, value: float) -> bool:
        """Add one reading; False when the batch already holds its (series, time)."""
        state = self._newest.get(series_id)
        if state is None or us > state[0]:
            hour = us - us % HOUR_US
            if state is None:
                self._newest[series_id] = [us, value, hour]
                self.hours.add((series_id, hour))
            else:
                state[0], state[1] = us, value
                if hour != state[2]:
                    state[2] = hour
                    self.hours.add((series_id, hour))
            if self._keys is not None:
                self._keys.add((series_id, us))
            self.rows.append((us, series_id, value))
            return True
        return self._add_older(series_id, us, value)

    def _add_older(self, series_id: int, us: int, value: float) -> bool:
        if self._keys is None:
            self._keys = {(sid, t) for t, sid, _v in self.rows}
        if (series_id, us) in self._keys:
            self.repeated += 1
            return False
        self._keys.add((series_id, us))
        self.hours.add((series_id, us - us % HOUR_US))
        self.rows.append((us, series_id, value))
        return True

    def add_readings(
        self, series: dict[str, int], readings: Iterable[tuple[int, str, float]]
    ) -> int:
        """Add one device's readings (``series``: metric -> id); return the newest time added,
        or 0 when every reading repeated one already in the batch."""
        newest = 0
        for us, metric, value in readings:
            if self.add(series[metric], us, value) and us > newest:
                newest = us
        return newest

    def latest(self) -> dict[int, tuple[int, float]]:
        """The newest (time, value) per series."""
        return {sid: (int(s[0]), s[1]) for sid, s in self._newest.items()}
