"""Devices: create (with MQTT credentials), rotate credentials, update, delete, get, list.

The broker account is made after the row is written (so a duplicate id fails before the
broker is touched) and before the request commits; if the broker refuses, the request rolls
back and answers 503. If the transaction does not commit after the broker took the change
(the commit itself can fail), a compensation registered with ``on_rollback`` undoes it: a new
account is deleted, a deleted one is re-made with a password nobody knows (rotate the
credentials to use the device again), so a device never has an account without a row, nor a
row whose account vanished. Broker calls block, so they run in a worker thread.
"""

from __future__ import annotations

from typing import Any, Protocol

from anyio import to_thread
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.broker.accounts import AccountBroker
from app.broker.dynsec import DynsecError, device_username, new_password
from app.core.db import Compensation, on_rollback
from app.core.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.devices import links, repository
from app.devices.schemas import (
    DeviceCreate,
    DeviceCreated,
    DeviceFilters,
    DeviceRead,
    DeviceTwin,
    DeviceUpdate,
    MqttCredentials,
)
from app.parks.deps import ParkContext


class Accounts(Protocol):
    """What device creation needs of the broker: the AccountBroker, or a stand-in that
    collects the accounts to make them in one batch (the bulk import)."""

    def ensure_device(self, park_id: str, device_id: str, password: str) -> None: ...


def to_read(row: RowMapping) -> dict[str, Any]:
    values = dict(row)
    lon, lat = values.pop("lon"), values.pop("lat")
    values["location"] = None if lon is None else {"lon": lon, "lat": lat}
    return values


async def load(session: AsyncSession, ctx: ParkContext, device_id: str) -> RowMapping:
    """The device row, or 404."""
    row = await repository.get(session, ctx.park_id, device_id)
    if row is None:
        raise NotFound(f"device {device_id!r} not found in park {ctx.park_id!r}")
    return row


async def _broker_call(broker: AccountBroker | Accounts, method: str, *args: str) -> None:
    call = getattr(broker, method)
    try:
        if isinstance(broker, AccountBroker):  # blocks on the broker's answer
            await to_thread.run_sync(call, *args)
        else:
            call(*args)
    except DynsecError as exc:
        raise ServiceUnavailable(f"the MQTT broker did not take the change: {exc}") from exc


def _undo(broker: AccountBroker | Accounts, method: str, *args: str) -> Compensation:
    """A broker call to run if the request's transaction rolls back (``on_rollback``)."""

    async def compensate() -> None:
        if isinstance(broker, AccountBroker):  # the bulk import's stand-in has nothing to undo
            await to_thread.run_sync(getattr(broker, method), *args)

    return compensate


async def create(
    session: AsyncSession, *, ctx: ParkContext, data: DeviceCreate, broker: Accounts | None
) -> DeviceCreated:
    if not await repository.type_allowed(session, ctx.park_id, data.type):
        raise Unprocessable(f"type: unknown device type {data.type!r} (see /api/v1/device-types)")
    username = device_username(ctx.park_id, data.id) if broker else None
    location = data.location.model_dump() if data.location else {"lon": None, "lat": None}
    values = {
        **data.model_dump(exclude={"location"}),
        **location,
        "park_id": ctx.park_id,
        "mqtt_username": username,
    }
    await links.check_place(session, ctx, values, building_must_exist=False)
    await repository.insert(session, values)
    if data.parent_meter_id is not None:  # checked against the stored row: its type's counters
        await links.check_parent_meter(session, ctx, data.id, data.parent_meter_id)
        await repository.update(
            session, ctx.park_id, data.id, {"parent_meter_id": data.parent_meter_id}
        )
    password = None
    if broker is not None:
        password = new_password()
        on_rollback(session, _undo(broker, "delete_device", ctx.park_id, data.id))
        await _broker_call(broker, "ensure_device", ctx.park_id, data.id, password)
    row = await load(session, ctx, data.id)
    return DeviceCreated.model_validate({**to_read(row), "mqtt_password": password})


