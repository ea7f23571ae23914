"""``import_features``: a kind's rows validated in full, applied all-or-nothing.

1. Every row is made into a record (parse.py) and checked against the kind's create schema;
   keys repeated within the import are refused.
2. Inside one SAVEPOINT for the whole import, each valid row is applied through the kind's own
   service, in a SAVEPOINT of its own: ``update`` when the key exists (the fields given
   replace those stored; the others stay), else ``create``. Re-running an import is therefore
   idempotent. A row the service refuses (geometry, references, overlaps) is recorded and
   rolled back, and the next row goes on, so one answer lists every bad row.
3. Any bad row, or a dry run, rolls the whole import back; otherwise it is kept (the caller's
   transaction commits it).

Devices go through the device service like ``POST .../devices``; their broker accounts are
collected and made in batches after every row has passed (one broker save per batch, and no
accounts for an import that is refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from anyio import to_thread
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.imports import parse, repository
from app.assets.imports.kinds import KINDS, Key, Kind
from app.assets.imports.schemas import DeviceCredentials, ImportResult, ImportWarning
from app.assets.imports.shift import shift_warnings
from app.broker.accounts import AccountBroker, account_broker
from app.broker.dynsec import DynsecError
from app.core.config import get_settings
from app.core.db import Compensation, on_rollback
from app.core.errors import AppError, ServiceUnavailable, Unprocessable
from app.parks.deps import ParkContext

BROKER_BATCH = 25  # devices per broker message: at 2,000 accounts a command takes ~20 ms
FROM_SETTINGS: Literal["settings"] = "settings"


class ImportRejected(Unprocessable):
    slug, title = "import-rejected", "Import rejected"


def problem(row: int | None, field_name: str | None, reason: str) -> dict[str, Any]:
    return {"row": row, "field": field_name, "reason": reason}


@dataclass
class DeferredAccounts:
    """Stands in for the broker during the import: remembers the accounts to make."""

    accounts: list[tuple[str, str]] = field(default_factory=list)

    def ensure_device(self, park_id: str, device_id: str, password: str) -> None:
        self.accounts.append((device_id, password))


@dataclass
class Checked:
    rows: list[tuple[int, Key, BaseModel]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    ignored: set[str] = field(default_factory=set)


def _pydantic_problems(row: int, exc: ValidationError) -> list[dict[str, Any]]:
    return [
        problem(
            row,
            ".".join(str(p) for p in e["loc"]) or None,
            str(e["msg"]).removeprefix("Value error, "),
        )
        for e in exc.errors()
    ]


def check_rows(kind: Kind, features: Sequence[Any]) -> Checked:
    """Records validated against the kind's create schema; keys unique within the import."""
    checked, seen = Checked(), dict[Key, int]()
    fields = kind.create_schema.model_fields
    for row, item in enumerate(features, start=1):
        try:
            values = parse.record(item, kind.geometry)
            data = kind.create_schema.model_validate(values)
        except parse.RowError as exc:
            checked.errors.append(problem(row, exc.field, exc.reason))
            continue
        except ValidationError as exc:
            checked.errors.extend(_pydantic_problems(row, exc))
            continue
        checked.ignored.update(k for k in values if k not in fields)
        key = kind.key_of(data.model_dump())
        if key in seen:
            reason = f"{'/'.join(map(str, key))} is also row {seen[key]}"
            checked.errors.append(problem(row, kind.key[-1], reason))
            continue
        seen[key] = row
        checked.rows.append((row, key, data))
    return checked


def _as_update(kind: Kind, data: BaseModel) -> tuple[BaseModel, dict[str, Any]]:
    """The create fields given, minus the key, as the kind's update; and the fields given
    that no update can change (a device's type)."""
    given = data.model_dump(exclude_unset=True, exclude=set(kind.key))
    fields = kind.update_schema.model_fields
    update = kind.update_schema.model_validate({k: v for k, v in given.items() if k in fields})
    return update, {k: v for k, v in given.items() if k not in fields}


def _check_fixed(kind: Kind, key: Key, fixed: dict[str, Any], stored: dict[str, Any]) -> None:
    """Refuse a row that would change a field its kind keeps (rather than ignore it)."""
    for name, value in fixed.items():
        if stored.get(name) != value:
            raise Unprocessable(
                f"{name}: {kind.name} keep their {name} ({stored.get(name)!r}); delete "
                f"{key[0]!r} first to import it as {value!r}",
                field=name,
            )


@dataclass
class Applied:
    created: int = 0
    updated: int = 0
    credentials: list[DeviceCredentials] = field(default_factory=list)


async def _apply_row(
    session: AsyncSession,
    ctx: ParkContext,
    kind: Kind,
    key: Key,
    data: BaseModel,
    context: tuple[dict[Key, dict[str, Any]], DeferredAccounts | None, Applied],
) -> None:
    existing, accounts, applied = context
    if key in existing:
        update, fixed = _as_update(kind, data)
        _check_fixed(kind, key, fixed, existing[key])
        await kind.update(session, ctx, key, update)
        applied.updated += 1
        return
    result = await kind.create(session, ctx, data, accounts)
    applied.created += 1
    if accounts is not None:
        applied.credentials.append(
            DeviceCredentials(
                device_id=result.id,
                mqtt_username=result.mqtt_username,
                mqtt_password=result.mqtt_password,
            )
        )


