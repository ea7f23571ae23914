"""The generated park as GeoJSON Features, the shape of the asset bulk import
(``POST /api/v1/parks/{park_id}/import/{kind}``): ``properties`` are the create-schema fields,
``geometry`` is the kind's geometry (parcels, buildings: Polygon; devices: Point = location).
"""

from __future__ import annotations

from typing import Any

from sensors_sim.layout import Park, polygon, to_lonlat

Feature = dict[str, Any]

KINDS = ("parcels", "buildings", "floors", "spaces", "enterprises", "leases", "devices")
"""In dependency order."""


def _feature(properties: dict[str, Any], geometry: dict[str, Any] | None = None) -> Feature:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _point(x: float, y: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": to_lonlat(x, y)}


def parcels(park: Park) -> list[Feature]:
    return [
        _feature({"id": p.id, "name": p.name, "land_use": p.land_use}, polygon(p.box.ring()))
        for p in park.parcels
    ]


def buildings(park: Park) -> list[Feature]:
    return [
        _feature(
            {
                "id": b.id,
                "name": b.name,
                "parcel_id": b.parcel_id,
                "floors": b.floors,
                "use": b.use,
            },
            polygon(b.box.ring()),
        )
        for b in park.buildings
    ]


def floors(park: Park) -> list[Feature]:
    return [
        _feature(
            {
                "building_id": b.id,
                "number": n,
                "name": f"{n}F",
                "area_m2": round(b.box.area, 1),
            }
        )
        for b in park.buildings
        for n in range(1, b.floors + 1)
    ]


def spaces(park: Park) -> list[Feature]:
    return [
        _feature(
            {
                "id": s.id,
                "building_id": s.building_id,
                "floor": s.floor,
                "name": s.name,
                "area_m2": s.area_m2,
                "status": "leased" if s.enterprise_id else "available",
            }
        )
        for s in park.spaces
    ]


def enterprises(park: Park) -> list[Feature]:
    return [
        _feature(
            {
                "id": e.id,
                "name": e.name,
                "credit_code": e.credit_code,
                "industry_code": e.industry.code,
                "above_scale": e.above_scale,
                "founded_on": e.founded_on.isoformat(),
                "contacts": e.contacts,
                "attributes": {"employees": e.employees},
            }
        )
        for e in park.enterprises
    ]


def leases(park: Park) -> list[Feature]:
    out = []
    for lease in park.leases:
        target = (
            {"space_id": lease.space_id} if lease.space_id else {"building_id": lease.building_id}
        )
        properties = {
            "id": lease.id,
            "enterprise_id": lease.enterprise_id,
            **target,
            "area_m2": lease.area_m2,
            "start_date": lease.start_date.isoformat(),
            "end_date": lease.end_date.isoformat(),
            "rent_yuan": lease.rent_yuan,
        }
        out.append(_feature(properties))
    return out


def devices(park: Park) -> list[Feature]:
    out = []
    for d in park.devices:
        properties: dict[str, Any] = {
            "id": d.id,
            "type": d.type,
            "name": d.name,
            "building_id": d.building_id,
            "enterprise_id": d.enterprise_id,
            "space_id": d.space_id,
            "parent_meter_id": d.parent_meter_id,
            "attributes": {"floor": d.floor, **d.attributes},
        }
        out.append(_feature(properties, _point(d.x, d.y)))
    return out


BUILDERS = {
    "parcels": parcels,
    "buildings": buildings,
    "floors": floors,
    "spaces": spaces,
    "enterprises": enterprises,
    "leases": leases,
    "devices": devices,
}


def features(park: Park, kind: str) -> list[Feature]:
    return BUILDERS[kind](park)
