"""Where an alarm is, for grouping it into an incident (app/emergency/jobs.py)."""

from __future__ import annotations

from app.emergency.jobs import incident_point

SQUARE = {"type": "Polygon", "coordinates": [[[120.0, 31.0], [120.002, 31.0], [120.002, 31.002],
                                              [120.0, 31.002], [120.0, 31.0]]]}  # fmt: skip


def test_the_detector_point_comes_first() -> None:
    alarm = {"lon": 120.5, "lat": 31.25, "footprint": SQUARE}
    assert incident_point(alarm) == (120.5, 31.25)


def test_else_the_building_centroid() -> None:
    x, y = incident_point({"lon": None, "lat": None, "footprint": SQUARE}) or (0.0, 0.0)
    # the square's centroid by hand: (120.0 + 120.002) / 2, (31.0 + 31.002) / 2
    assert round(x, 6) == 120.001
    assert round(y, 6) == 31.001


def test_an_empty_stored_footprint_has_no_point_and_does_not_raise() -> None:
    # a footprint written around the API's checks; GEOS raised "getX called on empty Point",
    # which failed the incident job for every park
    empty = {"type": "Polygon", "coordinates": []}
    assert incident_point({"lon": None, "lat": None, "footprint": empty}) is None
    assert incident_point({"lon": None, "lat": None, "footprint": None}) is None
