"""The annual carbon report of the park or one enterprise: totals, months, and the audit
lines (quantity x each coefficient and factor version, with its source), as JSON or a
printable HTML page here, as CSV, XLSX or PDF through app.carbon.exports."""

from __future__ import annotations

import csv
import html
import io
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.tenancy.enterprises import load as load_enterprise
from app.carbon import exports, green, ledger, repository, summary, zerocarbon
from app.carbon.ledger import Ledger, Line
from app.parks import repository as parks
from app.parks.deps import ParkContext
from app.reports import pdf

AuditKey = tuple[str, int | None, int | None, int | None, int | None, int | None]


async def build(
    session: AsyncSession, *, ctx: ParkContext, year: int, enterprise_id: str | None
) -> dict[str, Any]:
    if enterprise_id is not None:
        await load_enterprise(session, ctx, enterprise_id)
    group_by = "park" if enterprise_id is None else "enterprise"
    group = enterprise_id or ctx.park_id
    start, end = date(year, 1, 1), date(year, 12, 31)
    book = await ledger.build(
        session, park_id=ctx.park_id, tz=ctx.timezone, days=(start, end), group_by=group_by,
        step="month", only=group,
    )  # fmt: skip
    book.lines = [x for x in book.lines if x.group == group]
    months = {date(year, m, 1) for m in range(1, 13)}
    value_added = summary.value_added(book, group_by, group, months)
    process = [dict(r) for r in await repository.process_emissions(
        session, ctx.park_id, year, enterprise_id)]  # fmt: skip
    totals = summary.totals(book, book.lines, value_added, sum(p["co2_t"] for p in process))
    match = book.matches.get((group, year))
    return {
        "park_id": ctx.park_id,
        "enterprise_id": enterprise_id,
        "year": year,
        "timezone": ctx.timezone,
        "grid_region": await repository.region(session, ctx.park_id),
        "generated_at": datetime.now(UTC),
        "totals": totals,
        # the notice sets targets for parks: an enterprise's figures are shown without them
        "zero_carbon": zerocarbon.indicators(
            totals, await repository.targets(session) if enterprise_id is None else []
        ),
        "carriers": summary.carrier_rows(book, book.lines),
        "months": summary.rows(book, group_by=group_by, interval="month", start=start),
        "audit": audit_lines(book),
        "green_power": [] if match is None else [green.as_dict(match)],
        "process_emissions": process,
        "method": METHOD,
    }


METHOD = (
    "tce = quantity x coefficient (kgce/unit) / 1000, 当量值 and 等价值; "
    "location tCO2 = quantity x factor (kgCO2/unit) / 1000; market tCO2 (grid) = (quantity - "
    "green_kwh) x market factor / 1000 (the location factor where none is published); green "
    "power matched over the year (绿证 by vintage); fuel factors = NCV x carbon content x "
    "oxidation x 44/12; purchased steam = kg x (enthalpy - 83.74 kJ/kg) x 0.11 kgCO2/MJ; "
    "biomass CO2 reported apart (biogenic_t); process emissions as entered (Scope 1); "
    "self-consumed PV counts 0; exported PV is not deducted. Each audit line names the "
    "versions in force on its days, with document, issuer, date and table."
)


def _version(table: dict[int, Any], row_id: int | None) -> dict[str, Any] | None:
    if row_id is None:
        return None
    row = dict(table[row_id])
    for key in ("value", "ncv", "carbon_content", "oxidation"):
        if row.get(key) is not None:
            row[key] = float(row[key])
    return row


def audit_lines(book: Ledger) -> list[dict[str, Any]]:
    grouped: dict[AuditKey, list[Line]] = defaultdict(list)
    for x in book.lines:
        key = (x.carrier, x.coefficient_equivalent, x.coefficient_equal_value,
               x.factor_location, x.factor_market, x.factor_biogenic)  # fmt: skip
        grouped[key].append(x)
    out = []
    for key, lines in sorted(grouped.items(), key=lambda kv: (kv[0][0], str(kv[0][1:]))):
        carrier = key[0]
        row = summary.carrier_rows(book, lines)[0]
        scoped = book.carriers[carrier]["scope"] is not None
        out.append({
            **row,
            "coefficient_equivalent": _version(book.coefficients, key[1]),
            "coefficient_equal_value": _version(book.coefficients, key[2]),
            "factor_location": _version(book.factors, key[3]) if scoped else None,
            "factor_market": _version(book.factors, key[4]) if scoped else None,
            "factor_biogenic": _version(book.factors, key[5]),
        })  # fmt: skip
    return out


CSV_COLUMNS = exports.COLUMNS


def csv_text(report: dict[str, Any]) -> str:
    """The machine CSV (``en`` headers) as text, without the BOM."""
    return exports.csv_bytes(report, "en").decode("utf-8-sig")


async def pdf_bytes(
    session: AsyncSession, *, ctx: ParkContext, report: dict[str, Any], font: str = ""
) -> bytes:
    """年度碳排放报告 as PDF bytes, drawn off the event loop."""
    park = await parks.get(session, ctx.park_id)
    name = str(park["name"]) if park is not None else ctx.park_id
    return await to_thread.run_sync(pdf.render, exports.document(report, park=name), font)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0;"
    "font-size:90%}td,th{border:1px solid #999;padding:2px 6px;text-align:right}"
    "@media print{body{margin:0}}"
)


def html_page(report: dict[str, Any]) -> str:
    title = f"Carbon report {report['year']}: {report['enterprise_id'] or report['park_id']}"
    lines = list(csv.reader(io.StringIO(csv_text(report))))
    audit = [r for r in lines[2:] if r and not r[0].startswith("#")]
    totals = [[k, v] for k, v in report["totals"].items()]
    months = [[m["period"], m["tce_equivalent"], m["tce_equal_value"], m["scope1_t"],
               m["scope2_location_t"], m["scope2_market_t"]] for m in report["months"]]  # fmt: skip
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Park {html.escape(report['park_id'])}, timezone {html.escape(report['timezone'])}, "
        f"grid region {html.escape(report['grid_region'])}, generated "
        f"{report['generated_at']:%Y-%m-%d %H:%M} UTC.</p><h2>Totals</h2>"
        + _table(["indicator", "value"], totals)
        + "<h2>Months</h2>"
        + _table(
            [
                "month",
                "tce 当量值",
                "tce 等价值",
                "Scope 1 t",
                "Scope 2 location t",
                "Scope 2 market t",
            ],
            months,
        )
        + "<h2>Audit lines (every coefficient and factor with its source)</h2>"
        + _table(CSV_COLUMNS, audit)
        + f"<h2>Method</h2><p>{html.escape(METHOD)}</p></body></html>"
    )
