"""The twin: status roll-up of the park, its parcels and buildings; the dashboard map; the
building view (floors, spaces, devices and their newest values in one answer).

Statuses are read live (open alarms, device connectivity, equipment under maintenance);
geometry comes from the park's spatial index. A leaf is in a building when it names the
building or a space of it; a parcel holds its buildings' leaves and the located leaves in no
building whose point falls inside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.land import checks
from app.assets.land import repository as land
from app.assets.land.repository import SPACE
from app.assets.twin import mapview, repository, spatial
from app.assets.twin.index import IndexCache, ParkIndex
from app.assets.twin.repository import Box
from app.assets.twin.schemas import (
    AssetStatus,
    BuildingTwin,
    MapDevices,
    ParkTwin,
    TwinFloor,
    TwinLeaf,
    TwinSpace,
)
from app.assets.twin.status import Rollup, rollup
from app.core.appstate import MapLayer
from app.parks.deps import ParkContext

Leaf = Mapping[Any, Any]
"""A leaf's row: a plain dict (``repository.leaves``) or a ``RowMapping`` (the counted ones)."""


def parcels_of(index: ParkIndex, leaves: Sequence[Leaf]) -> list[str | None]:
    """The parcel each leaf is in: its building's, or else the one holding its point."""
    buildings, parcels = index.layer("building"), index.layer("parcel")
    result: list[str | None] = []
    loose: list[int] = []
    for n, leaf in enumerate(leaves):
        at = buildings.positions.get(leaf["building_id"])
        result.append(None if at is None else buildings.props[at]["parcel_id"])
        if at is None and leaf["lon"] is not None:
            loose.append(n)
    held = parcels.containing_many(
        [leaves[n]["lon"] for n in loose], [leaves[n]["lat"] for n in loose]
    )
    for position, item in held.items():
        result[loose[position]] = parcels.ids[item]
    return result


def rollups(
    index: ParkIndex, leaves: Sequence[Leaf]
) -> tuple[Rollup, dict[str, Rollup], dict[str, Rollup]]:
    """The park's, each parcel's and each building's roll-up, from leaves or from counted
    leaves (``repository.leaf_counts``: a row stands for ``n`` leaves)."""
    park = Rollup()
    parcels: dict[str, Rollup] = defaultdict(Rollup)
    buildings: dict[str, Rollup] = defaultdict(Rollup)
    known = index.layer("building").positions
    for leaf, parcel_id in zip(leaves, parcels_of(index, leaves), strict=True):
        status, n = leaf["status"], int(leaf.get("n", 1))
        park.add(status, n)
        if leaf["building_id"] in known:
            buildings[leaf["building_id"]].add(status, n)
        if parcel_id is not None:
            parcels[parcel_id].add(status, n)
    return park, parcels, buildings


async def _state(
    session: AsyncSession, ctx: ParkContext, cache: IndexCache
) -> tuple[ParkIndex, Sequence[Leaf], Rollup, dict[str, Rollup], dict[str, Rollup]]:
    index = await spatial.index_for(session, ctx, cache)
    leaves = await repository.leaves(session, ctx.park_id)
    return index, leaves, *rollups(index, leaves)


async def _counted(
    session: AsyncSession, ctx: ParkContext, cache: IndexCache
) -> tuple[ParkIndex, Rollup, dict[str, Rollup], dict[str, Rollup]]:
    """The roll-ups from leaves counted in SQL: one row per building and status, not one per
    device (100,000 devices: about 1,000 buildings x a few statuses)."""
    index = await spatial.index_for(session, ctx, cache)
    return index, *rollups(index, await repository.leaf_counts(session, ctx.park_id))


async def park_twin(session: AsyncSession, *, ctx: ParkContext, cache: IndexCache) -> ParkTwin:
    index, park, parcels, buildings = await _counted(session, ctx, cache)

    def statuses(kind: str, rolled: dict[str, Rollup]) -> list[AssetStatus]:
        layer = index.layer(kind)
        return [
            AssetStatus(
                id=i,
                name=p["name"],
                parcel_id=p.get("parcel_id"),
                **rolled.get(i, Rollup()).as_dict(),
            )
            for i, p in zip(layer.ids, layer.props, strict=True)
        ]

    return ParkTwin(
        park_id=ctx.park_id,
        parcels=statuses("parcel", parcels),
        buildings=statuses("building", buildings),
        **park.as_dict(),
    )


