"""The generated demo park: sizes, valid identities, geometry that the asset rules accept."""

from __future__ import annotations

import importlib
from collections import Counter

import pytest
from shapely.geometry import Point, Polygon

from app.assets.credit_code import is_valid
from sensors_sim.catalogue import METRICS, TYPES
from sensors_sim.features import KINDS, features
from sensors_sim.layout import Park, generate, to_lonlat


@pytest.fixture(scope="module")
def park() -> Park:
    return generate("demo", 1, 2000)


def test_sizes(park: Park) -> None:
    assert len(park.parcels) == 12
    assert len(park.buildings) == 30
    assert len(park.enterprises) == 40
    assert len(park.devices) == 2000
    assert set(Counter(d.type for d in park.devices)) == set(TYPES)
    assert len({e.industry.code for e in park.enterprises}) >= 5
    assert len({d.id for d in park.devices}) == 2000


def test_same_seed_same_park() -> None:
    assert features(generate("demo", 7, 300), "devices") == features(
        generate("demo", 7, 300), "devices"
    )
    assert features(generate("demo", 7, 300), "devices") != features(
        generate("demo", 8, 300), "devices"
    )


def test_credit_codes_pass_the_check_character(park: Park) -> None:
    codes = [e.credit_code for e in park.enterprises]
    assert all(is_valid(code) for code in codes), codes
    assert len(set(codes)) == len(codes)


def _shape(ring: list[list[float]]) -> Polygon:
    return Polygon(ring)


def test_geometry_nests_and_never_overlaps(park: Park) -> None:
    boundary = _shape(park.boundary)
    parcels = {p.id: _shape(p.box.ring()) for p in park.parcels}
    assert boundary.is_valid
    for shape in parcels.values():
        assert shape.is_valid and boundary.contains(shape)
    shapes = list(parcels.values())
    for i, a in enumerate(shapes):
        for b in shapes[i + 1 :]:
            assert not a.intersects(b)
    footprints = {}
    for building in park.buildings:
        footprint = _shape(building.box.ring())
        assert footprint.is_valid and parcels[building.parcel_id].contains(footprint)
        footprints[building.id] = footprint
    for device in park.devices:
        assert footprints[device.building_id].contains(Point(to_lonlat(device.x, device.y)))


def test_meter_tree_and_leases(park: Park) -> None:
    ids = {d.id: d for d in park.devices}
    for device in park.devices:
        if device.parent_meter_id:
            parent = ids[device.parent_meter_id]
            assert parent.attributes.get("main_meter")
            assert parent.building_id == device.building_id
            assert parent.index < device.index  # importable in list order
    leased = [lease for lease in park.leases if lease.space_id]
    assert len({lease.space_id for lease in leased}) == len(leased)  # one lease per space
    assert all(lease.end_date > lease.start_date for lease in park.leases)


def test_scales_to_100k_devices() -> None:
    park = generate("big", 1, 100_000)
    assert len(park.devices) == 100_000
    assert len({d.id for d in park.devices}) == 100_000


def test_a_tiny_park_still_has_every_type() -> None:
    park = generate("tiny", 1, len(TYPES))
    assert sorted(d.type for d in park.devices) == sorted(TYPES)


def test_features_for_every_kind(park: Park) -> None:
    for kind in KINDS:
        items = features(park, kind)
        assert items and all(f["type"] == "Feature" for f in items)
    device = features(park, "devices")[0]
    assert device["geometry"]["type"] == "Point"


def test_catalogue_matches_the_migrated_one() -> None:
    foundation = importlib.import_module("migrations.versions.20261128_0001_foundation")
    migrated = {t: tuple(m[0] for m in metrics) for t, _d, _s, metrics in foundation.CATALOGUE}
    assert migrated == METRICS
