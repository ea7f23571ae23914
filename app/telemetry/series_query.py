"""The query of a series read (``from``, ``to``, ``interval``, ``agg``, ``fill``) and its
answer (JSON, or ``ts,value`` lines for ``Accept: text/csv``): one definition for the park's
series route and the enterprise view's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from app.core.http import cached_json, cached_response
from app.core.types import UtcDateTime
from app.telemetry.intervals import Fill, IntervalName
from app.telemetry.repository import Agg
from app.telemetry.service import to_csv


@dataclass(frozen=True)
class SeriesQuery:
    start: datetime | None
    end: datetime | None
    interval_name: str | None
    agg: Agg | None
    fill: Fill

    def args(self) -> dict[str, Any]:
        """The keyword arguments of ``telemetry.service.series`` (but ``source``)."""
        return {
            "start": self.start,
            "end": self.end,
            "interval_name": self.interval_name,
            "agg": self.agg,
            "fill": self.fill,
        }


def series_query(
    from_: Annotated[
        UtcDateTime | None, Query(alias="from", description="default: `to` minus 24 hours")
    ] = None,
    to: Annotated[UtcDateTime | None, Query(description="default: now")] = None,
    interval: Annotated[IntervalName | None, Query(description="bucket size; none: raw")] = None,
    agg: Annotated[Agg | None, Query(description="default: delta for counters, else avg")] = None,
    fill: Annotated[Fill, Query(description="empty buckets: left out, null, 0, previous")] = "none",
) -> SeriesQuery:
    return SeriesQuery(from_, to, interval.value if interval else None, agg, fill)


SeriesQueryDep = Annotated[SeriesQuery, Depends(series_query)]


def series_response(request: Request, result: dict[str, Any]) -> Response:
    """The series as JSON, or as ``ts,value`` lines when the caller accepts ``text/csv``."""
    if "text/csv" in request.headers.get("accept", ""):
        return cached_response(request, to_csv(result), media_type="text/csv; charset=utf-8")
    return cached_json(request, result)
