"""Bodies into records (pure): a GeoJSON FeatureCollection or CSV, one record per row.

A record is the kind's create-schema fields as a dict. From GeoJSON: a feature's
``properties`` (its ``id`` too, when the properties have none) and its ``geometry`` placed in
the kind's geometry field (a Point becomes ``location``). From CSV: the header names the
fields; an empty cell is a field left out; a cell starting with ``{`` or ``[`` is JSON (GeoJSON
geometries, attributes, contacts); ``lon``/``lat`` columns make a ``location``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import IO, Any

import orjson

from app.core.limits import TableLimits, TableTooLarge

Record = dict[str, Any]
POINT_FIELD = "location"


class BodyError(ValueError):
    """The body as a whole cannot be read (not a FeatureCollection, not CSV)."""


class RowError(ValueError):
    """One row cannot be made into a record; ``field`` says where, if it can."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.field = reason, field


def feature_collection(body: bytes, limits: TableLimits) -> list[Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise BodyError('a GeoJSON FeatureCollection is needed ({"type": "FeatureCollection"})')
    features = document.get("features")
    if not isinstance(features, list):
        raise BodyError("features: must be a list")
    try:
        limits.check_rows(len(features))
    except TableTooLarge as exc:
        raise BodyError(str(exc)) from exc
    return features


def _cell(value: str) -> Any:
    value = value.strip()
    if value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value  # the schema says what is wrong with it
    return value


def csv_rows(source: IO[bytes], limits: TableLimits) -> list[Any]:
    """One dict per data row (the header is not a row), read as a stream from ``source``
    and held to ``limits``; a row with more cells than the header keeps them under ``None``
    for ``record`` to refuse."""
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(limits.lines(text), strict=True)
    rows: list[Any] = []
    try:
        if not reader.fieldnames:
            raise BodyError("CSV without a header row")
        limits.check_columns(len(reader.fieldnames))
        for raw in reader:
            limits.check_rows(len(rows) + 1)
            rows.append(_csv_row(raw, len(rows) + 1, limits))
    except UnicodeDecodeError as exc:
        raise BodyError(f"CSV must be UTF-8: {exc}") from exc
    except csv.Error as exc:
        raise BodyError(f"CSV line {reader.line_num}: {exc}") from exc
    except TableTooLarge as exc:
        raise BodyError(str(exc)) from exc
    finally:
        text.detach()
    return rows


def _csv_row(raw: dict[str | None, Any], number: int, limits: TableLimits) -> dict[str | None, Any]:
    row: dict[str | None, Any] = {}
    for key, value in raw.items():
        if key is None:
            row[None] = value
        elif value is not None and value.strip() != "":
            limits.check_cell(number, value)
            row[key.strip()] = _cell(value)
    return row


def _point(geometry: Any) -> dict[str, Any]:
    if not isinstance(geometry, Mapping) or geometry.get("type") != "Point":
        raise RowError("a Point is needed here", "geometry")
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, Sequence) or len(coordinates) < 2:
        raise RowError("a Point needs [lon, lat]", "geometry")
    return {"lon": coordinates[0], "lat": coordinates[1]}


def _place_geometry(values: Record, geometry: Any, field: str | None) -> None:
    if geometry is None:
        return
    if field is None:
        raise RowError("this kind takes no geometry", "geometry")
    if field in values:
        return  # given as a property too: the property wins
    values[field] = _point(geometry) if field == POINT_FIELD else geometry


def _lon_lat(values: Record) -> None:
    lon, lat = values.pop("lon", None), values.pop("lat", None)
    if lon is None and lat is None:
        return
    if lon is None or lat is None:
        raise RowError("lon and lat go together", "lon" if lon is None else "lat")
    values.setdefault(POINT_FIELD, {"lon": lon, "lat": lat})


def record(item: Any, geometry_field: str | None) -> Record:
    """The create-schema fields of one feature or CSV row, or RowError."""
    if not isinstance(item, Mapping):
        raise RowError("a row must be an object")
    if item.get("type") == "Feature":
        properties = item.get("properties") or {}
        if not isinstance(properties, Mapping):
            raise RowError("properties: must be an object", "properties")
        values: Record = dict(properties)
        if "id" not in values and item.get("id") is not None:
            values["id"] = item["id"]
        geometry = item.get("geometry")
    else:
        if None in item:
            raise RowError("more cells than the header has columns")
        values = dict(item)
        geometry = values.pop("geometry", None) if geometry_field != "geometry" else None
    _place_geometry(values, geometry, geometry_field)
    if geometry_field == POINT_FIELD:
        _lon_lat(values)
    return values
