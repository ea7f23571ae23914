"""The annual carbon report as files: CSV and XLSX (app.reports.files) and the PDF
年度碳排放报告 (app.reports.pdf), in Chinese with units or with the machine names."""

from __future__ import annotations

from typing import Any

from app.reports import files, pdf

COLUMNS = [
    "carrier",
    "unit",
    "scope",
    "quantity",
    "coef_equivalent_kgce",
    "coef_equivalent_source",
    "coef_equal_value_kgce",
    "coef_equal_value_source",
    "tce_equivalent",
    "tce_equal_value",
    "factor_location_kgco2",
    "factor_location_valid_from",
    "factor_location_source",
    "factor_market_kgco2",
    "factor_market_valid_from",
    "factor_market_source",
    "green_kwh",
    "location_t",
    "market_t",
]
LABELS = {
    "carrier": "能源品种",
    "unit": "计量单位",
    "scope": "范围",
    "quantity": "实物量",
    "coef_equivalent_kgce": "折标系数 当量值（kgce/单位）",
    "coef_equivalent_source": "当量值系数来源",
    "coef_equal_value_kgce": "折标系数 等价值（kgce/单位）",
    "coef_equal_value_source": "等价值系数来源",
    "tce_equivalent": "综合能耗（tce，当量值）",
    "tce_equal_value": "综合能耗（tce，等价值）",
    "factor_location_kgco2": "排放因子 基于位置（kgCO₂/单位）",
    "factor_location_valid_from": "基于位置因子生效日",
    "factor_location_source": "基于位置因子来源",
    "factor_market_kgco2": "排放因子 基于市场（kgCO₂/单位）",
    "factor_market_valid_from": "基于市场因子生效日",
    "factor_market_source": "基于市场因子来源",
    "green_kwh": "绿电（kWh）",
    "location_t": "排放量 基于位置（tCO₂）",
    "market_t": "排放量 基于市场（tCO₂）",
}
TOTALS = {
    "tce_equivalent": "综合能耗（tce，当量值）",
    "tce_equal_value": "综合能耗（tce，等价值）",
    "scope1_t": "范围一排放量（tCO₂）",
    "scope2_location_t": "范围二排放量 基于位置（tCO₂）",
    "scope2_market_t": "范围二排放量 基于市场（tCO₂）",
    "total_location_t": "排放总量 基于位置（tCO₂）",
    "total_market_t": "排放总量 基于市场（tCO₂）",
    "green_kwh": "绿电（kWh）",
    "value_added": "工业增加值（万元）",
    "tce_per_value_added": "单位增加值能耗（tce/万元）",
    "co2_per_value_added": "单位增加值排放（tCO₂/万元）",
    "co2_per_tce": "单位能耗排放（tCO₂/tce）",
    "clean_energy_share": "清洁能源占比（基于市场）",
    "tce_equivalent_excl_renewables": "综合能耗 不含可再生能源（tce，当量值）",
    "tce_equal_value_excl_renewables": "综合能耗 不含可再生能源（tce，等价值）",
    "process_t": "其中 工业生产过程排放（tCO₂）",
    "biogenic_t": "生物质燃烧排放（tCO₂，单独报告，不计入总量）",
    "co2_per_tce_location": "单位能耗碳排放 基于位置（tCO₂/tce）",
    "co2_per_tce_market": "单位能耗碳排放 基于市场（tCO₂/tce）",
    "clean_energy_share_location": "清洁能源消费占比 基于位置",
    "clean_energy_share_market": "清洁能源消费占比 基于市场（含绿电、绿证）",
}
INDICATORS = {"co2_per_tce": "单位能耗碳排放（tCO₂/tce）",
              "clean_energy_share": "清洁能源消费占比"}  # fmt: skip
BASES = {"location": "基于位置", "market": "基于市场"}


def _part(version: dict[str, Any] | None, field: str) -> Any:
    if version is None:
        return ""
    return _cited(version) if field == "source" else version[field]


def _cited(version: dict[str, Any]) -> str:
    """The row's source, then the document it cites: title, issuer, date, table."""
    parts = [version.get(k) for k in ("document", "issuer", "issued_on", "table_ref")]
    cited = "，".join(str(p) for p in parts if p)
    return f"{version['source']}｜{cited}" if cited else str(version["source"])