async def _apply(
    session: AsyncSession,
    ctx: ParkContext,
    kind: Kind,
    checked: Checked,
    accounts: DeferredAccounts | None,
) -> Applied:
    """Every valid row in a savepoint of its own; the refusals join ``checked.errors``."""
    keys = [key for _, key, _ in checked.rows]
    fixed = [f for f in kind.create_schema.model_fields if f not in kind.update_schema.model_fields]
    existing = await repository.existing_keys(
        session, kind.table, kind.key, ctx.park_id, keys, [f for f in fixed if f not in kind.key]
    )
    applied = Applied()
    for row, key, data in checked.rows:
        try:
            async with session.begin_nested():
                await _apply_row(session, ctx, kind, key, data, (existing, accounts, applied))
        except AppError as exc:
            checked.errors.append(problem(row, exc.extra.get("field"), exc.detail))
        except DBAPIError as exc:
            reason = f"refused by the database: {str(exc.orig).splitlines()[0]}"
            checked.errors.append(problem(row, None, reason))
    return applied


async def import_features(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    kind: str,
    features: Sequence[Any],
    dry_run: bool = False,
    broker: AccountBroker | Literal["settings"] | None = FROM_SETTINGS,
) -> ImportResult:
    """Import ``features`` (GeoJSON Features, or flat records such as CSV rows) of ``kind``.

    Raises ImportRejected (422, ``errors``: every bad row) and leaves nothing behind when any
    row is bad. ``broker`` makes the devices' MQTT accounts: by default a client connected
    from the settings (when ``PARKTWIN_MQTT_CREDENTIALS=dynsec``); None skips them.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise Unprocessable(f"kind: one of {', '.join(KINDS)}", field="kind")
    checked = await to_thread.run_sync(check_rows, spec, features)  # seconds of pydantic CPU
    rows = [(row, data) for row, _, data in checked.rows]
    warnings = await shift_warnings(session, ctx.park_id, spec.name, spec.geometry, rows)
    make_accounts = spec.name == "devices" and not dry_run and _manages_accounts(broker)
    accounts = DeferredAccounts() if make_accounts else None
    savepoint = await session.begin_nested()
    try:
        applied = await _apply(session, ctx, spec, checked, accounts)
    except BaseException:
        await savepoint.rollback()
        raise
    if checked.errors or dry_run:
        await savepoint.rollback()
    else:
        await savepoint.commit()
    if checked.errors:
        checked.errors.sort(key=lambda e: e["row"])
        raise ImportRejected(
            f"{len({e['row'] for e in checked.errors})} of {len(features)} rows are bad: "
            "nothing was imported",
            errors=checked.errors,
            warnings=warnings,
        )
    if accounts is not None and accounts.accounts:
        made = [device_id for device_id, _ in accounts.accounts]
        on_rollback(session, _forget_accounts(broker, ctx.park_id, made))
        await _make_accounts(broker, ctx.park_id, accounts.accounts)
    return ImportResult(
        kind=spec.name,
        created=applied.created,
        updated=applied.updated,
        dry_run=dry_run,
        ignored_fields=sorted(checked.ignored),
        credentials=applied.credentials if spec.name == "devices" else None,
        warnings=[ImportWarning.model_validate(w) for w in warnings],
    )


async def _make_accounts(
    broker: AccountBroker | Literal["settings"] | None,
    park_id: str,
    accounts: list[tuple[str, str]],
) -> None:
    """The devices' broker accounts, in batches; 503 if the broker refuses (the import's
    transaction then rolls back with the request)."""
    own = broker == FROM_SETTINGS
    client: AccountBroker | None = None
    try:
        if own:
            client = await to_thread.run_sync(_settings_broker)
        elif isinstance(broker, AccountBroker):
            client = broker
        assert client is not None
        for i in range(0, len(accounts), BROKER_BATCH):
            batch = accounts[i : i + BROKER_BATCH]
            await to_thread.run_sync(client.ensure_devices, park_id, batch)
    except DynsecError as exc:
        raise ServiceUnavailable(f"the MQTT broker did not take the accounts: {exc}") from exc
    finally:
        if own and client is not None:
            client.close()


def _forget_accounts(
    broker: AccountBroker | Literal["settings"] | None, park_id: str, device_ids: list[str]
) -> Compensation:
    """Delete the new devices' broker accounts if the import's transaction does not commit
    (registered before they are made, so a half-made batch is cleaned up too)."""

    def forget() -> None:
        own = broker == FROM_SETTINGS
        client = _settings_broker() if own else broker
        if not isinstance(client, AccountBroker):
            return
        try:
            for device_id in device_ids:
                client.delete_device(park_id, device_id)
        finally:
            if own:
                client.close()

    async def compensate() -> None:
        await to_thread.run_sync(forget)

    return compensate


def _manages_accounts(broker: AccountBroker | Literal["settings"] | None) -> bool:
    if broker == FROM_SETTINGS:
        return get_settings().mqtt_credentials != "none"
    return broker is not None


def _settings_broker() -> AccountBroker:
    client = account_broker(get_settings())
    client.connect()
    return client
