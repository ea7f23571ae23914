"""Pure major-hazard-source maths of GB 18218-2018 《危险化学品重大危险源辨识》.

- §4.2.2: a unit is a major hazard source (重大危险源) when, for its hazardous chemicals,
  Σ qᵢ/Qᵢ ≥ 1 (q: the quantity present, Q: the critical quantity of Table 1 or Table 2; t).
- §4.3: its grade is set by R = α · Σ βᵢ·qᵢ/Qᵢ, with βᵢ the correction factor of Table 3
  (named toxic gases) or Table 4 (hazard categories) and α the correction factor of Table 5 by
  the number of people exposed (常住人口 within 500 m outside the unit's boundary).
- Table 6: 一级 R ≥ 100; 二级 100 > R ≥ 50; 三级 50 > R ≥ 10; 四级 R < 10.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SOURCE = "GB 18218-2018 《危险化学品重大危险源辨识》"

ALPHA = ((100, 2.0), (50, 1.5), (30, 1.2), (1, 1.0), (0, 0.5))
"""Table 5: (at least this many people exposed, α); 100 人以上 2.0, 50–99 1.5, 30–49 1.2,
1–29 1.0, 0 0.5."""

EPS = 1e-9
"""Float slack on the bounds: 0.7 + 0.3 is 1 (the standard counts in exact decimals)."""

LEVELS = ((100.0, 1, "一级"), (50.0, 2, "二级"), (10.0, 3, "三级"), (0.0, 4, "四级"))
"""Table 6: (R at least, level, name), highest first."""


@dataclass(frozen=True)
class Item:
    chemical: str
    quantity_t: float
    critical_t: float
    beta: float

    @property
    def ratio(self) -> float:
        """qᵢ/Qᵢ."""
        return self.quantity_t / self.critical_t


@dataclass(frozen=True)
class Assessment:
    sum_ratio: float
    is_major: bool
    alpha: float
    r: float | None
    level: int | None
    level_zh: str | None


def alpha(exposed_population: int) -> float:
    """Table 5: α by the number of people exposed."""
    return next(a for at_least, a in ALPHA if exposed_population >= at_least)


def level(r: float) -> tuple[int, str]:
    """Table 6: the level of R."""
    return next((n, name) for at_least, n, name in LEVELS if r + EPS >= at_least)


def assess(items: Sequence[Item], exposed_population: int) -> Assessment:
    """Identification (Σ q/Q ≥ 1) and, for a major hazard source, R and its level."""
    total = sum(i.ratio for i in items)
    a = alpha(exposed_population)
    if total + EPS < 1.0:
        return Assessment(total, False, a, None, None, None)
    r = a * sum(i.beta * i.ratio for i in items)
    n, name = level(r)
    return Assessment(total, True, a, r, n, name)
