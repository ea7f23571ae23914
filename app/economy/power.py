"""电力看经济: daily kWh per enterprise, operating or not, the park's 开工率, the park and
per-industry electricity index (base period = 100), and the daily anomaly job.

- Baseline: an enterprise's average daily kWh in the base month (its kWh over the month's
  calendar days); the base month is the ``base_month`` asked for, else the park's
  ``power_base_month`` parameter, else the December before the period.
- Operating on a day: kWh > ``operating_ratio`` x baseline. Monitored: a positive baseline.
  开工率 = operating / monitored.
- Index of a day: the day's kWh / the base month's average daily kWh x 100, for the park and
  each GB/T 4754 section (over the enterprises with meters).
"""

from __future__ import annotations

import calendar
import logging
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import Unprocessable
from app.economy import config_repository, power_repository
from app.economy.calc import CALENDAR_SOURCE, AnomalyRules, anomalies, day_class, ratio
from app.economy.reports import parse_month
from app.economy.schemas import (
    Anomaly,
    CalendarDay,
    CalendarDayWrite,
    PowerDay,
    PowerEnterprise,
    PowerEnterpriseDay,
    PowerIndex,
)
from app.parks.deps import ParkContext
from app.webhooks.outbox import enqueue

logger = logging.getLogger(__name__)

MAX_DAYS = 400
LOOKBACK_PER_DAY = 7  # calendar days read per day of a rule's window: a Sunday a week
ANOMALY_EVENT = "economy.anomaly"


def local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(tz)).astimezone(UTC)


def _base_month(asked: str | None, params: dict[str, RowMapping], first: date) -> date:
    configured = config_repository.value(params, "power_base_month")
    if asked or configured:
        return parse_month(str(asked or configured))
    return date(first.year - 1, 12, 1)


def _index(kwh: float, baseline: float) -> float | None:
    value = ratio(kwh, baseline)
    return None if value is None else value * 100


def _assemble(rows: Any) -> tuple[list[PowerDay], list[PowerEnterprise]]:
    days: list[PowerDay] = []
    firms: dict[str, PowerEnterprise] = {}
    for r in rows:
        kwh, baseline = float(r["kwh"]), float(r["baseline"])
        comparable = _index(float(r["comparable_kwh"]), float(r["comparable_baseline"]))
        if r["by_enterprise"]:
            firm = firms.setdefault(
                r["enterprise_id"],
                PowerEnterprise(enterprise_id=r["enterprise_id"], section=r["section"],
                                baseline_kwh=baseline, kwh=0, operating_days=0, days=[]),
            )  # fmt: skip
            known = bool(r["monitored"])
            firm.kwh += kwh
            firm.operating_days += int(r["operating"])
            firm.days.append(PowerEnterpriseDay(date=r["day"], kwh=kwh,
                                                operating=bool(r["operating"]) if known else None,
                                                has_data=bool(r["has_data"])))  # fmt: skip
        elif r["by_section"]:
            days[-1].by_industry[r["section"] or "?"] = _index(kwh, baseline)
            days[-1].by_industry_comparable[r["section"] or "?"] = comparable
        else:
            days.append(PowerDay(date=r["day"], kwh=kwh, monitored=r["monitored"],
                                 operating=r["operating"], no_data=r["no_data"],
                                 operating_rate=ratio(r["operating"], r["monitored"]),
                                 index=_index(kwh, baseline), comparable_index=comparable,
                                 by_industry={}, by_industry_comparable={}))  # fmt: skip
    return days, list(firms.values())


async def power_index(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    first: date,
    last: date,
    base_month: str | None,
) -> PowerIndex:
    if first.year < 1901 or last.year > 2998:
        raise Unprocessable("from, to: dates between 1901 and 2998", field="from")
    if last < first or (last - first).days >= MAX_DAYS:
        raise Unprocessable(f"to: from 1 to {MAX_DAYS} days after from", field="to")
    params = await config_repository.parameters(session, ctx.park_id, first)
    base = _base_month(base_month, params, first)
    base_days = calendar.monthrange(base.year, base.month)[1]
    base_end = base + timedelta(days=base_days)
    operating_ratio = float(config_repository.value(params, "operating_ratio"))
    tz = ctx.timezone
    rows = await power_repository.power_index(
        session,
        park_id=ctx.park_id,
        tz=tz,
        period=(local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz),
                first, last),
        base=(local_midnight(base, tz), local_midnight(base_end, tz), base_days),
        ratio=operating_ratio,
    )  # fmt: skip
    days, firms = _assemble(rows)
    return PowerIndex(
        base_month=base.strftime("%Y-%m"),
        operating_ratio=operating_ratio,
        sources={
            "operating_ratio": params["operating_ratio"]["source"],
            "comparable_index": "同口径: the firms with a baseline and data that day, their kWh "
            "over their own base-month daily average (the same firms on both sides)",
        },
        days=days,
        enterprises=firms,
    )


