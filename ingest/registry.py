"""The ingestor's in-memory view of the registry: which parks and devices exist, which metrics
each device's type allows, and the series id of each (device, metric).

Misses are resolved in bulk, one query per batch. The cache follows registry changes: database
triggers ``NOTIFY parktwin_registry`` on any change to parks, devices, device types or series,
and the batch store (ingest/store.py) calls ``clear()`` when one arrives (changes are rare; a
reload is one query).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import psycopg

from app.core.pgarray import Texts
from ingest.parse import Rejection, Telemetry

logger = logging.getLogger(__name__)

DeviceKey = tuple[str, str]
SeriesKey = tuple[str, str, str]

DEVICES_SQL = """
SELECT d.park_id, d.id, coalesce(array_agg(m.name) FILTER (WHERE m.name IS NOT NULL), '{}'),
       d.type
FROM unnest(%s::text[], %s::text[]) AS k(park_id, id)
JOIN device d ON d.park_id = k.park_id AND d.id = k.id
LEFT JOIN device_type_metric m ON m.device_type = d.type
GROUP BY d.park_id, d.id, d.type
"""

PARKS_SQL = "SELECT id FROM park WHERE id = ANY(%s::text[])"

CREATE_SERIES_SQL = """
INSERT INTO series (park_id, device_id, metric)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])
ON CONFLICT (park_id, device_id, metric) DO NOTHING
"""

SERIES_SQL = """
SELECT s.park_id, s.device_id, s.metric, s.id
FROM unnest(%s::text[], %s::text[], %s::text[]) AS k(park_id, device_id, metric)
JOIN series s USING (park_id, device_id, metric)
"""


class Registry:
    def __init__(self) -> None:
        self._parks: dict[str, bool] = {}
        self._devices: dict[DeviceKey, frozenset[str] | None] = {}
        self._types: dict[DeviceKey, str] = {}
        self._series: dict[DeviceKey, dict[str, int]] = {}

    def clear(self) -> None:
        self._parks.clear()
        self._devices.clear()
        self._types.clear()
        self._series.clear()

    def load_devices(self, conn: psycopg.Connection, keys: Iterable[DeviceKey]) -> None:
        """Fetch the devices (and, for missing ones, their parks) not yet cached."""
        missing = sorted({k for k in keys if k not in self._devices})
        if not missing:
            return
        rows = conn.execute(
            DEVICES_SQL, (Texts([k[0] for k in missing]), Texts([k[1] for k in missing]))
        )
        for park_id, device_id, metrics, device_type in rows:
            self._devices[(park_id, device_id)] = frozenset(metrics)
            self._types[(park_id, device_id)] = device_type
            self._parks[park_id] = True
        absent = [k for k in missing if k not in self._devices]
        parks = sorted({k[0] for k in absent if k[0] not in self._parks})
        if parks:
            found = {r[0] for r in conn.execute(PARKS_SQL, (Texts(parks),))}
            self._parks.update({p: p in found for p in parks})
        for key in absent:
            self._devices[key] = None

    def check(self, telemetry: Telemetry) -> Rejection | None:
        """Why this (already loaded) message cannot be stored, or None."""
        key = (telemetry.park_id, telemetry.device_id)
        metrics = self._devices.get(key)
        if metrics is None:
            if not self._parks.get(telemetry.park_id, False):
                return Rejection("unknown_park", f"no park {telemetry.park_id!r}", *key)
            return Rejection(
                "unknown_device", f"no device {telemetry.device_id!r} in this park", *key
            )
        for _ts, metric, _value in telemetry.readings:
            if metric not in metrics:
                allowed = ", ".join(sorted(metrics))
                return Rejection(
                    "unknown_metric",
                    f"{metric!r} is not a metric of this device's type ({allowed})",
                    *key,
                )
        return None

    @property
    def device_types(self) -> Mapping[DeviceKey, str]:
        """Every loaded device's type (a live view: no copy)."""
        return self._types

    def known_device(self, key: DeviceKey) -> bool:
        return self._devices.get(key) is not None

    def series_ids(
        self, conn: psycopg.Connection, needed: dict[DeviceKey, set[str]]
    ) -> dict[DeviceKey, dict[str, int]]:
        """Series ids (device -> metric -> id) covering ``needed``, creating the series that do
        not exist yet (in a transaction of their own: series are never rolled back)."""
        missing = sorted(
            (park, device, metric)
            for (park, device), metrics in needed.items()
            for metric in metrics - self._series.get((park, device), {}).keys()
        )
        if missing:
            columns = tuple(Texts([k[i] for k in missing]) for i in range(3))
            with conn.transaction():
                conn.execute(CREATE_SERIES_SQL, columns)
            for park_id, device_id, metric, series_id in conn.execute(SERIES_SQL, columns):
                self._series.setdefault((park_id, device_id), {})[metric] = series_id
        return self._series
