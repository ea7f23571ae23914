// 绿色低碳: the year to date in tce (equivalent-value method, GB/T 2589-2020) and tCO₂
// (scope 1 + scope 2, location-based), each against the park's budget where one is set
// (GET .../carbon/budgets, with the API's own forecast), the clean-energy share, and tCO₂ by
// month. Every figure is the API's: the page computes none.
import * as echarts from "../../vendor/echarts.esm.min.js";
import { query } from "../api.js";
import { t } from "../i18n.js";
import { localDate } from "../time.js";
import { chartTheme, figure, num, pct, resizeWith } from "./common.js";

const BUDGET_METRIC = { energy_tce: "ytdTce", carbon_t: "ytdCo2" };

export function createCarbon(ctx) {
  const box = document.getElementById("carbon-chart");
  const chart = echarts.init(box);
  resizeWith(chart, box);
  const state = { ytd: null, months: null, budgets: null };

  async function load() {
    const today = localDate(ctx.tz);
    const year = today.slice(0, 4);
    const range = { from: `${year}-01-01`, to: today, group_by: "park" };
    // One ledger for the months and the year's total (total=true): it was computed twice.
    const [months, budgets] = await Promise.all([
      ctx.api.get(`${ctx.base}/carbon/emissions?${query({ ...range, interval: "month", total: true })}`),
      ctx.api.get(`${ctx.base}/carbon/budgets?${query({ year })}`),
    ]);
    Object.assign(state, { ytd: months.total[0] || null, months: months.rows, budgets });
    render();
    ctx.ready("carbon");
  }

  function budgetNote(metric) {
    const budget = (state.budgets || []).find((b) => b.metric === metric && !b.enterprise_id);
    if (!budget) return t("noBudget");
    return `${t("budget")} ${num(budget.cap, 0)} · ${pct(budget.share)} · ${t("forecast")} ${num(budget.forecast, 0)}`;
  }

  function render() {
    if (!state.months) return;
    const row = state.ytd || {};
    document.getElementById("carbon-figures").replaceChildren(
      figure(t(BUDGET_METRIC.energy_tce), `${num(row.tce_equivalent, 1)} tce`, budgetNote("energy_tce")),
      figure(t(BUDGET_METRIC.carbon_t), `${num(row.total_location_t, 1)} tCO₂`, budgetNote("carbon_t")),
      figure(t("cleanShare"), pct(row.clean_energy_share)),
    );
    chart.setOption({
      ...chartTheme(),
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: state.months.map((r) => r.period.slice(0, 7)), axisLabel: { color: "#8aa4c0" } },
      yAxis: { type: "value", name: "tCO₂", axisLabel: { color: "#8aa4c0" }, splitLine: { lineStyle: { color: "#1f3a5c" } } },
      series: [{ type: "bar", data: state.months.map((r) => r.total_location_t), itemStyle: { color: "#2dc653" } }],
    }, { notMerge: true });
  }

  ctx.scheduler.every("carbon", 300, load);
  return { render, state };
}
