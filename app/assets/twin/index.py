"""The spatial index of a park: one shapely STRtree per kind, kept in the process.

A ``Layer`` holds the items of one kind (parcels, buildings, spaces, devices, enterprises)
with their lon/lat geometry (an enterprise has one piece per leased space, building or parcel;
a space is its building's footprint). The tree only proposes candidates: a conservative
lon/lat box around the query circle (``geo.search_box``); every distance is then measured
geodesically and filtered exactly, so the answer does not depend on the tree.

Nearest-N grows the search radius (x4) until N items are inside it or the box covers the
whole layer: the N nearest within a radius holding at least N items are the N nearest.

``brute_force`` skips the tree and measures every item, the baseline of bench/spatial.py.

``IndexCache`` keeps one index per park, keyed by the park's asset version (a counter that
triggers bump on any insert, update or delete of a parcel, building, space, enterprise or
lease, and on a device added, removed, moved or relinked; migration 0009) and the day: a
change by this process or another, through the API, an import or plain SQL, is seen by the
next query, for one primary-key lookup per query. One request of a park builds a new index;
the others asking for it meanwhile wait for that build instead of making their own.

At 100,000 devices a build took 1.2-1.6 s (bench/scale_reads), most of it the devices: their
rows taken as mappings, one shapely ``Point`` (about 0.3 s) and one dict of properties made
per device. The device layer now takes plain rows, makes its points in one vectorised call
(``Layer.at_points``) and a device's properties only when an answer names it (``RowProps``):
about half a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, overload

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Point

from app.core import geodesy as geo

MAX_CACHED_PARKS = 64


class RowProps(Sequence[dict[str, Any]]):
    """An item's properties made from its row when asked for: a layer of 100,000 devices keeps
    their rows, not 100,000 dicts made for the few items an answer names."""

    def __init__(self, rows: Sequence[Any], make: Callable[[Any], dict[str, Any]]) -> None:
        self._rows, self._make = rows, make

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self._make(row) for row in self._rows[i]]
        return self._make(self._rows[i])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(self._make, self._rows)


@dataclass
class Layer:
    kind: str
    ids: Sequence[str]
    props: Sequence[dict[str, Any]]
    geometries: NDArray[np.object_]
    points: bool = False
    tree: shapely.STRtree = field(init=False)
    bounds: shapely.Geometry = field(init=False)

    def __post_init__(self) -> None:
        self.tree = shapely.STRtree(self.geometries)
        empty = len(self.geometries) == 0
        self.bounds = None if empty else shapely.box(*shapely.total_bounds(self.geometries))

    @cached_property
    def positions(self) -> dict[str, int]:
        """Item id -> position (made on first use)."""
        return {item: i for i, item in enumerate(self.ids)}

    @classmethod
    def build(
        cls, kind: str, items: Sequence[tuple[str, dict[str, Any], shapely.Geometry]]
    ) -> Layer:
        geometries = np.empty(len(items), dtype=object)
        geometries[:] = [g for _, _, g in items]
        points = bool(items) and all(isinstance(g, Point) for _, _, g in items)
        return cls(kind, [i for i, _, _ in items], [p for _, p, _ in items], geometries, points)

    @classmethod
    def at_points(
        cls,
        kind: str,
        ids: Sequence[str],
        props: Sequence[dict[str, Any]],
        lons: Sequence[float],
        lats: Sequence[float],
    ) -> Layer:
        """A layer of points made in one vectorised call (``shapely.points``), not one
        ``Point`` per item: 100,000 devices in about 40 ms instead of about 0.3 s."""
        geometries = shapely.points(np.asarray(lons, float), np.asarray(lats, float))
        return cls(kind, ids, props, geometries, bool(ids))

    def _candidates(self, box: shapely.Geometry | None, brute_force: bool) -> NDArray[np.intp]:
        if brute_force or box is None:
            return np.arange(len(self.ids))
        return np.asarray(self.tree.query(box), dtype=np.intp)

    def _distances(self, idx: NDArray[np.intp], lon: float, lat: float) -> NDArray[np.float64]:
        if self.points:
            coords = shapely.get_coordinates(self.geometries[idx])
            return geo.distances_m(lon, lat, coords[:, 0], coords[:, 1])
        return geo.distances_to_geometries_m(self.geometries[idx], lon, lat)

    def within(
        self, lon: float, lat: float, radius_m: float | None, *, brute_force: bool = False
    ) -> list[tuple[float, int]]:
        """(distance, item) of every item within ``radius_m`` (None: every item), nearest
        first; an item of several pieces counts once, at its nearest piece."""
        box = None if radius_m is None else geo.search_box(lon, lat, radius_m)
        idx = self._candidates(box, brute_force)
        if len(idx) == 0:
            return []
        distances = self._distances(idx, lon, lat)
        keep = distances <= (np.inf if radius_m is None else radius_m)
        best: dict[str, tuple[float, int]] = {}
        for d, i in zip(distances[keep].tolist(), idx[keep].tolist(), strict=True):
            item = self.ids[i]
            if item not in best or d < best[item][0]:
                best[item] = (d, i)
        return sorted(best.values(), key=lambda pair: (pair[0], self.ids[pair[1]]))

    def nearest(
        self, lon: float, lat: float, n: int, *, brute_force: bool = False
    ) -> list[tuple[float, int]]:
        """The ``n`` nearest items, nearest first."""
        if not self.ids:
            return []
        if brute_force:
            return self.within(lon, lat, None, brute_force=True)[:n]
        radius = 200.0
        while not geo.search_box(lon, lat, radius).covers(self.bounds):
            found = self.within(lon, lat, radius)
            if len(found) >= n:
                return found[:n]
            radius *= 4
        return self.within(lon, lat, None, brute_force=True)[:n]

    def containing(self, lon: float, lat: float, *, brute_force: bool = False) -> list[int]:
        """The items whose geometry holds the point (on the edge counts)."""
        if brute_force:
            idx = np.flatnonzero(shapely.intersects_xy(self.geometries, lon, lat))
        else:
            idx = self.tree.query(Point(lon, lat), predicate="intersects")
        return sorted(int(i) for i in idx)

    def containing_many(self, lons: list[float], lats: list[float]) -> dict[int, int]:
        """For each point (by position) held by some item, the first such item."""
        if not lons or not self.ids:
            return {}
        pairs = self.tree.query(shapely.points(lons, lats), predicate="intersects")
        first: dict[int, int] = {}
        for point, item in sorted(zip(pairs[0].tolist(), pairs[1].tolist(), strict=True)):
            first.setdefault(point, item)
        return first


@dataclass
class ParkIndex:
    layers: dict[str, Layer]

    def layer(self, kind: str) -> Layer:
        return self.layers[kind]


@dataclass
class IndexCache:
    """Per-park indexes and the fingerprint each was built from."""

    entries: dict[str, tuple[str, ParkIndex]] = field(default_factory=dict)
    builds: int = 0
    _building: dict[str, asyncio.Lock] = field(default_factory=dict)

    def building(self, park_id: str) -> asyncio.Lock:
        """The lock a park's build holds: the requests that find no index for the current
        fingerprint wait on it, and the first one builds (one build, not one per request
        arriving meanwhile)."""
        return self._building.setdefault(park_id, asyncio.Lock())

    def get(self, park_id: str, fingerprint: str) -> ParkIndex | None:
        entry = self.entries.get(park_id)
        return entry[1] if entry is not None and entry[0] == fingerprint else None

    def put(self, park_id: str, fingerprint: str, index: ParkIndex) -> None:
        if len(self.entries) >= MAX_CACHED_PARKS and park_id not in self.entries:
            self.entries.clear()
        self.entries[park_id] = (fingerprint, index)
        self.builds += 1
