"""The shapes of impact zones: a circle stretched downwind (``calc``, gas and fire), or a toxic
release's initial isolation circle and protective action square (``toxic``, ERG 2024).
Each decides points exactly from their geodesic azimuth and distance from the source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from shapely.geometry import Polygon
from sqlalchemy import RowMapping

from app.emergency import calc, toxic


@dataclass(frozen=True)
class ZoneShape:
    """One zone: a circle stretched downwind (``calc``), or a toxic release's isolation
    circle plus protective square (``toxic.Corridor``)."""

    radius_m: float
    reach_m: float
    outer_m: float
    shape: str
    source: str | None
    downwind: float | None = None
    stretch: float = 1.0
    corridor: toxic.Corridor | None = None

    def contains(self, az: Any, dist: Any) -> Any:
        if self.corridor is not None:
            return self.corridor.contains(az, dist)
        if self.downwind is None or self.stretch <= 1.0:
            return dist <= self.radius_m + 1e-6
        along = np.cos(np.radians(az - self.downwind))
        factor = 1.0 + (self.stretch - 1.0) * np.maximum(0.0, along)
        return dist <= self.radius_m * factor + 1e-6

    def polygon(self, lon: float, lat: float) -> Polygon:
        if self.corridor is not None:
            return self.corridor.polygon(lon, lat)
        return calc.zone_polygon(lon, lat, self.radius_m, self.downwind, self.stretch)


def radial_zones(rule: RowMapping, downwind: float | None) -> list[ZoneShape]:
    stretch = float(rule["downwind_stretch"])
    shape = "circle" if downwind is None or stretch <= 1.0 else "stretched"
    return [
        ZoneShape(
            radius_m=r,
            reach_m=calc.max_reach_m(r, downwind, stretch),
            outer_m=calc.max_reach_m(r, downwind, stretch),
            shape=shape,
            source=rule["source"],
            downwind=downwind,
            stretch=stretch,
        )
        for r in sorted(float(x) for x in rule["radii_m"])
    ]


def toxic_zones(distances: RowMapping, downwind: float | None) -> list[ZoneShape]:
    """The isolation circle, then the circle with the protective square (ERG 2024)."""
    isolation, protective = float(distances["isolation_m"]), float(distances["protective_m"])
    source = f"{distances['source']}; {distances['spill_size']} spill, {distances['period']}"
    source += f", wind band {distances['wind_band']}"
    corridor = toxic.Corridor(isolation, protective, downwind)
    inner = toxic.Corridor(isolation, isolation, None)
    return [
        ZoneShape(isolation, isolation, isolation, "circle", source, corridor=inner),
        ZoneShape(
            isolation,
            corridor.reach_m(),
            corridor.outer_m(),
            "circle" if downwind is None else "corridor",
            source,
            downwind,
            corridor=corridor,
        ),
    ]
