"""The enterprise's monthly report, from draft to accepted (app/economy/submissions.py).

Enterprise side, ``/parks/{park_id}/enterprises/{enterprise_id}/reports/...``: the enterprise's
own key, or park staff on its behalf (reads: viewer; writes: admin, as the park's own report
writes). Park side, ``/parks/{park_id}/economy/...``: returning, accepting and reopening need
the admin role, because accepting makes the figures the park's official statistics, which only
the admin may enter (PUT, import); the lists and the audit trail are reads (viewer).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.core.auth import Role
from app.core.db import SessionDep
from app.core.http import PROBLEMS, SettingsDep
from app.core.pagination import Page, PageDep
from app.core.types import IDENT_PATTERN
from app.economy import submissions
from app.economy.flow_schemas import (
    Overdue,
    ReturnBody,
    ReviewBody,
    SubmissionFilters,
    SubmissionRead,
    SubmissionWrite,
    SubmitBody,
    Trail,
)
from app.economy.schemas import MONTH_PATTERN, Month
from app.parks.deps import (
    EnterpriseContext,
    EnterpriseViewer,
    ParkAdmin,
    ParkViewer,
    enterprise_access,
)

enterprise_router = APIRouter(
    prefix="/api/v1/parks/{park_id}/enterprises/{enterprise_id}/reports",
    tags=["economy", "enterprise"],
    responses=PROBLEMS,
)
park_router = APIRouter(
    prefix="/api/v1/parks/{park_id}/economy", tags=["economy"], responses=PROBLEMS
)

EnterpriseAdmin = Annotated[EnterpriseContext, Depends(enterprise_access(Role.admin))]
EnterpriseIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the enterprise's id")]
MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")]
STATES = (
    "States: `draft` → `submitted` → `returned` (with the park's comment) → `resubmitted` → "
    "`accepted`; an accepted report may be reopened by the park (back to `returned`)."
)


@enterprise_router.get(
    "", response_model=Page[SubmissionRead], summary="The enterprise's monthly reports"
)
async def list_own(
    ctx: EnterpriseViewer,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    filters: Annotated[SubmissionFilters, Query()],
) -> Page[SubmissionRead]:
    return await submissions.list_(
        session, ctx=ctx, enterprise_id=ctx.enterprise_id, filters=filters, page=page,
        settings=settings,
    )  # fmt: skip


@enterprise_router.get(
    "/{month}",
    response_model=SubmissionRead,
    summary="The enterprise's report of a month (state `none`: nothing saved yet)",
    description="With its deadline and the figures flagged against the previous month and the "
    "same month last year (`flags`). " + STATES,
)
async def get_own(
    ctx: EnterpriseViewer, session: SessionDep, settings: SettingsDep, month: MonthPath
) -> SubmissionRead:
    return await submissions.get(session, ctx=ctx, month=month, settings=settings)


@enterprise_router.put(
    "/{month}",
    response_model=SubmissionRead,
    summary="Save the enterprise's report of a month (a draft, or a returned one)",
    description="Replaces the figures (10⁴ yuan; people for `employees`) and explanations; "
    "409 once submitted (until the park returns it). The answer lists the `flags`: figures "
    "that moved beyond `PARKTWIN_ECONOMY_REPORT_JUMP_RATIO` against the accepted figures of "
    "the previous month or the same month last year, each with both comparisons.",
)
async def save_own(
    ctx: EnterpriseAdmin,
    session: SessionDep,
    settings: SettingsDep,
    month: MonthPath,
    data: SubmissionWrite,
) -> SubmissionRead:
    return await submissions.save(session, ctx=ctx, month=month, data=data, settings=settings)


@enterprise_router.post(
    "/{month}/submit",
    response_model=SubmissionRead,
    summary="Submit (or resubmit) the saved report to the park",
    description="422 listing every flagged figure (with both comparisons) that has no "
    "explanation; `explanations` given here are added to the saved ones. " + STATES,
)
async def submit_own(
    ctx: EnterpriseAdmin,
    session: SessionDep,
    settings: SettingsDep,
    month: MonthPath,
    body: SubmitBody | None = None,
) -> SubmissionRead:
    said = body.explanations if body else {}
    return await submissions.submit(
        session, ctx=ctx, month=month, explanations=said, settings=settings
    )


@park_router.get(
    "/submissions",
    response_model=Page[SubmissionRead],
    summary="The enterprises' submitted reports (filter `state=submitted` to review)",
    description=STATES,
)
async def list_submissions(
    ctx: ParkViewer,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    filters: Annotated[SubmissionFilters, Query()],
    enterprise_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[SubmissionRead]:
    return await submissions.list_(
        session, ctx=ctx, enterprise_id=enterprise_id, filters=filters, page=page,
        settings=settings,
    )  # fmt: skip


@park_router.get(
    "/reports/overdue",
    response_model=Page[Overdue],
    summary="Enterprises whose monthly report is overdue",
    description="The park's enterprises with nothing submitted, in review or accepted, and no "
    "figures of the park's own, for `month` (default: the latest month whose deadline, day "
    "`PARKTWIN_ECONOMY_REPORT_DEADLINE_DAY` of the next month at 12:00 park-local, has "
    "passed); empty before the deadline.",
)
async def overdue(
    ctx: ParkViewer,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    month: Annotated[Month | None, Query()] = None,
) -> Page[Overdue]:
    now = datetime.now(UTC)
    return await submissions.overdue(
        session, ctx=ctx, month=month, page=page, settings=settings, now=now
    )


@park_router.get(
    "/reports/{enterprise_id}/{month}/trail",
    response_model=Trail,
    summary="Who submitted, returned, accepted what when (the audit trail)",
)
async def trail(
    ctx: ParkViewer, session: SessionDep, enterprise_id: EnterpriseIdPath, month: MonthPath
) -> Trail:
    return await submissions.trail(session, ctx=ctx, enterprise_id=enterprise_id, month=month)


@park_router.post(
    "/reports/{enterprise_id}/{month}/return",
    response_model=SubmissionRead,
    summary="Return a submitted report to the enterprise with a comment (admin)",
)
async def return_report(
    ctx: ParkAdmin,
    session: SessionDep,
    settings: SettingsDep,
    enterprise_id: EnterpriseIdPath,
    month: MonthPath,
    body: ReturnBody,
) -> SubmissionRead:
    return await submissions.review(
        session, ctx=ctx, enterprise_id=enterprise_id, month=month, action="return",
        comment=body.comment, settings=settings,
    )  # fmt: skip


@park_router.post(
    "/reports/{enterprise_id}/{month}/accept",
    response_model=SubmissionRead,
    summary="Accept a submitted report: its figures become the month's figures (admin)",
)
async def accept_report(
    ctx: ParkAdmin,
    session: SessionDep,
    settings: SettingsDep,
    enterprise_id: EnterpriseIdPath,
    month: MonthPath,
    body: ReviewBody | None = None,
) -> SubmissionRead:
    return await submissions.review(
        session, ctx=ctx, enterprise_id=enterprise_id, month=month, action="accept",
        comment=body.comment if body else None, settings=settings,
    )  # fmt: skip


@park_router.post(
    "/reports/{enterprise_id}/{month}/reopen",
    response_model=SubmissionRead,
    summary="Reopen an accepted report for the enterprise to correct (admin)",
    description="Back to `returned` with the comment; the accepted figures count until the "
    "corrected report is accepted.",
)
async def reopen_report(
    ctx: ParkAdmin,
    session: SessionDep,
    settings: SettingsDep,
    enterprise_id: EnterpriseIdPath,
    month: MonthPath,
    body: ReturnBody,
) -> SubmissionRead:
    return await submissions.review(
        session, ctx=ctx, enterprise_id=enterprise_id, month=month, action="reopen",
        comment=body.comment, settings=settings,
    )  # fmt: skip
