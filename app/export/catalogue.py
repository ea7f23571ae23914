"""``GET /parks/{park_id}/catalogue``: each dataset the park's data can be had as, with its
fields and units, how often it changes, how long it is kept, and where to get it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.export.datasets import READINGS, ROLLUPS, Column
from app.parks.deps import ParkContext

METRICS = text(
    "SELECT d.type AS device_type, t.domain, m.name AS metric, m.unit, m.kind, "
    "count(DISTINCT d.id)::int AS devices FROM device d "
    "JOIN device_type t ON t.type = d.type JOIN device_type_metric m ON m.device_type = d.type "
    "WHERE d.park_id = :park GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 3"
)


def _iso(value: timedelta) -> str:
    days, seconds = value.days, value.seconds
    return f"P{days}D" if not seconds else f"P{days}DT{seconds}S"


def _fields(columns: tuple[Column, ...]) -> list[dict[str, Any]]:
    return [{"name": c.name, "type": c.type, "unit": c.unit, "description": c.description}
            for c in columns]  # fmt: skip


def _f(name: str, type_: str, description: str, unit: str | None = None) -> dict[str, Any]:
    return {"name": name, "type": type_, "unit": unit, "description": description}


def _exports(base: str, path: str, extra: str = "") -> dict[str, str]:
    return {fmt: f"{base}/export/{path}?format={fmt}{extra}" for fmt in ("csv", "parquet")}


def _telemetry(base: str, s: Settings) -> list[dict[str, Any]]:
    interval = s.rollup_open_hour_interval
    if interval >= timedelta(hours=1):  # an open hour's mark is never that old (DUE)
        open_hours = "an hour once it has closed (its day's row with it)"
    else:
        days = "its day's row once it has closed" if interval else "its day's too"
        open_hours = (
            f"an hour still being written at most every {interval.total_seconds():g} s ({days})"
        )
    rollup = (
        f"recomputed by the worker for hours that received readings, each pass up to "
        f"{s.rollup_batch} hours, {open_hours}, the worker idling "
        f"{s.worker_interval.total_seconds():g} s between passes and working at most "
        f"{s.rollup_duty_cycle:.0%} of the time while hours wait; exports and the series API "
        "make hours still queued from raw readings"
    )
    return [
        {"id": "readings", "title": "原始读数 raw readings",
         "description": "every reading as received, one row per device, metric and time",
         "fields": _fields(READINGS), "rhythm": "as received (each device's reporting interval)",
         "retention": _iso(s.raw_retention),
         "api": "/devices/{device_id}/series/{metric}", "export": _exports(base, "readings"),
         "bi_view": None},
        {"id": "rollup_hour", "title": "小时汇总 hourly rollups",
         "description": "per series and UTC hour: count, mean, min, max, first, last, and a "
         "counter's consumption", "fields": _fields(ROLLUPS), "rhythm": rollup,
         "retention": _iso(s.hourly_rollup_retention),
         "api": "/devices/{device_id}/series/{metric}?interval=1h",
         "export": _exports(base, "rollups", "&level=hour"), "bi_view": "bi.rollup_hour"},
        {"id": "rollup_day", "title": "日汇总 daily rollups",
         "description": "as the hourly rollups, per day in the park's timezone",
         "fields": _fields(ROLLUPS), "rhythm": rollup,
         "retention": _iso(s.daily_rollup_retention),
         "api": "/devices/{device_id}/series/{metric}?interval=1d",
         "export": _exports(base, "rollups", "&level=day"), "bi_view": "bi.rollup_day"},
        {"id": "rollup_month", "title": "月汇总 monthly rollups",
         "description": "as the daily rollups, per month in the park's timezone, made from "
         "its days", "fields": _fields(ROLLUPS), "rhythm": rollup,
         "retention": _iso(s.daily_rollup_retention),
         "api": "/devices/{device_id}/series/{metric}?interval=1mo", "export": {},
         "bi_view": "bi.rollup_month"},
    ]  # fmt: skip


def _others() -> list[dict[str, Any]]:
    device, metric = _f("device_id", "string", "the device"), _f("metric", "string", "the metric")
    return [
        {"id": "latest", "title": "最新值 latest values",
         "description": "each series' newest reading", "rhythm": "as received",
         "fields": [device, metric, _f("ts", "timestamp", "the reading's time"),
                    _f("value", "float", "the reading"), _f("unit", "string", "its unit")],
         "retention": None, "api": "/latest", "export": {}, "bi_view": "bi.latest_value"},
        {"id": "alarms", "title": "告警 alarms",
         "description": "alarms raised, escalated, acknowledged and cleared",
         "rhythm": "as raised and handled (the ingestor and the worker's timers)",
         "fields": [_f("id", "string", "the alarm"), device, metric,
                    _f("type", "string", "threshold, device_offline, ..."),
                    _f("severity", "string", "critical, major, minor, warning"),
                    _f("active", "boolean", "still active"),
                    _f("raised_at", "timestamp", "when raised"),
                    _f("cleared_at", "timestamp", "when cleared")],
         "retention": None, "api": "/alarms?status=all", "export": {}, "bi_view": "bi.alarm"},
        {"id": "energy_day", "title": "日能耗 daily energy use",
         "description": "each root energy meter's consumption per park-local day (sub-meters "
         "left out: they are inside their main meter's)",
         "fields": [device, metric, _f("day", "timestamp", "the local day's start"),
                    _f("consumption", "float", "the day's consumption"),
                    _f("unit", "string", "its unit")],
         "rhythm": "as the daily rollups", "retention": None, "api": "/carbon/energy",
         "export": {}, "bi_view": "bi.energy_day"},
        {"id": "carbon_factors", "title": "排放因子 emission factors",
         "description": "the emission factors with their sources and valid-from dates",
         "fields": [_f("carrier", "string", "energy carrier"),
                    _f("value", "float", "emission factor", "kgCO₂ per unit of the carrier")],
         "rhythm": "when the park or a notice changes them", "retention": None,
         "api": "/carbon/factors", "export": {}, "bi_view": "bi.carbon_factor"},
        {"id": "economy_reports", "title": "企业月报 monthly enterprise reports",
         "description": "each enterprise's monthly figures (10⁴ yuan; employees in people)",
         "fields": [_f("enterprise_id", "string", "the enterprise"),
                    _f("month", "timestamp", "the month"),
                    _f("output_value", "float", "工业总产值", "10⁴ yuan"),
                    _f("revenue", "float", "营业收入", "10⁴ yuan")],
         "rhythm": "monthly, as reported", "retention": None, "api": "/economy/overview",
         "export": {}, "bi_view": "bi.economy_report"},
    ]  # fmt: skip


async def build(session: AsyncSession, *, ctx: ParkContext, settings: Settings) -> dict[str, Any]:
    base = f"/api/v1/parks/{ctx.park_id}"
    metrics = (await session.execute(METRICS, {"park": ctx.park_id})).mappings().all()
    datasets = _telemetry(base, settings) + _others()
    for d in datasets:
        if d["api"] is not None:
            d["api"] = base + d["api"]
    return {"park_id": ctx.park_id, "timezone": ctx.timezone, "datasets": datasets,
            "metrics": [dict(m) for m in metrics]}  # fmt: skip
