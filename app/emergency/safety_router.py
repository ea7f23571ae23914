"""Casualties and reports of an incident (``.../incidents/{id}/casualties``, ``.../reports``),
major hazard sources (``.../hazard-sources``), the chemical catalogue, the accident grades and
drills (``.../emergency/...``). Included by ``app.emergency.router`` (same prefix)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Path, Query, Request, Response

from app.assets.twin.deps import CrsQuery, in_crs
from app.core.db import SessionDep
from app.core.errors import Unprocessable
from app.core.http import SettingsDep, cached_json, cached_response
from app.core.types import IDENT_PATTERN
from app.emergency import accident, drills, hazards, report_document, reporting
from app.emergency.safety_schemas import (
    ChemicalRead,
    DrillCreate,
    DrillRead,
    HazardSourceCreate,
    HazardSourceRead,
)
from app.emergency.schemas import CasualtiesIn, IncidentDetail, ReportRead
from app.idempotency.route import IDEMPOTENT, IdempotentRoute
from app.parks.deps import ParkAdmin, ParkOperator, ParkViewer
from app.reports import files

router = APIRouter(route_class=IdempotentRoute)

IncidentId = Annotated[uuid.UUID, Path(description="the incident's id")]
SourceId = Annotated[str, Path(pattern=IDENT_PATTERN, description="the hazard source's id")]
Format = Literal["json", "html", "pdf"]


@router.post(
    "/incidents/{incident_id}/casualties",
    summary="Record casualties and direct loss (operator): a 险情 becomes an accident",
    description="The figures as now known (absolute). Casualties or a loss make the incident a "
    "生产安全事故 with its grade (条例 Art. 3) and start the 1-hour report clock from when the "
    "unit learned of it (Art. 9); a casualty change after the first report within 30 days (7 "
    "for fire and road traffic) owes a 补报 (Art. 13). Every change is on the timeline.",
)
async def record_casualties(
    incident_id: IncidentId, data: CasualtiesIn, session: SessionDep, ctx: ParkOperator
) -> IncidentDetail:
    return await reporting.record_casualties(session, ctx=ctx, incident_id=incident_id, data=data)


@router.get(
    "/incidents/{incident_id}/reports",
    response_model=list[ReportRead],
    summary="The reports sent to the authorities (首报, 续报, 补报)",
)
async def list_reports(
    request: Request, incident_id: IncidentId, session: SessionDep, ctx: ParkViewer
) -> Response:
    found = await reporting.list_reports(session, ctx=ctx, incident_id=incident_id)
    return cached_json(request, [r.model_dump() for r in found])


def _format(request: Request, fmt: Format | None) -> Format:
    if fmt is not None:
        return fmt
    accept = request.headers.get("accept", "")
    if "application/pdf" in accept:
        return "pdf"
    return "html" if "text/html" in accept else "json"


@router.get(
    "/incidents/{incident_id}/reports/{report_id}",
    response_model=ReportRead,
    summary="One report: JSON, or the document (HTML, PDF) by `format` or `Accept`",
    description="The document lists 时间, 地点, 单位, 经过, 伤亡, 损失, 措施, 报告人 "
    "(条例 Art. 12), park-local times.",
)
async def get_report(
    request: Request,
    incident_id: IncidentId,
    report_id: int,
    session: SessionDep,
    ctx: ParkViewer,
    settings: SettingsDep,
    format: Annotated[Format | None, Query(description="default: by Accept")] = None,
) -> Response:
    found = await reporting.one_report(
        session, ctx=ctx, incident_id=incident_id, report_id=report_id
    )
    fmt = _format(request, format)
    if fmt == "pdf":
        body = await anyio.to_thread.run_sync(report_document.pdf_bytes, found, settings.pdf_font)
        return files.download(body, files.PDF, f"incident-report-{report_id}.pdf")
    if fmt == "html":
        page = report_document.html_page(found).encode()
        return cached_response(request, page, media_type="text/html; charset=utf-8")
    return cached_json(request, found.model_dump())


@router.get("/emergency/accident-grades", summary="The accident grades of 条例 Art. 3")
async def accident_grades(ctx: ParkViewer) -> dict[str, Any]:
    del ctx
    return {
        "source": f"{accident.SOURCE} 第三条 (grades), 第十条 (authority)",
        "rule": "the highest of the three criteria; 以上 includes the bound, 以下 excludes it",
        "grades": [
            {
                "id": g.id,
                "name_zh": g.name_zh,
                "min_deaths": g.min_deaths,
                "min_serious_injuries": g.min_serious_injuries,
                "min_direct_loss_yuan": float(g.min_loss_yuan) if g.min_loss_yuan else None,
                "reported_up_to": g.authority,
            }
            for g in accident.GRADES
        ],
    }


@router.get(
    "/emergency/chemicals",
    response_model=list[ChemicalRead],
    summary="Critical quantities Q and correction factors β in force (GB 18218-2018)",
)
async def list_chemicals(request: Request, session: SessionDep, ctx: ParkViewer) -> Response:
    found = await hazards.chemicals(session, ctx=ctx)
    return cached_json(request, [c.model_dump() for c in found])


@router.post(
    "/hazard-sources",
    status_code=201,
    summary="A hazard source (installation) with its inventory (admin); assessed by GB 18218",
    dependencies=[IDEMPOTENT],
)
async def create_hazard_source(
    data: HazardSourceCreate, session: SessionDep, ctx: ParkAdmin
) -> HazardSourceRead:
    return await hazards.save(session, ctx=ctx, data=data, replace=False)


@router.put("/hazard-sources/{source_id}", summary="Create or replace a hazard source (admin)")
async def put_hazard_source(
    source_id: SourceId, data: HazardSourceCreate, session: SessionDep, ctx: ParkAdmin
) -> HazardSourceRead:
    if data.id != source_id:
        raise Unprocessable("id: must equal the path's source_id")
    return await hazards.save(session, ctx=ctx, data=data, replace=True)


@router.get(
    "/hazard-sources",
    response_model=list[HazardSourceRead],
    summary="Hazard sources with Σq/Q, whether major, α, R and level",
)
async def list_hazard_sources(
    request: Request, session: SessionDep, ctx: ParkViewer, crs: CrsQuery = "wgs84"
) -> Response:
    found = await hazards.list_(session, ctx=ctx)
    return cached_json(request, in_crs([s.model_dump() for s in found], crs))


@router.get(
    "/hazard-sources/{source_id}", response_model=HazardSourceRead, summary="One hazard source"
)
async def get_hazard_source(
    request: Request,
    source_id: SourceId,
    session: SessionDep,
    ctx: ParkViewer,
    crs: CrsQuery = "wgs84",
) -> Response:
    found = await hazards.get(session, ctx=ctx, source_id=source_id)
    return cached_json(request, in_crs(found.model_dump(), crs))


@router.delete("/hazard-sources/{source_id}", status_code=204, summary="Remove (admin)")
async def delete_hazard_source(
    source_id: SourceId, session: SessionDep, ctx: ParkAdmin
) -> Response:
    await hazards.delete(session, ctx=ctx, source_id=source_id)
    return Response(status_code=204)


@router.post(
    "/emergency/drills",
    status_code=201,
    summary="Record a drill of a response plan with its findings (admin)",
    dependencies=[IDEMPOTENT],
)
async def create_drill(data: DrillCreate, session: SessionDep, ctx: ParkAdmin) -> DrillRead:
    return await drills.create(session, ctx=ctx, data=data)


@router.get("/emergency/drills", response_model=list[DrillRead], summary="Drills, newest first")
async def list_drills(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    plan_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    found = await drills.list_(session, ctx=ctx, plan_id=plan_id, limit=limit)
    return cached_json(request, [d.model_dump() for d in found])


@router.get("/emergency/drills/{drill_id}", response_model=DrillRead, summary="One drill")
async def get_drill(
    request: Request, drill_id: int, session: SessionDep, ctx: ParkViewer
) -> Response:
    return cached_json(
        request, (await drills.get(session, ctx=ctx, drill_id=drill_id)).model_dump()
    )
