"""Pure rules of 《生产安全事故报告和调查处理条例》 (国务院令第493号, 2007): when a 险情 becomes a
生产安全事故, its grade, and the reporting clocks.

- Art. 2: the 条例 covers 生产安全事故 that cause casualties or direct economic loss. An alarm,
  a near miss or a false alarm is a 险情 (hazard event): the park's own plan and clock apply,
  no regulator deadline, no "late" statistics.
- Art. 3: four grades, the highest of three criteria (deaths; serious injuries including acute
  industrial poisoning; direct economic loss). "以上" includes the bound, "以下" excludes it.
- Art. 9: the unit's head reports to the county-level authorities within 1 hour of learning of
  the accident (the hour is the type rule's ``report_deadline_s``).
- Art. 10: the grade decides how far up the report goes.
- Art. 13: casualty changes within 30 days of the accident are reported (补报); 7 days for road
  traffic and fire accidents (the type rule's ``supplement_window_days``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

SOURCE = "《生产安全事故报告和调查处理条例》(国务院令第493号, 2007)"


@dataclass(frozen=True)
class Grade:
    """One accident grade of Art. 3: reached when any bound is met (bounds included)."""

    id: str
    name_zh: str
    min_deaths: int | None
    min_serious_injuries: int | None
    min_loss_yuan: Decimal | None
    authority: str

    def reached(self, deaths: int, serious: int, loss: Decimal) -> bool:
        if self.min_deaths is None:
            return True  # 一般: every accident below the others
        assert self.min_serious_injuries is not None and self.min_loss_yuan is not None
        return (
            deaths >= self.min_deaths
            or serious >= self.min_serious_injuries
            or loss >= self.min_loss_yuan
        )


GRADES = (
    Grade(
        "especially_major",
        "特别重大事故",
        30,
        100,
        Decimal(100_000_000),
        "国务院安全生产监督管理部门",
    ),
    Grade("major", "重大事故", 10, 50, Decimal(50_000_000), "国务院安全生产监督管理部门"),
    Grade("larger", "较大事故", 3, 10, Decimal(10_000_000), "省级人民政府安全生产监督管理部门"),
    Grade("general", "一般事故", None, None, None, "设区的市级人民政府安全生产监督管理部门"),
)
"""Art. 3 (bounds: 30/100/1亿, 10/50/5000万, 3/10/1000万), highest first; ``authority``: how
far up the report reaches, Art. 10."""

GRADE_NAMES = {g.id: g.name_zh for g in GRADES}


@dataclass(frozen=True)
class Casualties:
    deaths: int = 0
    serious_injuries: int = 0
    minor_injuries: int = 0
    missing: int = 0
    direct_loss_yuan: Decimal = Decimal(0)

    def is_accident(self) -> bool:
        """Casualties (the missing counted as possible casualties, Art. 12) or a direct loss."""
        people = self.deaths + self.serious_injuries + self.minor_injuries + self.missing
        return people > 0 or self.direct_loss_yuan > 0

    def people(self) -> tuple[int, int, int, int]:
        return (self.deaths, self.serious_injuries, self.minor_injuries, self.missing)


def grade(c: Casualties) -> Grade | None:
    """The Art. 3 grade (the highest criterion wins), or None for a 险情."""
    if not c.is_accident():
        return None
    return next(g for g in GRADES if g.reached(c.deaths, c.serious_injuries, c.direct_loss_yuan))


def report_due(learned_at: datetime, known_at: datetime, deadline_s: float) -> datetime:
    """Art. 9: the clock starts when the unit learned of the accident: not before it learned
    of the event at all."""
    return max(learned_at, known_at) + timedelta(seconds=deadline_s)


def within_supplement_window(occurred_at: datetime, changed_at: datetime, days: int) -> bool:
    """Art. 13: a casualty change within ``days`` days from the accident's occurrence."""
    return changed_at - occurred_at <= timedelta(days=days)


def late(sent_at: datetime, due_at: datetime | None) -> bool | None:
    """Whether a report was late; None when nothing was due (a 险情)."""
    return None if due_at is None else sent_at > due_at
