"""A firm's energy use per month for other modules (the economy module's 亩均 and 单位能耗
增加值): the carbon ledger's figures, every carrier, 等价值 and 当量值.

Call ``tce_by_enterprise_month``; it reads the same meters, manual entries, coefficient
versions and meter-tree rule as ``/carbon/energy?group_by=enterprise&interval=month``.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.carbon import ledger


@dataclass
class MonthEnergy:
    """One enterprise's energy in one month: tce on both bases and quantity per carrier."""

    tce_equal_value: float = 0.0
    tce_equivalent: float = 0.0
    carriers: dict[str, float] = field(default_factory=dict)


async def tce_by_enterprise_month(
    session: AsyncSession,
    *,
    park_id: str,
    tz: str,
    months: Iterable[date],
    enterprise_id: str | None = None,
) -> dict[tuple[str, date], MonthEnergy]:
    """Energy per (enterprise, month) for the given months (any day of each; park-local
    calendar), all carriers that are energy (water is not); only ``enterprise_id``'s when
    given. A (enterprise, month) with no metered or entered energy is absent, not zero."""
    wanted = sorted({m.replace(day=1) for m in months})
    if not wanted:
        return {}
    last = wanted[-1]
    days = (wanted[0], last.replace(day=calendar.monthrange(last.year, last.month)[1]))
    book = await ledger.build(
        session, park_id=park_id, tz=tz, days=days, group_by="enterprise", step="month",
        only=enterprise_id, green_power=False,
    )  # fmt: skip
    out: dict[tuple[str, date], MonthEnergy] = defaultdict(MonthEnergy)
    keep = set(wanted)
    for line in book.lines:
        month = line.bucket.replace(day=1)
        if month not in keep or not book.carriers[line.carrier]["energy"]:
            continue
        found = out[(line.group, month)]
        found.tce_equal_value += line.tce_equal_value
        found.tce_equivalent += line.tce_equivalent
        found.carriers[line.carrier] = found.carriers.get(line.carrier, 0.0) + line.quantity
    return dict(out)