async def create_many(
    session: AsyncSession, *, ctx: ParkContext, items: list[DeviceCreate], accounts: bool
) -> list[tuple[str, str | None]]:
    """New devices in bulk (the seed of a large park): one INSERT for all, each checked as
    ``create`` checks it, except that the broker accounts are left to the caller, which makes
    them in bulk (app/broker/dynsec_file.py or ``DynsecClient.ensure_devices``). Returns each
    device's id and new MQTT password (None without ``accounts``). 422 if any row is refused."""
    rows, passwords = [], []
    for data in items:
        location = data.location.model_dump() if data.location else {"lon": None, "lat": None}
        username = device_username(ctx.park_id, data.id) if accounts else None
        rows.append(
            {**data.model_dump(exclude={"location", "parent_meter_id"}), **location,
             "mqtt_username": username}
        )  # fmt: skip
        passwords.append(new_password() if accounts else None)
    inserted = await repository.insert_many(session, ctx.park_id, rows)
    if inserted != len(rows):
        raise Unprocessable(
            f"{len(rows) - inserted} of {len(rows)} devices have an unknown type or space"
        )
    parents = [{"id": d.id, "parent": d.parent_meter_id} for d in items if d.parent_meter_id]
    if parents and (bad := await repository.set_parent_meters(session, ctx.park_id, parents)):
        raise Unprocessable(
            f"parent_meter_id: {len(bad)} devices cannot have the main meter given "
            f"(not energy meters sharing a counter, or a loop): {', '.join(bad[:10])}",
            field="parent_meter_id",
        )
    return [(data.id, password) for data, password in zip(items, passwords, strict=True)]


async def rotate_credentials(
    session: AsyncSession, *, ctx: ParkContext, device_id: str, broker: AccountBroker | None
) -> MqttCredentials:
    await load(session, ctx, device_id)
    if broker is None:
        raise Conflict(
            "MQTT credentials are managed outside parktwin (PARKTWIN_MQTT_CREDENTIALS=none)"
        )
    password = new_password()
    # ensure_device also recreates an account lost on the broker side.
    await _broker_call(broker, "ensure_device", ctx.park_id, device_id, password)
    return MqttCredentials(
        mqtt_username=device_username(ctx.park_id, device_id), mqtt_password=password
    )


async def update(
    session: AsyncSession, *, ctx: ParkContext, device_id: str, data: DeviceUpdate
) -> DeviceRead:
    row = await load(session, ctx, device_id)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise Unprocessable("name: cannot be null")
    await _check_links(session, ctx, device_id, row, changes)
    if "attributes" in changes and changes["attributes"] is None:
        changes["attributes"] = {}
    if "location" in changes:
        location = changes.pop("location") or {"lon": None, "lat": None}
        changes.update(location)
    await repository.update(session, ctx.park_id, device_id, changes)
    return DeviceRead.model_validate(to_read(await load(session, ctx, device_id)))


async def _check_links(
    session: AsyncSession,
    ctx: ParkContext,
    device_id: str,
    row: RowMapping,
    changes: dict[str, Any],
) -> None:
    """A new space fills in (or must agree with) the building; a new parent meter must be a
    meter of the same kind, not below this one."""
    if changes.get("space_id") is not None:
        place = {"space_id": changes["space_id"], "building_id": changes.get("building_id")}
        await links.check_place(session, ctx, place, building_must_exist=False)
        changes["building_id"] = place["building_id"]
    elif (
        "space_id" not in changes
        and changes.get("building_id", row["building_id"]) != row["building_id"]
    ):
        changes["space_id"] = None  # moving to another building leaves the room
    if changes.get("parent_meter_id") is not None:
        await links.check_parent_meter(session, ctx, device_id, changes["parent_meter_id"])


async def delete(
    session: AsyncSession, *, ctx: ParkContext, device_id: str, broker: AccountBroker | None
) -> None:
    await load(session, ctx, device_id)
    await repository.delete(session, ctx.park_id, device_id)
    if broker is not None:
        on_rollback(session, _undo(broker, "ensure_device", ctx.park_id, device_id, new_password()))
        await _broker_call(broker, "delete_device", ctx.park_id, device_id)


async def get(session: AsyncSession, *, ctx: ParkContext, device_id: str) -> DeviceTwin:
    row = await load(session, ctx, device_id)
    latest = await repository.latest_for_device(session, ctx.park_id, device_id, None)
    values = {r["metric"]: {"ts": r["time"], "value": r["value"]} for r in latest}
    return DeviceTwin.model_validate({**to_read(row), "latest": values})


async def list_(
    session: AsyncSession, *, ctx: ParkContext, filters: DeviceFilters, page: PageParams
) -> Page[DeviceRead]:
    after = page.after(1)
    rows = await repository.list_(
        session, ctx.park_id, filters.model_dump(), after[0] if after else None, page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [r["id"]])
    return Page[DeviceRead](
        items=[DeviceRead.model_validate(to_read(r)) for r in items], next_cursor=cursor
    )
