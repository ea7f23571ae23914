"""The 规上 thresholds per sector (NBS: 规模以上工业 2,000; 限额以上批发 2,000, 零售 500, 住宿和
餐饮 200; 规模以上服务业 2,000 / 1,000 / 500 by section, × 10⁴ yuan a year), as seeded by
migration 0019, read back from the database and matched by the most specific prefix."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from app.economy.scale import Threshold, statuses, threshold_for


@pytest.fixture(scope="module")
def seeded(database_url: str) -> list[Threshold]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT sector, prefixes, valid_from, revenue, source FROM economy_scale_threshold "
            "WHERE park_id IS NULL"
        ).fetchall()
    return [Threshold(r[0], tuple(r[1]), r[2], float(r[3]), r[4]) for r in rows]


@pytest.mark.parametrize(
    ("code", "sector", "revenue"),
    [
        ("C3484", "industry", 2000),  # manufacturing
        ("4411", "industry", 2000),  # D: electricity supply
        ("F5126", "wholesale", 2000),
        ("5211", "retail", 500),
        ("H6110", "accommodation", 200),
        ("6210", "catering", 200),
        ("I6510", "services_2000", 2000),  # software
        ("8411", "services_2000", 2000),  # 卫生 (大类 84)
        ("7211", "services_1000", 1000),  # L: 租赁和商务服务
        ("K7020", "services_1000", 1000),  # 物业管理
        ("8511", "services_500", 500),  # 社会工作 (大类 85)
        ("O8011", "services_500", 500),
    ],
)
def test_sector_thresholds(seeded: list[Threshold], code: str, sector: str, revenue: float) -> None:
    found = threshold_for(code, 2026, seeded)
    assert found is not None and (found.sector, found.revenue) == (sector, revenue)


def test_sectors_by_qualification_have_no_threshold(seeded: list[Threshold]) -> None:
    """建筑业 (E) and 房地产开发经营 (7010) enter by qualification, finance is outside."""
    assert threshold_for("E4710", 2026, seeded) is None
    assert threshold_for("K7010", 2026, seeded) is None
    assert threshold_for("J6621", 2026, seeded) is None
    assert threshold_for(None, 2026, seeded) is None


def test_industry_before_2011_was_500(seeded: list[Threshold]) -> None:
    old = threshold_for("C3484", 2010, seeded)
    assert old is not None and old.revenue == 500


def test_a_loss_of_reports_never_reads_as_zero(seeded: list[Threshold]) -> None:
    """2025 reported but November; 2026 carries the 2025 status (规上 by 累计 2,100 in
    March) instead of judging 11 months (1,100 + ... ) as a year below the threshold."""
    revenue = {date(2025, m, 1): 700.0 for m in range(1, 13) if m != 11}
    revenue[date(2026, 1, 1)] = 10.0
    found = statuses(revenue, code="C3484", founded=date(2000, 1, 1), thresholds=seeded)
    march = next(s for s in found if s.month == date(2025, 3, 1))
    assert march.above_scale and march.basis == "cumulative" and march.revenue == 2100
    january = found[-1]
    assert january.month == date(2026, 1, 1)
    assert january.above_scale and january.basis == "carried"
