"""Telemetry reads: latest values, series history (raw or bucketed), the park's load curve,
the rejection log."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import ApiKey
from app.core.errors import NotFound, Unprocessable
from app.core.http import dump_json
from app.core.microcache import MicroCache
from app.core.pagination import Page, PageParams, paginate
from app.devices import repository as devices
from app.devices.schemas import DeviceFilters
from app.parks.deps import ParkContext
from app.telemetry import repository
from app.telemetry.intervals import (
    INTERVALS,
    Fill,
    Interval,
    Level,
    bucket_floor,
    bucket_starts,
    count_buckets,
    covered_range,
    fill_points,
    next_bucket,
)
from app.telemetry.repository import Agg
from app.telemetry.schemas import RejectionRead

MAX_POINTS = 10_000
DEFAULT_RANGE = timedelta(days=1)
ROLLUP_MIN_RANGE = timedelta(days=1)
SourceChoice = Literal["auto", "raw", "rollup"]


EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def check_range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """``[from, to)`` with defaults (the last 24 hours), within 1970..2200 and non-empty."""
    for name, value in (("from", start), ("to", end)):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise Unprocessable(f"{name}: must lie between 1970-01-02 and 2200-01-01")
    end = end or datetime.now(UTC)
    start = start or end - DEFAULT_RANGE
    if start >= end:
        raise Unprocessable("from: must be before to")
    return start, end


class TooManyPoints(Unprocessable):
    slug, title = "too-many-points", "Too many points"


async def latest(session: AsyncSession, *, ctx: ParkContext, device_id: str) -> dict[str, Any]:
    if await devices.get(session, ctx.park_id, device_id) is None:
        raise NotFound(f"device {device_id!r} not found in park {ctx.park_id!r}")
    rows = await devices.latest_for_device(session, ctx.park_id, device_id, None)
    values = {r["metric"]: {"ts": r["time"], "value": r["value"]} for r in rows}
    return {"device_id": device_id, "values": values}


async def bulk_latest(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    device_ids: list[str] | None,
    metrics: list[str] | None,
    filters: DeviceFilters,
    cache: MicroCache[bytes],
) -> bytes:
    """``{"items": [...]}`` as JSON: one item per matching device (in id order), with its
    newest value per metric. Identical asks share an answer for the cache's TTL."""
    chosen = filters.model_dump()

    async def compute() -> bytes:
        items = await repository.bulk_latest(session, ctx.park_id, device_ids, metrics, chosen)
        return b'{"items":' + items.encode() + b"}"

    key = (
        "bulk_latest",
        ctx.park_id,
        tuple(device_ids) if device_ids is not None else None,
        tuple(metrics) if metrics is not None else None,
        tuple(sorted(chosen.items())),
    )
    return await cache.get(key, compute)


async def bulk_latest_page(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    device_ids: list[str] | None,
    metrics: list[str] | None,
    filters: DeviceFilters,
    page: PageParams,
    cache: MicroCache[bytes],
) -> bytes:
    """One page of ``bulk_latest``: ``{"items": [...], "next_cursor": ...}``, keyset on the
    device id. The items stay JSON text from PostgreSQL (no objects made per value)."""
    chosen = filters.model_dump()
    after = page.after(1)

    async def compute() -> bytes:
        rows = await repository.bulk_latest_page(
            session,
            ctx.park_id,
            device_ids,
            metrics,
            chosen,
            after[0] if after else None,
            page.fetch_limit,
        )
        items, cursor = paginate(rows, page, lambda r: [r[0]])
        body = b'{"items":[' + ",".join(r[1] for r in items).encode() + b'],"next_cursor":'
        return body + (orjson.dumps(cursor) if cursor else b"null") + b"}"

    key = (
        "bulk_latest_page",
        ctx.park_id,
        tuple(device_ids) if device_ids is not None else None,
        tuple(metrics) if metrics is not None else None,
        tuple(sorted(chosen.items())),
        page.limit,
        page.cursor,
    )
    return await cache.get(key, compute)


def _too_many(what: str, start: datetime, interval: Interval | None, tz: str) -> TooManyPoints:
    """The refusal, saying how far the range may reach and which interval would fit."""
    step = interval.step if interval and interval.step else None
    hint = ""
    if interval is None or step is not None:
        span = (step or timedelta(minutes=1)) * MAX_POINTS
        hint = f"shorten the range to at most {span} (e.g. to={(start + span).isoformat()}) or "
    return TooManyPoints(
        f"{what} would return more than {MAX_POINTS} points: {hint}use a coarser interval "
        f"({', '.join(INTERVALS)})",
        max_points=MAX_POINTS,
    )


