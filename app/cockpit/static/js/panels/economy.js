// 经济运行: last month's overview (规上 count, 产值 and 增加值 with 同比; 累计 where the API
// gives it) from GET .../economy/overview, and last year's 亩均效益评价 grades (A/B/C/D, T for
// not rated) from GET .../economy/per-mu.
import * as echarts from "../../vendor/echarts.esm.min.js";
import { query } from "../api.js";
import { t } from "../i18n.js";
import { localDate } from "../time.js";
import { change, chartTheme, figure, num, resizeWith } from "./common.js";

const GRADES = ["A", "B", "C", "D", "T"];
const GRADE_COLOURS = { A: "#2dc653", B: "#3a86ff", C: "#ffd60a", D: "#e5383b", T: "#6c757d" };

function previousMonth(today) {
  const [y, m] = today.split("-").map(Number);
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
}

export function createEconomy(ctx) {
  const box = document.getElementById("economy-chart");
  const chart = echarts.init(box);
  resizeWith(chart, box);
  const state = { overview: null, permu: null };

  async function load() {
    const today = localDate(ctx.tz);
    const [overview, permu] = await Promise.all([
      ctx.api.get(`${ctx.base}/economy/overview?${query({ month: previousMonth(today) })}`),
      ctx.api.get(`${ctx.base}/economy/per-mu?${query({ year: Number(today.slice(0, 4)) - 1 })}`),
    ]);
    Object.assign(state, { overview, permu });
    render();
    ctx.ready("economy");
  }

  function valueFigure(label, field) {
    const o = state.overview;
    const ytd = o.ytd?.totals?.[field] ?? o.ytd?.[field];
    const notes = [`${t("yoy")} ${change(o.yoy?.[field])}`];
    if (ytd !== undefined) notes.push(`${t("ytd")} ${num(ytd, 0)}`);
    return figure(label, o.totals[field] === null ? "—" : `${num(o.totals[field], 0)} 万元`, notes.join(" · "));
  }

  function render() {
    if (!state.overview) return;
    const o = state.overview;
    document.getElementById("economy-figures").replaceChildren(
      figure(t("month"), o.month, o.enterprises ? `${o.enterprises} ${t("enterprises")}` : t("noReport")),
      figure(t("aboveScale"), num(o.above_scale_count, 0)),
      valueFigure(t("outputValue"), "output_value"),
      valueFigure(t("valueAdded"), "value_added"),
    );
    const grades = Object.fromEntries(GRADES.map((g) => [g, 0]));
    for (const item of state.permu.items) grades[item.grade] = (grades[item.grade] ?? 0) + 1;
    chart.setOption({
      ...chartTheme(),
      title: { text: `${t("grades")} ${state.permu.year}`, textStyle: { color: "#8aa4c0", fontSize: 12 }, left: 0, top: 0 },
      tooltip: {},
      xAxis: { type: "category", data: GRADES, axisLabel: { color: "#8aa4c0" } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { color: "#8aa4c0" }, splitLine: { lineStyle: { color: "#1f3a5c" } } },
      series: [{ type: "bar", data: GRADES.map((g) => ({ value: grades[g], itemStyle: { color: GRADE_COLOURS[g] } })) }],
    }, { notMerge: true });
  }

  ctx.scheduler.every("economy", 600, load);
  return { render };
}
