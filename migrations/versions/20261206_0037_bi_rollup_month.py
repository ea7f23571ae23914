"""``bi.rollup_month``: the monthly rollups (0036) for BI tools, as ``bi.rollup_day``.

A BI tool charting a year per meter reads 12 rows a series here instead of 365 in
``bi.rollup_day`` (at 100,000 devices, about 600,000 rows a year instead of 18 million). The
view is 0027's rollup query over ``rollup_month`` (the same columns; ``consumption`` adds the
step from the previous month's last reading), inside 0033's filter of the login's parks, a
``security_barrier`` view like the others. The queries are read from those two migrations'
modules, as 0033 reads 0027's: a released migration is never edited, so they stay as they were
released. A month still being written shows its row as the rollup worker last made it (with
the days it has made).

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

NAME = "rollup_month"


def _migration(filename: str) -> ModuleType:
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"parktwin_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def view() -> str:
    """``CREATE OR REPLACE VIEW bi.rollup_month``: 0027's rollup query over the monthly table,
    wrapped in 0033's filter."""
    bi_views = _migration("20261203_0027_bi_views.py")
    grants = _migration("20261204_0033_bi_park_grants.py")
    match = grants.VIEW.match(bi_views.ROLLUP.replace("ROLLUP_TABLE", NAME).strip())
    assert match is not None
    wrapped = grants.WRAPPED.replace("NAME", NAME).replace("FILTER", grants.OWN)
    return str(wrapped.replace("QUERY", match.group(2)))  # the query last: no placeholder in it


def upgrade() -> None:
    op.execute(view())
    op.execute(f"COMMENT ON VIEW bi.{NAME} IS 'per series and park-local month: as rollup_day'")
    op.execute(f"GRANT SELECT ON bi.{NAME} TO parktwin_bi")


def downgrade() -> None:
    op.execute(f"DROP VIEW bi.{NAME}")