def _level(interval: Interval, lo: datetime, hi: datetime, source: SourceChoice) -> Level | None:
    """Rollups serve intervals made of whole hours or local days; raw serves the rest."""
    level = interval.level
    if source == "rollup" and level is None:
        raise Unprocessable(f"source=rollup: interval {interval.name} is not made of whole hours")
    if source == "raw" or level is None:
        return None
    return level if source == "rollup" or hi - lo > ROLLUP_MIN_RANGE else None


async def series(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    device_id: str,
    metric: str,
    start: datetime | None,
    end: datetime | None,
    interval_name: str | None,
    agg: Agg | None,
    fill: Fill,
    source: SourceChoice,
) -> dict[str, Any]:
    """The ``SeriesRead`` answer as a dict (10,000 points are not worth validating again)."""
    info = await repository.series_info(session, ctx.park_id, device_id, metric)
    if info is None:
        if await devices.get(session, ctx.park_id, device_id) is None:
            raise NotFound(f"device {device_id!r} not found in park {ctx.park_id!r}")
        raise NotFound(f"metric {metric!r} is not in the catalogue of device {device_id!r}")
    start, end = check_range(start, end)
    base = {"device_id": device_id, "metric": metric, "unit": info["unit"], "kind": info["kind"]}
    sid: int | None = info["series_id"]
    if interval_name is None:
        rows = await repository.raw_points(session, sid, start, end, MAX_POINTS + 1) if sid else []
        if len(rows) > MAX_POINTS:
            raise _too_many("these raw readings", start, None, ctx.timezone)
        points = [{"ts": t, "value": v} for t, v in rows]
        return {
            **base,
            "interval": None,
            "agg": None,
            "fill": "none",
            "from": start,
            "to": end,
            "source": "raw",
            "points": points,
        }
    interval = INTERVALS[interval_name]
    agg = agg or ("delta" if info["kind"] == "counter" else "avg")
    lo, hi = covered_range(start, end, interval, ctx.timezone)
    if count_buckets(lo, hi, interval, ctx.timezone, MAX_POINTS) > MAX_POINTS:
        raise _too_many(f"interval={interval.name} over this range", lo, interval, ctx.timezone)
    level = _level(interval, lo, hi, source)
    rows = []
    if sid is not None:
        rows = list(
            await repository.bucketed(
                session,
                series_id=sid,
                lo=lo,
                hi=hi,
                interval=interval,
                tz=ctx.timezone,
                agg=agg,
                level=level,
            )
        )
    starts = list(bucket_starts(lo, hi, interval, ctx.timezone)) if fill != "none" else []
    filled = fill_points([(t, v) for t, v in rows], starts, fill)
    return {
        **base,
        "interval": interval.name,
        "agg": agg,
        "fill": fill,
        "from": lo,
        "to": hi,
        "source": f"rollup_{level}" if level else "raw",
        "points": [{"ts": t, "value": v} for t, v in filled],
    }


def to_csv(data: dict[str, Any]) -> bytes:
    lines = ["ts,value"]
    for point in data["points"]:
        ts = point["ts"].astimezone(UTC).isoformat().replace("+00:00", "Z")
        value = point["value"]
        lines.append(f"{ts},{'' if value is None else repr(float(value))}")
    return ("\r\n".join(lines) + "\r\n").encode()


def _rejection_cursor(after: list[Any] | None) -> tuple[datetime, int] | None:
    if after is None:
        return None
    try:
        return datetime.fromisoformat(str(after[0])), int(after[1])
    except (TypeError, ValueError) as exc:
        raise Unprocessable("cursor: not a cursor for this list") from exc


async def rejections(
    session: AsyncSession,
    *,
    key: ApiKey,
    park_id: str | None,
    reason: str | None,
    since: datetime | None,
    page: PageParams,
) -> Page[RejectionRead]:
    """Newest first; a park-bound key sees only its park's rejections."""
    if park_id is not None:
        key.check_park(park_id)
    after = page.after(2, (str, int))
    rows = await repository.rejections(
        session,
        park_id=park_id or key.park_id,
        reason=reason,
        since=since,
        after=_rejection_cursor(after),
        limit=page.fetch_limit,
    )
    items, cursor = paginate(rows, page, lambda r: [r["received_at"].isoformat(), r["id"]])
    return Page[RejectionRead](
        items=[
            RejectionRead.model_validate(
                {**r, "payload": bytes(r["payload"]).decode("utf-8", errors="replace")}
            )
            for r in items
        ],
        next_cursor=cursor,
    )


