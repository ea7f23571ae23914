"""The dashboard map at a zoom level and within a box: what a browser can draw at 100,000
devices (``GET .../map?zoom=&bbox=``; without either the map is the full one, service.map_).

- ``bbox`` (west, south, east, north) keeps the parcels and buildings whose geometry meets
  the box and the devices inside it; the park's boundary is always there.
- ``zoom`` (web-map levels, 0..22): geometry is simplified to a pixel at that zoom
  (``shapely.simplify``, topology kept, so no polygon vanishes or self-crosses); below
  ``DEVICE_ZOOM`` devices are aggregated into ``CLUSTER_PX``-pixel grid cells, one
  ``device_cluster`` point per non-empty cell at the mean of its devices, with the worst status
  and the counts per status of the devices in it. From ``DEVICE_ZOOM`` on, devices are drawn
  one by one, as in the full map.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import shapely
from shapely.geometry import mapping

from app.assets.twin.index import Layer
from app.assets.twin.status import Rollup

DEVICE_ZOOM = 16
"""From this zoom on, one feature per device (about 2.4 m a pixel at 30° N)."""
CLUSTER_PX = 64
"""The cluster grid's cell, in pixels at the zoom asked."""
MAX_ZOOM = 22


def pixel_degrees(zoom: int) -> float:
    """Degrees of longitude a 256-pixel web-map tile's pixel spans at ``zoom``."""
    return 360.0 / (256 << zoom)


def cell_degrees(zoom: int) -> float:
    return pixel_degrees(zoom) * CLUSTER_PX


def in_box(layer: Layer, box: tuple[float, float, float, float] | None) -> list[int]:
    """Positions of the layer's items whose geometry meets the box (all without one)."""
    if box is None:
        return list(range(len(layer.ids)))
    found = layer.tree.query(shapely.box(*box), predicate="intersects")
    return sorted(int(i) for i in found)


def simplified(layer: Layer, position: int, zoom: int | None) -> dict[str, Any]:
    """The item's GeoJSON geometry, simplified to a pixel at ``zoom`` (as stored without)."""
    stored: dict[str, Any] = layer.props[position]["geometry"]
    if zoom is None:
        return stored
    shape = shapely.simplify(
        layer.geometries[position], pixel_degrees(zoom), preserve_topology=True
    )
    return dict(mapping(shape))


def clusters(cells: Sequence[Any], zoom: int) -> list[dict[str, Any]]:
    """``device_cluster`` features from rows ``(ix, iy, status, n, sum_lon, sum_lat,
    first_id)`` (one per cell and status), in cell order."""
    grouped: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for row in cells:
        grouped[(row["ix"], row["iy"])].append(row)
    features = []
    for (ix, iy), rows in sorted(grouped.items()):
        rolled, count = Rollup(), sum(int(r["n"]) for r in rows)
        for r in rows:
            rolled.add(r["status"], int(r["n"]))
        lon = sum(float(r["sum_lon"]) for r in rows) / count
        lat = sum(float(r["sum_lat"]) for r in rows) / count
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
                "properties": {
                    "kind": "device_cluster",
                    "id": f"z{zoom}:{ix}:{iy}",
                    "count": count,
                    "first_device_id": min(r["first_id"] for r in rows),
                    **rolled.as_dict(),
                },
            }
        )
    return features
