"""Monthly enterprise reports: put (create or replace, with revisions), get, list, revisions,
the 规上 history, and the all-or-nothing import from CSV or XLSX.

A change of a stored report keeps one revision per changed field (old and new value, who,
when, from the API or an import). After every write the enterprise's monthly 规上 status is
rebuilt by the statistics register's rule (app.economy.scale: the previous year's complete
result against the sector's threshold; a new firm by its 累计 revenue) and its
``enterprise.above_scale`` flag follows its latest month.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound, Unprocessable
from app.core.limits import TableLimits
from app.core.pagination import Page, PageParams, paginate
from app.economy import repository, scale, tables
from app.economy.schemas import (
    MONTH_PATTERN,
    ImportResult,
    ReportFilters,
    ReportRead,
    ReportWrite,
    Revision,
    ScaleChange,
)
from app.parks.deps import ParkContext

MAX_IMPORT_ROWS = 100_000
IGNORED = ("credit_code", "name")  # columns that identify the firm for people, not the report


def parse_month(month: str) -> date:
    if not re.match(MONTH_PATTERN, month):
        raise Unprocessable(f"month: {month!r} is not YYYY-MM", field="month")
    return date(int(month[:4]), int(month[5:7]), 1)


async def _check_enterprise(session: AsyncSession, ctx: ParkContext, enterprise_id: str) -> None:
    if not await repository.enterprise_ids(session, ctx.park_id, [enterprise_id]):
        raise NotFound(f"enterprise {enterprise_id!r} not found in park {ctx.park_id!r}")


async def _write(
    session: AsyncSession, key: tuple[str, str, date], data: ReportWrite, by: str, source: str
) -> str:
    """Store one report with its revisions; 'created', 'updated' or 'unchanged'."""
    values = data.model_dump()
    old = await repository.lock_report(session, *key)
    if old is not None:
        changes = [(f, old[f], values[f]) for f in repository.FIELDS if old[f] != values[f]]
        if not changes:
            return "unchanged"
        await repository.add_revisions(session, key, changes, by, source)
    await repository.upsert_report(session, key, values, by)
    return "created" if old is None else "updated"


def _threshold(row: Any) -> scale.Threshold:
    return scale.Threshold(
        sector=row["sector"], prefixes=tuple(row["prefixes"]), valid_from=row["valid_from"],
        revenue=float(row["revenue"]), source=row["source"], own=row["own"],
    )  # fmt: skip


async def _rescale(session: AsyncSession, ctx: ParkContext, ids: list[str]) -> None:
    """Rebuild the monthly 规上 status of ``ids`` by the register's rule (app.economy.scale)."""
    revenue_rows, firms, threshold_rows = await repository.scale_inputs(session, ctx.park_id, ids)
    thresholds = [_threshold(t) for t in threshold_rows]
    revenue: dict[str, dict[date, float]] = defaultdict(dict)
    for r in revenue_rows:
        revenue[r["enterprise_id"]][r["month"]] = float(r["revenue"])
    rows = []
    for firm in firms:
        found = scale.statuses(revenue.get(firm["id"], {}), code=firm["industry_code"],
                               founded=firm["founded_on"], thresholds=thresholds)  # fmt: skip
        rows += [
            {"enterprise_id": firm["id"], "month": s.month, "revenue": s.revenue,
             "months_reported": s.months_reported, "above_scale": s.above_scale,
             "basis": s.basis, "threshold": s.threshold.revenue, "sector": s.threshold.sector,
             "source": s.threshold.source}
            for s in found
        ]  # fmt: skip
    await repository.replace_scale(session, ctx.park_id, ids, rows)


async def put(
    session: AsyncSession, *, ctx: ParkContext, enterprise_id: str, month: str, data: ReportWrite
) -> ReportRead:
    key = (ctx.park_id, enterprise_id, parse_month(month))
    await _check_enterprise(session, ctx, enterprise_id)
    await _write(session, key, data, ctx.key.id, "api")
    await _rescale(session, ctx, [enterprise_id])
    return await get(session, ctx=ctx, enterprise_id=enterprise_id, month=month)


async def accept(
    session: AsyncSession, *, ctx: ParkContext, enterprise_id: str, month: date, data: ReportWrite
) -> None:
    """Make an enterprise's accepted submission the month's figures (source ``submission``)."""
    await _write(session, (ctx.park_id, enterprise_id, month), data, ctx.key.id, "submission")
    await _rescale(session, ctx, [enterprise_id])


async def get(
    session: AsyncSession, *, ctx: ParkContext, enterprise_id: str, month: str
) -> ReportRead:
    row = await repository.get_report(session, ctx.park_id, enterprise_id, parse_month(month))
    if row is None:
        raise NotFound(f"no report of {enterprise_id!r} for {month} in park {ctx.park_id!r}")
    return ReportRead.model_validate(dict(row))