async def list_anomalies(
    session: AsyncSession, *, ctx: ParkContext, first: date, last: date
) -> list[Anomaly]:
    rows = await power_repository.list_anomalies(session, ctx.park_id, first, last)
    return [Anomaly.model_validate({**dict(r), "date": r["day"]}) for r in rows]


async def calendar_days(session: AsyncSession, *, ctx: ParkContext, year: int) -> list[CalendarDay]:
    rows = await power_repository.calendar(session, ctx.park_id, date(year, 1, 1),
                                           date(year, 12, 31))  # fmt: skip
    return [CalendarDay.model_validate(dict(r)) for r in rows]


async def put_calendar_day(
    session: AsyncSession, *, ctx: ParkContext, data: CalendarDayWrite
) -> CalendarDay:
    if not 2000 <= data.day.year <= 2999:
        raise Unprocessable("day: a date between 2000 and 2999", field="day")
    await power_repository.put_calendar_day(session, ctx.park_id, data.model_dump())
    return CalendarDay(park_id=ctx.park_id, **data.model_dump())


# ---------------------------------------------------------------- the daily job


def _rules(params: dict[str, RowMapping]) -> AnomalyRules:
    def v(name: str) -> Any:
        return config_repository.value(params, name)

    return AnomalyRules(
        drop_ratio=float(v("anomaly_drop_ratio")),
        drop_window_days=int(v("anomaly_drop_window_days")),
        zero_days=int(v("anomaly_zero_days")),
        zero_kwh=float(v("anomaly_zero_kwh")),
    )


async def detect_park(session: AsyncSession, park_id: str, tz: str, day: date) -> int:
    """Flag the anomalies of ``day`` (a park-local day) and queue their webhook events.

    Reads enough days back for the rules to find ``anomaly_drop_window_days`` days of the
    day's own class (a Sunday a week) and ``anomaly_zero_days`` working days.
    """
    params = await config_repository.parameters(session, park_id, day)
    rules = _rules(params)
    span = max(rules.drop_window_days, rules.zero_days) * LOOKBACK_PER_DAY + 1
    first = day - timedelta(days=span - 1)
    rows = await power_repository.daily_kwh(
        session, park_id=park_id, tz=tz,
        lo=local_midnight(first, tz), hi=local_midnight(day + timedelta(days=1), tz),
    )  # fmt: skip
    kinds = {r["day"]: r["kind"] for r in await power_repository.calendar(
        session, park_id, first, day)}  # fmt: skip
    calendar_days = [first + timedelta(days=i) for i in range(span)]
    rest = [day_class(d, kinds) for d in calendar_days]
    series: dict[str, dict[date, float]] = defaultdict(dict)
    for r in rows:
        series[r["enterprise_id"]]
        if r["day"] is not None:
            series[r["enterprise_id"]][r["day"]] = float(r["kwh"])
    raised = 0
    for enterprise_id, by_day in series.items():
        days = [by_day.get(d) for d in calendar_days]
        for kind, detail in anomalies(days, rest, rules):
            raised += await _raise(session, park_id, enterprise_id, day, kind, detail)
    return raised


async def _raise(
    session: AsyncSession, park_id: str, enterprise_id: str, day: date, kind: str, detail: Any
) -> int:
    if kind != "no_data":
        detail = {**detail, "calendar_source": CALENDAR_SOURCE}
    payload = orjson.dumps(detail).decode()
    if not await power_repository.insert_anomaly(session, park_id, enterprise_id, day, kind,
                                                 payload):  # fmt: skip
        return 0
    data = {"enterprise_id": enterprise_id, "date": day.isoformat(), "kind": kind, **detail}
    await enqueue(session, park_id=park_id, type=ANOMALY_EVENT, severity="warning", data=data)
    logger.info("economy anomaly %s of %s on %s in park %s", kind, enterprise_id, day, park_id)
    return 1


async def detect_anomalies(session: AsyncSession, settings: Settings) -> int:
    """Worker job: check every park's last complete local day (once: flags are unique)."""
    del settings
    raised = 0
    for park in await power_repository.parks(session):
        today = datetime.now(ZoneInfo(park["timezone"])).date()
        raised += await detect_park(session, park["id"], park["timezone"], today - timedelta(1))
    if raised:
        logger.info("economy anomalies: %d raised", raised)
    return 0  # each park's day is checked whole: never a backlog to run again at once
