"""The enterprise's monthly report, from draft to accepted (rules: app/economy/flow.py).

The figures that count in every calculation of the module (overview, 亩均, 规上 register,
exports) stay those of ``economy_report``: the park's own (PUT, import: accepted by
definition) and, from the moment the park accepts it, the enterprise's submission, copied in
with its field revisions (source ``submission``). A draft, a submitted or a returned report
counts nowhere. Every save and every move is a line of the audit trail.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.economy import flow, reports
from app.economy import flow_repository as repository
from app.economy import repository as report_repository
from app.economy.flow_schemas import (
    Comparison,
    Flag,
    Overdue,
    SubmissionFilters,
    SubmissionRead,
    SubmissionWrite,
    Trail,
    TrailEvent,
)
from app.economy.reports import parse_month
from app.economy.schemas import ReportWrite, Revision
from app.parks.deps import EnterpriseContext, ParkContext

Key = repository.Key


async def flags(
    session: AsyncSession,
    key: Key,
    figures: dict[str, Any],
    explanations: dict[str, str],
    ratio: float,
) -> list[Flag]:
    """The figures that moved beyond ``ratio`` against the accepted figures of the previous
    month or of the same month a year before, each with both comparisons."""
    month = key[2]
    before, year_ago = flow.previous_month(month), month.replace(year=month.year - 1)
    bases = await repository.accepted_figures(session, key[0], key[1], [before, year_ago])
    found = []
    for field in flow.CHECKED:
        value = figures.get(field)
        if value is None:
            continue
        mom, yoy = (
            flow.compare(value, _base(bases.get(m), field), flow.month_key(m), ratio)
            for m in (before, year_ago)
        )
        if mom.flagged or yoy.flagged:
            said = explanations.get(field)
            found.append(Flag(field=field, value=value, explanation=said, **_both(mom, yoy)))
    return found


def _both(mom: flow.Comparison, yoy: flow.Comparison) -> dict[str, Any]:
    return {"previous_month": Comparison(**mom.__dict__), "last_year": Comparison(**yoy.__dict__)}


def _base(row: RowMapping | None, field: str) -> float | None:
    return None if row is None or row[field] is None else float(row[field])


def _deadline(settings: Settings, month: date, timezone: str) -> datetime:
    return flow.deadline(month, settings.economy_report_deadline_day, timezone)


async def _read(
    session: AsyncSession, settings: Settings, ctx: ParkContext, key: Key, row: RowMapping | None
) -> SubmissionRead:
    base = {"enterprise_id": key[1], "month": flow.month_key(key[2])}
    values: dict[str, Any] = {"state": flow.NONE, "figures": None, "explanations": {}}
    values |= {"comment": None, "flags": []}
    if row is not None:
        values = dict(row)
        ratio = settings.economy_report_jump_ratio
        found = await flags(session, key, row["figures"], row["explanations"], ratio)
        values["flags"] = found
    values |= base | {"deadline_at": _deadline(settings, key[2], ctx.timezone)}
    return SubmissionRead.model_validate(values)


def _event(
    ctx: ParkContext, action: str, from_state: str | None, to_state: str, **rest: Any
) -> dict[str, Any]:
    who = {"by_key": ctx.key.id, "by_role": ctx.key.role.name, "comment": None}
    return {"action": action, "from_state": from_state, "to_state": to_state} | who | rest


def _moved(action: str, state: str) -> str:
    to = flow.next_state(action, state)
    if to is None:
        raise Conflict(f"a report in state {state!r} cannot be {_PAST[action]}")
    return to


_PAST = {"save": "edited", "submit": "submitted", "return": "returned", "accept": "accepted"}
_PAST["reopen"] = "reopened"


async def get(
    session: AsyncSession, *, ctx: EnterpriseContext, month: str, settings: Settings
) -> SubmissionRead:
    """The enterprise's report of ``month`` (state ``none`` when nothing is saved yet)."""
    key = (ctx.park_id, ctx.enterprise_id, parse_month(month))
    return await _read(session, settings, ctx, key, await repository.get(session, key))


async def save(
    session: AsyncSession,
    *,
    ctx: EnterpriseContext,
    month: str,
    data: SubmissionWrite,
    settings: Settings,
) -> SubmissionRead:
    """Create or replace the figures of a draft or a returned report."""
    key = (ctx.park_id, ctx.enterprise_id, parse_month(month))
    row = await repository.lock(session, key)
    state = row["state"] if row else flow.NONE
    to = _moved("save", state)
    figures = data.model_dump(exclude={"explanations"})
    explanations = _explanations(data.explanations)
    await repository.save(session, key, to, figures, explanations, ctx.key.id)
    event = _event(ctx, "save", None if row is None else state, to, figures=figures)
    await repository.add_event(session, key, event | {"explanations": explanations})
    return await get(session, ctx=ctx, month=month, settings=settings)


def _explanations(given: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(given) - set(flow.CHECKED))
    if unknown:
        raise Unprocessable(f"explanations: not a checked figure: {', '.join(unknown)}")
    return {f: text.strip() for f, text in given.items() if text.strip()}


