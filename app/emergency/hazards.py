"""Major hazard sources (重大危险源): installations with their hazardous-chemical inventories,
assessed by GB 18218-2018 (``app.emergency.hazard``): Σ q/Q, whether a major hazard source,
α, R and the level. Also their map features and the points the impact analysis measures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotFound, Unprocessable
from app.emergency import hazard
from app.emergency import hazard_repository as repo
from app.emergency.repository import enterprise_name
from app.emergency.safety_schemas import (
    ChemicalRead,
    HazardAssessment,
    HazardSourceCreate,
    HazardSourceRead,
    InventoryRead,
)
from app.parks.deps import ParkContext


def _items(row: RowMapping) -> list[hazard.Item]:
    return [
        hazard.Item(i["chemical"], float(i["quantity_t"]), float(i["critical_t"]), float(i["beta"]))
        for i in row["inventory"]
    ]


def assessment(row: RowMapping) -> hazard.Assessment:
    """The bare assessment (the impact analysis needs no more)."""
    return hazard.assess(_items(row), int(row["exposed_population"]))


def assess(row: RowMapping) -> tuple[list[InventoryRead], HazardAssessment]:
    """The source's items with q/Q and β·q/Q, and its assessment."""
    items = _items(row)
    found = hazard.assess(items, int(row["exposed_population"]))
    inventory = [
        InventoryRead(
            **{k: raw.get(k) for k in ("chemical", "name_zh", "quantity_t", "source")},
            critical_t=item.critical_t,
            beta=item.beta,
            ratio=item.ratio,
            beta_ratio=item.beta * item.ratio,
        )
        for raw, item in zip(row["inventory"], items, strict=True)
    ]
    assessment = HazardAssessment(
        sum_ratio=found.sum_ratio,
        is_major=found.is_major,
        alpha=found.alpha,
        r=found.r,
        level=found.level,
        level_zh=found.level_zh,
        source=f"{hazard.SOURCE} §4.2.2, §4.3, Tables 5 and 6",
    )
    return inventory, assessment


def read(row: RowMapping) -> HazardSourceRead:
    inventory, assessment = assess(row)
    return HazardSourceRead(
        **{k: row[k] for k in ("id", "park_id", "name", "unit_kind", "enterprise_id")},
        location={"lon": row["lon"], "lat": row["lat"]},
        exposed_population=row["exposed_population"],
        inventory=inventory,
        assessment=assessment,
        updated_at=row["updated_at"],
    )


async def chemicals(session: AsyncSession, *, ctx: ParkContext) -> list[ChemicalRead]:
    return [
        ChemicalRead.model_validate(dict(r)) for r in await repo.catalogue(session, ctx.park_id)
    ]


async def _check(session: AsyncSession, ctx: ParkContext, data: HazardSourceCreate) -> None:
    """Every chemical known to the catalogue, or given with its own Q, β and basis."""
    known = {r["chemical"] for r in await repo.catalogue(session, ctx.park_id)}
    for item in data.inventory:
        own = item.critical_t is not None and item.beta is not None and bool(item.basis)
        if item.chemical not in known and not own:
            raise Unprocessable(
                f"inventory: {item.chemical!r} is not in the catalogue; give critical_t, beta "
                f"and basis (GB 18218-2018 Table 2 and Table 4); known: {sorted(known)}"
            )
    if data.enterprise_id and not await enterprise_name(session, ctx.park_id, data.enterprise_id):
        raise Unprocessable(f"enterprise_id: no enterprise {data.enterprise_id!r} in this park")


async def save(
    session: AsyncSession, *, ctx: ParkContext, data: HazardSourceCreate, replace: bool
) -> HazardSourceRead:
    """Create (409 when the id is taken) or, ``replace``, create or overwrite a source."""
    await _check(session, ctx, data)
    values: dict[str, Any] = data.model_dump(exclude={"location", "inventory"})
    values |= {"lon": data.location.lon, "lat": data.location.lat}
    if not await repo.upsert_source(session, ctx.park_id, values, replace):
        raise Conflict(f"hazard source {data.id!r} already exists in park {ctx.park_id!r}")
    items = [i.model_dump() for i in data.inventory]
    await repo.replace_inventory(session, ctx.park_id, data.id, items)
    return await get(session, ctx=ctx, source_id=data.id)


async def get(session: AsyncSession, *, ctx: ParkContext, source_id: str) -> HazardSourceRead:
    rows = await repo.sources(session, ctx.park_id, source_id)
    if not rows:
        raise NotFound(f"hazard source {source_id!r} not found in park {ctx.park_id!r}")
    return read(rows[0])


async def list_(session: AsyncSession, *, ctx: ParkContext) -> list[HazardSourceRead]:
    return [read(r) for r in await repo.sources(session, ctx.park_id)]


async def delete(session: AsyncSession, *, ctx: ParkContext, source_id: str) -> None:
    if not await repo.delete_source(session, ctx.park_id, source_id):
        raise NotFound(f"hazard source {source_id!r} not found in park {ctx.park_id!r}")


async def map_features(session: AsyncSession, park_id: str) -> list[dict[str, Any]]:
    """The park's hazard sources as GeoJSON points, ``properties.kind`` ``hazard_source`` and
    ``properties.status`` ``major`` (a 重大危险源) or ``below_threshold``."""
    features = []
    for row in await repo.sources(session, park_id):
        _inventory, a = assess(row)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                "properties": {
                    "kind": "hazard_source",
                    "id": row["id"],
                    "name": row["name"],
                    "status": "major" if a.is_major else "below_threshold",
                    "enterprise_id": row["enterprise_id"],
                    "level": a.level,
                    "level_zh": a.level_zh,
                    "r": a.r,
                    "sum_ratio": a.sum_ratio,
                },
            }
        )
    return features
