"""Green power matched to grid kWh over the accounting period (pure; no database).

The accounting period is the calendar year (the year of an annual carbon report). Per group
(the park, or one enterprise) and year:

1. A green-power contract (绿电交易) covers the grid kWh of its own month, up to that month's
   grid kWh (what is traded for a month is delivered in that month).
2. 绿证 count by vintage: a certificate whose generation month (its ``month``) falls in the
   year may cover that year's remaining grid kWh, whatever the month of use. They are
   consumed whole, oldest vintage first then by id, only while the certificate's kWh fits in
   what remains: a consumed certificate is always matched in full, the rest stay available
   (``excess``) for a later claim, and a certificate id is used in one account only.
3. The matched certificate kWh are spread over the year's months pro rata to their remaining
   grid kWh, so a month's market-based Scope 2 = (grid − covered) x the market factor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Record:
    kind: str  # "contract" or "certificate"
    month: date  # a contract's month; a certificate's vintage (generation month)
    kwh: float
    certificate_id: str | None = None


@dataclass
class Match:
    year: int
    grid_kwh: float = 0.0
    contract_kwh: float = 0.0
    certificate_kwh: float = 0.0
    used: list[str] = field(default_factory=list)
    excess: list[str] = field(default_factory=list)
    covered: dict[date, float] = field(default_factory=dict)
    grid: dict[date, float] = field(default_factory=dict)

    def grid_kwh_of(self, month: date) -> float:
        return self.grid.get(month, 0.0)

    @property
    def kwh(self) -> float:
        """Grid kWh covered by green power in the year."""
        return self.contract_kwh + self.certificate_kwh


def _contracts(grid: dict[date, float], records: Iterable[Record]) -> dict[date, float]:
    bought: dict[date, float] = {}
    for r in records:
        if r.kind == "contract":
            bought[r.month] = bought.get(r.month, 0.0) + r.kwh
    return {m: min(kwh, max(grid.get(m, 0.0), 0.0)) for m, kwh in bought.items()}


def match(year: int, grid: dict[date, float], records: Iterable[Record]) -> Match:
    """Match one group's green power of ``year`` against its grid kWh per month."""
    own = [r for r in records if r.month.year == year]
    grid = {m: max(q, 0.0) for m, q in grid.items() if m.year == year}
    contracts = _contracts(grid, own)
    remaining = {m: q - contracts.get(m, 0.0) for m, q in grid.items()}
    room = sum(remaining.values())
    result = Match(
        year=year, grid_kwh=sum(grid.values()), contract_kwh=sum(contracts.values()), grid=grid
    )
    certificates = sorted(
        (r for r in own if r.kind == "certificate"), key=lambda r: (r.month, r.certificate_id)
    )
    for r in certificates:
        if result.certificate_kwh + r.kwh <= room + 1e-9:
            result.certificate_kwh += r.kwh
            result.used.append(str(r.certificate_id))
        else:
            result.excess.append(str(r.certificate_id))
    share = result.certificate_kwh / room if room > 0 else 0.0
    for m in grid:
        result.covered[m] = contracts.get(m, 0.0) + remaining[m] * share
    return result


RULE = (
    "matched over the calendar year; 绿证 by vintage, consumed whole while they fit in the "
    "grid kWh left after contracts; the excess stays available"
)


def as_dict(found: Match) -> dict[str, object]:
    """The year's green-power claim: what was matched, and the certificates left over."""
    return {
        "year": found.year, "grid_kwh": round(found.grid_kwh, 6),
        "contract_kwh": round(found.contract_kwh, 6),
        "certificate_kwh": round(found.certificate_kwh, 6), "kwh": round(found.kwh, 6),
        "certificates": list(found.used), "certificates_excess": list(found.excess),
        "rule": RULE,
    }  # fmt: skip