async def list_(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    filters: ReportFilters,
    page: PageParams,
) -> Page[ReportRead]:
    after = page.after(2)
    values = filters.model_dump()
    values["month"] = parse_month(filters.month) if filters.month else None
    rows = await repository.list_reports(
        session, ctx.park_id, values, (after[0], after[1]) if after else None, page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [r["month"], r["enterprise_id"]])
    return Page[ReportRead](
        items=[ReportRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


async def revisions(
    session: AsyncSession, *, ctx: ParkContext, enterprise_id: str, month: str
) -> list[Revision]:
    await get(session, ctx=ctx, enterprise_id=enterprise_id, month=month)
    rows = await repository.revisions(session, ctx.park_id, enterprise_id, parse_month(month))
    return [Revision.model_validate(dict(r)) for r in rows]


async def scale_history(
    session: AsyncSession, *, ctx: ParkContext, enterprise_id: str
) -> list[ScaleChange]:
    await _check_enterprise(session, ctx, enterprise_id)
    rows = await repository.scale_history(session, ctx.park_id, enterprise_id)
    return [ScaleChange.model_validate(dict(r)) for r in rows]


# ---------------------------------------------------------------- import


def _record(
    index: int, raw: dict[str, Any], errors: list[dict[str, Any]]
) -> tuple[str, str, ReportWrite] | None:
    cells = {k: v for k, v in raw.items() if v not in (None, "") and k not in IGNORED}
    enterprise_id, month = cells.pop("enterprise_id", None), cells.pop("month", None)
    unresolved = cells.pop("_unresolved", False)
    for name, value in (("enterprise_id", enterprise_id), ("month", month)):
        if value is None and not (unresolved and name == "enterprise_id"):
            errors.append({"row": index, "field": name, "reason": "missing"})
    if month is not None and not re.match(MONTH_PATTERN, str(month)):
        errors.append({"row": index, "field": "month", "reason": f"{month!r} is not YYYY-MM"})
        month = None
    try:
        data = ReportWrite.model_validate(cells)
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or None
            errors.append({"row": index, "field": field, "reason": e["msg"]})
        return None
    if enterprise_id is None or month is None:
        return None
    return str(enterprise_id), str(month), data


Record = tuple[int, str, str, ReportWrite]  # row number, enterprise, month, figures


def _validate(rows: list[dict[str, Any]]) -> tuple[list[Record], list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    records: list[Record] = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(rows, start=1):
        record = _record(index, raw, errors)
        if record is None:
            continue
        if (record[0], record[1]) in seen:
            errors.append({"row": index, "field": None, "reason": "repeats an earlier row"})
        seen.add((record[0], record[1]))
        records.append((index, *record))
    return records, errors


async def _resolve_credit_codes(
    session: AsyncSession, ctx: ParkContext, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows naming the firm by 统一社会信用代码 alone get its ``enterprise_id``."""
    wanted = {
        str(r["credit_code"]).strip().upper()
        for r in rows
        if r.get("credit_code") and not r.get("enterprise_id")
    }
    if not wanted:
        return []
    known = await repository.ids_by_credit_code(session, ctx.park_id, sorted(wanted))
    errors = []
    for index, row in enumerate(rows, start=1):
        if row.get("credit_code") and not row.get("enterprise_id"):
            code = str(row["credit_code"]).strip().upper()
            if code in known:
                row["enterprise_id"] = known[code]
            else:
                reason = f"no enterprise with credit code {code!r} in the park"
                errors.append({"row": index, "field": "credit_code", "reason": reason})
                row["enterprise_id"] = None
                row["_unresolved"] = True
    return errors


async def import_reports(
    session: AsyncSession, *, ctx: ParkContext, rows: list[dict[str, Any]], dry_run: bool
) -> ImportResult:
    """Every row checked before anything is written; any bad row: 422 listing them all."""
    if len(rows) > MAX_IMPORT_ROWS:
        raise Unprocessable(f"at most {MAX_IMPORT_ROWS} rows per import")
    errors = await _resolve_credit_codes(session, ctx, rows)
    records, more = _validate(rows)
    errors += more
    ids = sorted({r[1] for r in records})
    known = await repository.enterprise_ids(session, ctx.park_id, ids)
    errors += [
        {"row": r[0], "field": "enterprise_id", "reason": f"unknown enterprise {r[1]!r}"}
        for r in records
        if r[1] not in known
    ]
    if errors:
        errors.sort(key=lambda e: e["row"] or 0)
        raise Unprocessable(f"{len(errors)} bad row(s): nothing imported", errors=errors)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    async with session.begin_nested() as savepoint:
        for _, enterprise_id, month, data in records:
            key = (ctx.park_id, enterprise_id, parse_month(month))
            counts[await _write(session, key, data, ctx.key.id, "import")] += 1
        if ids:
            await _rescale(session, ctx, ids)
        if dry_run:
            await savepoint.rollback()
    return ImportResult(dry_run=dry_run, rows=len(records), **counts)


def rows_of_body(media: str, body: IO[bytes], limits: TableLimits) -> list[dict[str, Any]]:
    """The rows of an import body (CPU-bound: the router runs it in a thread)."""
    try:
        return tables.read_rows(media, body, limits)
    except tables.TableError as exc:
        raise Unprocessable(
            f"body: {exc}", errors=[{"row": None, "field": None, "reason": str(exc)}]
        ) from exc
