"""The Chinese column labels, with units, of the economy module's files (app.reports)."""

from __future__ import annotations

LABELS = {
    "enterprise_id": "企业编号",
    "name": "企业名称",
    "month": "月份",
    "output_value": "工业总产值（万元）",
    "value_added": "工业增加值（万元）",
    "revenue": "营业收入（万元）",
    "tax": "税收（万元）",
    "employees": "从业人员（人）",
    "rd_spend": "研发投入（万元）",
    "emissions": "主要污染物排放量（t）",
    "energy_tce": "综合能耗（tce，等价值）",
    "digital_transformed": "已数字化转型",
    "digital_services": "使用数字化服务",
    "created_at": "创建时间",
    "created_by": "创建人",
    "updated_at": "更新时间",
    "updated_by": "更新人",
    "id": "编号",
    "field": "字段",
    "old_value": "原值",
    "new_value": "新值",
    "source": "来源",
    "changed_at": "修改时间",
    "changed_by": "修改人",
    "above_scale": "规上",
    "previous": "上月规上",
    "trailing_revenue": "认定依据营业收入（万元）",
    "basis": "认定依据",
    "threshold": "规上标准（万元）",
    "sector": "行业类别",
    "months_reported": "已报月数",
    "section": "行业门类（GB/T 4754）",
    "enterprises": "企业数",
    "baseline_kwh": "基准日用电量（kWh）",
    "date": "日期",
    "kwh": "用电量（kWh）",
    "monitored": "监测企业数",
    "operating": "开工",
    "operating_rate": "开工率",
    "index": "电力指数",
    "kind": "类型",
    "detail": "详情",
    "detected_at": "发现时间",
    "firm_class": "企业类别",
    "land_mu": "用地面积（亩）",
    "score": "得分",
    "rank": "排名",
    "grade": "等级",
    "reason": "说明",
    "tax_per_mu": "亩均税收（万元/亩）",
    "value_added_per_mu": "亩均工业增加值（万元/亩）",
    "value_added_per_energy": "单位能耗增加值（万元/tce）",
    "value_added_per_emission": "单位排放增加值（万元/t）",
    "labour_productivity": "全员劳动生产率（万元/人）",
    "rd_ratio": "研发经费占营业收入比",
    "tax_per_kwh": "单位电耗税收（元/kWh）",
}
SUFFIXES = {
    "_ytd_yoy_note": "累计同比说明",
    "_ytd_yoy": "累计同比（比率）",
    "_ytd": "累计（1-N月）",
    "_yoy_note": "同比说明",
    "_mom_note": "环比说明",
    "_yoy": "同比（比率）",
    "_mom": "环比（比率）",
    "_benchmark": "基准值",
    "_points": "得分",
}
"""Longest first: ``x_ytd_yoy`` is 累计同比, not the 同比 of ``x_ytd``."""


def label(key: str) -> str:
    """``value_added_yoy`` → ``工业增加值（万元）同比（比率）``; unknown keys as they are."""
    for suffix, text in SUFFIXES.items():
        if key.endswith(suffix) and key.removesuffix(suffix) in LABELS:
            return LABELS[key.removesuffix(suffix)] + " " + text
    return LABELS.get(key, key)