async def submit(
    session: AsyncSession,
    *,
    ctx: EnterpriseContext,
    month: str,
    explanations: dict[str, str],
    settings: Settings,
) -> SubmissionRead:
    """Submit (or resubmit) the saved report; every flagged figure needs an explanation."""
    key = (ctx.park_id, ctx.enterprise_id, parse_month(month))
    row = await repository.lock(session, key)
    if row is None:
        raise Conflict(f"nothing saved for {month}: save the report (PUT) first")
    to = _moved("submit", row["state"])
    said = {**row["explanations"], **_explanations(explanations)}
    ratio = settings.economy_report_jump_ratio
    found = await flags(session, key, row["figures"], said, ratio)
    missing = [f for f in found if not f.explanation]
    if missing:
        raise Unprocessable(
            f"{len(missing)} figure(s) moved beyond ×{ratio:g} against the previous month or "
            f"the same month last year: explain each in `explanations`",
            errors=[f.model_dump(mode="json") for f in missing],
        )
    await repository.move(session, key, state=to, by=ctx.key.id, review=False,
                          explanations=said, comment=None)  # fmt: skip
    event = _event(ctx, "submit", row["state"], to, figures=row["figures"], explanations=said)
    await repository.add_event(session, key, event)
    return await get(session, ctx=ctx, month=month, settings=settings)


async def review(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    enterprise_id: str,
    month: str,
    action: str,
    comment: str | None,
    settings: Settings,
) -> SubmissionRead:
    """The park returns (with a comment), accepts or reopens the enterprise's report; an
    acceptance makes its figures the month's figures."""
    key = (ctx.park_id, enterprise_id, parse_month(month))
    row = await repository.lock(session, key)
    if row is None:
        if not await report_repository.enterprise_ids(session, ctx.park_id, [enterprise_id]):
            raise NotFound(f"enterprise {enterprise_id!r} not found in park {ctx.park_id!r}")
        raise Conflict(f"{enterprise_id!r} has submitted no report for {month}")
    to = _moved(action, row["state"])
    if action == "accept":
        data = ReportWrite.model_validate(row["figures"])
        await reports.accept(session, ctx=ctx, enterprise_id=enterprise_id, month=key[2], data=data)
    await repository.move(session, key, state=to, by=ctx.key.id, review=True,
                          explanations=row["explanations"], comment=comment)  # fmt: skip
    event = _event(ctx, action, row["state"], to, figures=row["figures"], comment=comment)
    await repository.add_event(session, key, event | {"explanations": row["explanations"]})
    return await _read(session, settings, ctx, key, await repository.get(session, key))


async def trail(
    session: AsyncSession, *, ctx: ParkContext, enterprise_id: str, month: str
) -> Trail:
    key = (ctx.park_id, enterprise_id, parse_month(month))
    row = await repository.get(session, key)
    revisions = await report_repository.revisions(session, *key)
    if row is None and not await report_repository.get_report(session, *key):
        raise NotFound(f"no report of {enterprise_id!r} for {month} in park {ctx.park_id!r}")
    events = await repository.events(session, key)
    return Trail(
        enterprise_id=enterprise_id,
        month=month,
        state=row["state"] if row else flow.NONE,
        events=[TrailEvent.model_validate(dict(e)) for e in events],
        revisions=[Revision.model_validate(dict(r)) for r in revisions],
    )


async def list_(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    enterprise_id: str | None,
    filters: SubmissionFilters,
    page: PageParams,
    settings: Settings,
) -> Page[SubmissionRead]:
    after = page.after(2)
    month = parse_month(filters.month) if filters.month else None
    values = {"enterprise_id": enterprise_id, "state": filters.state, "month": month}
    rows = await repository.list_(session, ctx.park_id, values, after, page.fetch_limit)
    items, cursor = paginate(rows, page, lambda r: [r["month"], r["enterprise_id"]])
    read = []
    for r in items:
        key = (ctx.park_id, r["enterprise_id"], parse_month(r["month"]))
        read.append(await _read(session, settings, ctx, key, r))
    return Page[SubmissionRead](items=read, next_cursor=cursor)


async def overdue(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    month: str | None,
    page: PageParams,
    settings: Settings,
    now: datetime,
) -> Page[Overdue]:
    """The enterprises that owe ``month``'s report past its deadline (default: the latest
    month whose deadline has passed); a month not yet due lists nobody."""
    day = settings.economy_report_deadline_day
    when = parse_month(month) if month else flow.latest_past_due(now, day, ctx.timezone)
    due = flow.deadline(when, day, ctx.timezone)
    after = page.after(1)
    rows = [] if now < due else await repository.not_reported(
        session, ctx.park_id, when, after[0] if after else None, page.fetch_limit
    )  # fmt: skip
    items, cursor = paginate(rows, page, lambda r: [r["enterprise_id"]])
    extra = {"month": flow.month_key(when), "deadline_at": due}
    return Page[Overdue](
        items=[Overdue.model_validate(dict(r) | extra) for r in items], next_cursor=cursor
    )


def remind_before(settings: Settings) -> timedelta:
    return timedelta(days=settings.economy_report_remind_days)