def audit_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One row per audit line, in the order of :data:`COLUMNS`."""
    rows = []
    for line in report["audit"]:
        ceq, cev = line["coefficient_equivalent"], line["coefficient_equal_value"]
        loc, mkt = line["factor_location"], line["factor_market"]
        rows.append(
            [
                line["carrier"],
                line["unit"],
                line["scope"] or "",
                line["quantity"],
                _part(ceq, "value"),
                _part(ceq, "source"),
                _part(cev, "value"),
                _part(cev, "source"),
                line["tce_equivalent"],
                line["tce_equal_value"],
                _part(loc, "value"),
                _part(loc, "valid_from"),
                _part(loc, "source"),
                _part(mkt, "value"),
                _part(mkt, "valid_from"),
                _part(mkt, "source"),
                line["green_kwh"],
                line["location_t"],
                line["market_t"],
            ]
        )
    return rows


def header(lang: files.Lang) -> list[str]:
    return COLUMNS if lang == "en" else [LABELS[c] for c in COLUMNS]


def _meta(report: dict[str, Any], lang: files.Lang) -> list[Any]:
    if lang == "en":
        return [
            "# park",
            report["park_id"],
            "enterprise",
            report["enterprise_id"] or "",
            "year",
            report["year"],
            "grid_region",
            report["grid_region"],
        ]
    tz = report["timezone"]
    return [
        "# 园区",
        report["park_id"],
        "企业",
        report["enterprise_id"] or "",
        "年度",
        report["year"],
        "电网区域",
        report["grid_region"],
        f"生成时间（{tz}）",
        files.local_time(report["generated_at"], tz),
    ]


def _totals(report: dict[str, Any], lang: files.Lang) -> list[list[Any]]:
    def name(key: str) -> str:
        return f"# total {key}" if lang == "en" else "合计 " + TOTALS.get(key, key)

    return [[name(k), "" if v is None else v] for k, v in report["totals"].items()]


def csv_bytes(report: dict[str, Any], lang: files.Lang) -> bytes:
    """A comment row (park, enterprise, year, region), the audit table, a blank row, totals."""
    rows = [_meta(report, lang), header(lang), *audit_rows(report), [], *_totals(report, lang)]
    return files.csv_rows_bytes(rows)


def xlsx_bytes(report: dict[str, Any], lang: files.Lang) -> bytes:
    """The audit table (header frozen), a blank row, then the totals."""
    rows = [*audit_rows(report), [], *_totals(report, lang)]
    return files.xlsx_bytes(header(lang), rows, f"carbon-{report['year']}")


PDF_AUDIT = [
    "carrier",
    "unit",
    "quantity",
    "coef_equal_value_kgce",
    "coef_equal_value_source",
    "tce_equal_value",
    "factor_location_kgco2",
    "factor_location_valid_from",
    "factor_location_source",
    "location_t",
    "market_t",
]
PDF_MONTHS = [
    ("period", "月份"),
    ("tce_equivalent", "综合能耗（tce，当量值）"),
    ("tce_equal_value", "综合能耗（tce，等价值）"),
    ("scope1_t", "范围一（tCO₂）"),
    ("scope2_location_t", "范围二 基于位置（tCO₂）"),
    ("scope2_market_t", "范围二 基于市场（tCO₂）"),
]


def _cells(row: list[Any]) -> list[str]:
    return [pdf.number(v, 4) if isinstance(v, float) else pdf.number(v) for v in row]


def _audit_table(report: dict[str, Any]) -> list[list[str]]:
    index = [COLUMNS.index(c) for c in PDF_AUDIT]
    lines = [[row[i] for i in index] for row in audit_rows(report)]
    return [[LABELS[c] for c in PDF_AUDIT], *(_cells(r) for r in lines)]


def _months_table(report: dict[str, Any]) -> list[list[str]]:
    rows = [
        [str(m["period"])[:7], *_cells([m[k] for k, _ in PDF_MONTHS[1:]])] for m in report["months"]
    ]
    return [[label for _, label in PDF_MONTHS], *rows]


def document(report: dict[str, Any], *, park: str) -> pdf.Document:
    """年度碳排放报告: totals, months, the audit lines with each factor's source, the method."""
    tz, generated = report["timezone"], report["generated_at"]
    subject = report["enterprise_id"] or park
    totals = [["指标", "数值"]] + [
        [TOTALS.get(k, k), pdf.number(v, 4)] for k, v in report["totals"].items()
    ]
    return pdf.Document(
        title=f"{subject} {report['year']} 年度碳排放报告",
        facts=[
            ("园区", park),
            ("企业", report["enterprise_id"] or "全园区"),
            ("报告期", f"{report['year']}-01-01 至 {report['year']}-12-31"),
            ("电网区域", report["grid_region"]),
            ("生成时间", f"{files.local_time(generated, tz)}（{tz}）"),
        ],
        sections=[
            pdf.Section("一、合计", totals),
            pdf.Section("二、分月", _months_table(report)),
            pdf.Section("三、核算明细（每条均列出所用系数、因子及其来源）", _audit_table(report)),
            pdf.Section("四、零碳园区指标（发改环资〔2025〕910号，待核实）", _zero_carbon(report)),
            pdf.Section("五、核算方法", [], [report["method"]]),
        ],
    )


def _zero_carbon(report: dict[str, Any]) -> list[list[str]]:
    rows = [["指标", "口径", "数值", "目标", "是否达标"]]
    for z in report.get("zero_carbon", []):
        target = "" if z["target"] is None else f"{z['comparator']} {z['target']}"
        meets = {True: "达标", False: "未达标", None: "不适用"}[z["meets"]]
        rows.append([INDICATORS.get(z["indicator"], z["indicator"]), BASES[z["basis"]],
                     pdf.number(z["value"], 4), target, meets])  # fmt: skip
    return rows
