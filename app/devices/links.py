"""Checks of what devices and equipment point at: spaces (with their building), buildings,
devices, and the parent meter of a sub-meter.

A sub-meter and its parent meter must both be energy meters that share a counter metric
(same name and unit, e.g. ``energy_kwh`` in kWh), and the links may not loop.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Unprocessable
from app.devices import links_repository as repository
from app.parks.deps import ParkContext


async def check_place(
    session: AsyncSession,
    ctx: ParkContext,
    values: dict[str, Any],
    *,
    building_must_exist: bool = True,
) -> None:
    """The space (and building) exist; a space fills in its building, and must agree with one
    given. Devices predate the building register, so for them a building alone is not
    checked (``building_must_exist=False``)."""
    space_id, building_id = values.get("space_id"), values.get("building_id")
    if space_id is not None:
        in_building = await repository.space_building(session, ctx.park_id, space_id)
        if in_building is None:
            raise Unprocessable(f"space {space_id!r} not found in this park", field="space_id")
        if building_id is None:
            values["building_id"] = in_building
        elif building_id != in_building:
            raise Unprocessable(
                f"space {space_id!r} is in building {in_building!r}, not {building_id!r}",
                field="building_id",
            )
    elif (
        building_must_exist
        and building_id is not None
        and not await repository.exists(session, "building", ctx.park_id, building_id)
    ):
        raise Unprocessable(f"building {building_id!r} not found in this park", field="building_id")


async def check_device(session: AsyncSession, ctx: ParkContext, device_id: str | None) -> None:
    if device_id is not None and not await repository.exists(
        session, "device", ctx.park_id, device_id
    ):
        raise Unprocessable(f"device {device_id!r} not found in this park", field="device_id")


def counters(row: RowMapping) -> set[tuple[str, str]]:
    """A meter's counter metrics as (name, unit) pairs."""
    return set(zip(row["counters"], row["units"], strict=True))


def _shared_counter(child: RowMapping, parent: RowMapping) -> None:
    field = "parent_meter_id"
    for row in (child, parent):
        if row["domain"] != "energy" or not counters(row):
            raise Unprocessable(
                f"device {row['id']!r} ({row['type']}) is not an energy meter with a counter",
                field=field,
            )
    if not counters(child) & counters(parent):
        raise Unprocessable(
            f"meter {child['id']!r} ({child['type']}) and {parent['id']!r} ({parent['type']}) "
            "measure no counter in common",
            field=field,
        )


async def check_parent_meter(
    session: AsyncSession, ctx: ParkContext, device_id: str, parent_id: str | None
) -> None:
    """``parent_id`` may be ``device_id``'s main meter (the device row must exist already)."""
    if parent_id is None:
        return
    field = "parent_meter_id"
    if parent_id == device_id:
        raise Unprocessable("a meter cannot be its own parent meter", field=field)
    parent = await repository.meter(session, ctx.park_id, parent_id)
    if parent is None:
        raise Unprocessable(f"meter {parent_id!r} not found in this park", field=field)
    child = await repository.meter(session, ctx.park_id, device_id)
    assert child is not None
    _shared_counter(child, parent)
    if device_id in await repository.ancestors(session, ctx.park_id, parent_id):
        raise Unprocessable(
            f"meter {parent_id!r} is below {device_id!r} in the meter tree: that would loop",
            field=field,
        )