def _feature(geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


async def map_(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    cache: IndexCache,
    layers: Sequence[MapLayer] = (),
) -> dict[str, Any]:
    """GeoJSON FeatureCollection: the park's boundary, parcels, buildings, located devices and
    hazard sources (重大危险源, owned by app.emergency.hazards), each with ``properties.kind``
    and ``properties.status``."""
    index, leaves, park, parcels, buildings = await _state(session, ctx, cache)
    boundary = await land.park_boundary(session, ctx.park_id)
    features = [_feature(boundary, kind="park", id=ctx.park_id, **park.as_dict())]
    for kind, rolled in (("parcel", parcels), ("building", buildings)):
        layer = index.layer(kind)
        for item, props in zip(layer.ids, layer.props, strict=True):
            extra = {k: v for k, v in props.items() if k != "geometry"}
            summary = rolled.get(item, Rollup()).as_dict()
            features.append(_feature(props["geometry"], kind=kind, id=item, **extra, **summary))
    features += [
        _device_feature(leaf)
        for leaf in leaves
        if leaf["kind"] == "device" and leaf["lon"] is not None
    ]
    for extra_layer in layers:  # e.g. emergency's hazard sources (重大危险源), wired by create_app
        features += await extra_layer(session, ctx.park_id)
    return {"type": "FeatureCollection", "features": features}


def _device_feature(leaf: Leaf) -> dict[str, Any]:
    point = {"type": "Point", "coordinates": [leaf["lon"], leaf["lat"]]}
    return _feature(
        point,
        kind="device",
        id=leaf["id"],
        name=leaf["name"],
        type=leaf["type"],
        building_id=leaf["building_id"],
        status=leaf["status"],
        connectivity=leaf["connectivity"],
    )


async def map_view(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    cache: IndexCache,
    layers: Sequence[MapLayer] = (),
    zoom: int | None,
    box: Box | None,
    devices: MapDevices = "all",
) -> dict[str, Any]:
    """The map at ``zoom`` within ``box`` (app/assets/twin/mapview.py): simplified geometry,
    devices clustered below ``DEVICE_ZOOM``, or with ``devices="alarmed"`` only the devices
    with an open alarm, one by one at any zoom; the roll-ups counted in SQL (every device)."""
    index, park, parcels, buildings = await _counted(session, ctx, cache)
    boundary = await land.park_boundary(session, ctx.park_id)
    features = [_feature(boundary, kind="park", id=ctx.park_id, **park.as_dict())]
    for kind, rolled in (("parcel", parcels), ("building", buildings)):
        layer = index.layer(kind)
        for n in mapview.in_box(layer, box):
            extra = {k: v for k, v in layer.props[n].items() if k != "geometry"}
            summary = rolled.get(layer.ids[n], Rollup()).as_dict()
            geometry = mapview.simplified(layer, n, zoom)
            features.append(_feature(geometry, kind=kind, id=layer.ids[n], **extra, **summary))
    if devices == "all" and zoom is not None and zoom < mapview.DEVICE_ZOOM:
        cells = await repository.device_cells(session, ctx.park_id, mapview.cell_degrees(zoom), box)
        features += mapview.clusters(cells, zoom)
    else:
        alarmed = devices == "alarmed"
        rows = await repository.devices_in_box(session, ctx.park_id, box, alarmed=alarmed)
        features += [_device_feature(r) for r in rows]
    for extra_layer in layers:
        features += await extra_layer(session, ctx.park_id)
    return {"type": "FeatureCollection", "features": features}


def _leaf(row: Leaf, latest: dict[str, dict[str, Any]]) -> TwinLeaf:
    return TwinLeaf.model_validate(
        {
            **{k: row[k] for k in ("kind", "id", "name", "type", "status", "connectivity")},
            "last_seen_at": row["last_seen_at"],
            "space_id": row["space_id"] if row["kind"] != "space" else None,
            "latest": latest.get(row["id"], {}) if row["kind"] == "device" else {},
        }
    )


def _floor_numbers(floors: Sequence[RowMapping], spaces: Iterable[RowMapping]) -> list[int | None]:
    numbers: set[int | None] = {f["number"] for f in floors} | {s["floor"] for s in spaces}
    return sorted(numbers, key=lambda n: (n is None, n or 0))


async def building_twin(
    session: AsyncSession, *, ctx: ParkContext, building_id: str
) -> BuildingTwin:
    building = await checks.building(session, ctx, building_id)
    leaves = await repository.leaves(session, ctx.park_id, building_id)
    spaces = await land.list_all(session, SPACE, ctx.park_id, building_id=building_id)
    floors = await repository.floors(session, ctx.park_id, building_id)
    device_ids = [r["id"] for r in leaves if r["kind"] == "device"]
    latest: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in await repository.latest_values(session, ctx.park_id, device_ids):
        latest[r["device_id"]][r["metric"]] = {"ts": r["time"], "value": r["value"]}

    by_space: dict[str | None, list[Leaf]] = defaultdict(list)
    for leaf in leaves:
        by_space[leaf["space_id"]].append(leaf)

    def space_twin(space: RowMapping) -> TwinSpace:
        own = by_space.get(space["id"], [])
        return TwinSpace(
            id=space["id"],
            name=space["name"],
            floor=space["floor"],
            area_m2=space["area_m2"],
            space_status=space["status"],
            devices=[_leaf(r, latest) for r in own if r["kind"] != "space"],
            **rollup(r["status"] for r in own).as_dict(),
        )

    floor_rows = {f["number"]: f for f in floors}
    twin_floors = []
    for number in _floor_numbers(floors, spaces):
        on_floor = [s for s in spaces if s["floor"] == number]
        row = floor_rows.get(number) if number is not None else None
        statuses = [r["status"] for s in on_floor for r in by_space.get(s["id"], [])]
        twin_floors.append(
            TwinFloor(
                number=number,
                name=row["name"] if row else None,
                area_m2=row["area_m2"] if row else None,
                spaces=[space_twin(s) for s in on_floor],
                **rollup(statuses).as_dict(),
            )
        )
    space_ids = {s["id"] for s in spaces}
    loose = [r for r in leaves if r["kind"] != "space" and r["space_id"] not in space_ids]
    return BuildingTwin(
        id=building["id"],
        name=building["name"],
        parcel_id=building["parcel_id"],
        floors_above_ground=building["floors"],
        use=building["use"],
        area_m2=building["area_m2"],
        footprint=building["footprint"],
        floors=twin_floors,
        devices=[_leaf(r, latest) for r in loose],
        **rollup(r["status"] for r in leaves).as_dict(),
    )