LOAD_BUCKETS: dict[str, Level] = {"1h": "hour", "1d": "day"}


def _today_and_yesterday(tz: str) -> tuple[datetime, datetime]:
    """From the start of yesterday to the end of today, park-local."""
    day = INTERVALS["1d"]
    today = bucket_floor(datetime.now(UTC), day, tz)
    return bucket_floor(today - timedelta(hours=1), day, tz), next_bucket(today, day, tz)


async def park_load(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    start: datetime | None,
    end: datetime | None,
    bucket: str,
    cache: MicroCache[bytes],
    top: int | None = None,
) -> bytes:
    """The ``ParkLoad`` answer as JSON (``meters``: with ``top``, only each day's ``top`` by
    kWh). The range is widened to whole buckets, so every screen asking for today and
    yesterday asks the same question and shares one answer."""
    if start is None and end is None:
        start, end = _today_and_yesterday(ctx.timezone)
    start, end = check_range(start, end)
    interval = INTERVALS[bucket]
    lo, hi = covered_range(start, end, interval, ctx.timezone)
    if count_buckets(lo, hi, interval, ctx.timezone, MAX_POINTS) > MAX_POINTS:
        raise _too_many(f"bucket={bucket} over this range", lo, interval, ctx.timezone)

    async def compute() -> bytes:
        rows = await repository.park_load(
            session, park_id=ctx.park_id, lo=lo, hi=hi, tz=ctx.timezone, level=LOAD_BUCKETS[bucket]
        )
        return dump_json(_load_answer(rows, bucket, lo, hi, ctx.timezone, top))

    return await cache.get(("park_load", ctx.park_id, bucket, lo, hi, top), compute)


async def park_power(session: AsyncSession, *, ctx: ParkContext, cache: MicroCache[bytes]) -> bytes:
    """The ``ParkPower`` answer as JSON: the same for every screen, so shared as the load's."""

    async def compute() -> bytes:
        sides = {r["pv"]: r for r in await repository.park_power(session, ctx.park_id)}

        def side(pv: bool) -> dict[str, Any]:
            row = sides.get(pv)
            if row is None:
                return {"kw": 0.0, "devices": 0, "offline": 0, "newest": None}
            return {
                "kw": float(row["kw"] or 0.0),
                "devices": int(row["devices"]),
                "offline": int(row["offline"]),
                "newest": row["newest"],
            }

        return dump_json({"unit": "kW", "load": side(False), "pv": side(True)})

    return await cache.get(("park_power", ctx.park_id), compute)


def _load_answer(
    rows: Sequence[RowMapping],
    bucket: str,
    lo: datetime,
    hi: datetime,
    tz: str,
    top: int | None = None,
) -> dict[str, Any]:
    zone = ZoneInfo(tz)
    meters = [
        {
            "device_id": r["device_id"],
            "name": r["name"],
            "date": r["ts"].astimezone(zone).date(),
            "kwh": r["load_kwh"],
        }
        for r in rows
        if r["device_id"] is not None
    ]
    if top is not None:
        meters = _top_per_day(meters, top)
    return {
        "bucket": bucket,
        "from": lo,
        "to": hi,
        "unit": "kWh",
        "points": [
            {"ts": r["ts"], "load_kwh": r["load_kwh"], "pv_kwh": r["pv_kwh"]}
            for r in rows
            if r["device_id"] is None
        ],
        "meters": meters,
    }


def _top_per_day(meters: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """Each day's ``top`` meters by kWh (ties by device id), in the answer's order (device
    id, then day)."""
    by_day: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for meter in meters:
        by_day[meter["date"]].append(meter)
    biggest = {
        (meter["device_id"], day)
        for day, day_meters in by_day.items()
        for meter in heapq.nsmallest(
            top, day_meters, key=lambda m: (-(m["kwh"] or 0.0), m["device_id"])
        )
    }
    return [meter for meter in meters if (meter["device_id"], meter["date"]) in biggest]
