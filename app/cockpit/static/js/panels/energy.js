// 能源: the park's electricity today against yesterday, hour by hour, and PV output, all in one
// read (GET .../energy/load: the root meters' hourly kWh, i.e. electricity meters without a
// parent meter, so no kWh counts twice; kWh in an hour is the hour's mean load in kW; each root
// meter's kWh per day for the top consumers); the load and PV output now (GET .../energy/now:
// the newest power_kw summed by the API, offline meters left out and counted); the 电力看经济
// index (GET .../economy/power-index).
import * as echarts from "../../vendor/echarts.esm.min.js";
import { query } from "../api.js";
import { t } from "../i18n.js";
import { addDays, localDate, localHour, localMidnight } from "../time.js";
import { chartTheme, el, emptyRow, figure, num, pct, resizeWith } from "./common.js";

export function createEnergy(ctx) {
  const box = document.getElementById("energy-chart");
  const chart = echarts.init(box);
  resizeWith(chart, box);
  const state = { hours: null, now: null, top: [], index: null };

  function byHour(points, key, day) {
    // One value per park-local hour of `day` (null: no reading in that hour).
    const hours = Array(24).fill(null);
    for (const p of points) {
      if (p[key] === null || localDate(ctx.tz, new Date(p.ts)) !== day) continue;
      const h = localHour(p.ts, ctx.tz);
      hours[h] = (hours[h] ?? 0) + p[key];
    }
    return hours;
  }

  async function loadCurve() {
    // Yesterday's start to today's end, park-local: the same question on every screen, so
    // the API answers them all from one computation and polls get 304s.
    const today = localDate(ctx.tz);
    const from = localMidnight(addDays(today, -1), ctx.tz).toISOString();
    const to = localMidnight(addDays(today, 1), ctx.tz).toISOString();
    // top=8: the API keeps each day's 8 biggest root meters (40,000 a day at 100,000 devices)
    const load = await ctx.api.get(`${ctx.base}/energy/load?${query({ from, to, bucket: "1h", top: 8 })}`);
    state.hours = {
      today: byHour(load.points, "load_kwh", today),
      yesterday: byHour(load.points, "load_kwh", addDays(today, -1)),
      pv: byHour(load.points, "pv_kwh", today),
    };
    state.top = load.meters.filter((m) => m.date === today).sort((a, b) => b.kwh - a.kwh).slice(0, 8)
      .map((m) => ({ name: m.name, consumption: m.kwh }));
    render();
  }

  async function loadNow() {
    // summed by the API (GET .../energy/now): one small answer at any park size, where every
    // meter's newest power_kw was 40,000 items at 100,000 devices
    state.now = await ctx.api.get(`${ctx.base}/energy/now`);
    render();
  }

  async function loadIndex() {
    const today = localDate(ctx.tz);
    const body = await ctx.api.get(`${ctx.base}/economy/power-index?${query({ from: addDays(today, -14), to: today })}`);
    const known = body.days.filter((d) => d.index !== null);
    state.index = { last: known.at(-1) || null, days: body.days };
    render();
  }

  function render() {
    if (!state.hours || !state.now || !state.index) return;
    const hourNow = localHour(new Date().toISOString(), ctx.tz);
    const todayKwh = state.hours.today.reduce((a, v) => a + (v ?? 0), 0);
    const sameHours = state.hours.yesterday.slice(0, hourNow + 1).reduce((a, v) => a + (v ?? 0), 0);
    const last = state.index.last;
    const { load, pv } = state.now; // load: root meters only, no kW counted twice
    const offline = (side) => (side.offline ? `${side.offline} ${t("offlineLeftOut")}` : "");
    document.getElementById("energy-figures").replaceChildren(
      figure(t("loadNow"), `${num(load.kw, 0)} kW`, offline(load)),
      figure(t("pvNow"), `${num(pv.kw, 0)} kW`, offline(pv)),
      figure(t("todayKwh"), `${num(todayKwh, 0)} kWh`, `${t("yesterdaySame")} ${num(sameHours, 0)}`),
      figure(t("powerIndex"), last ? num(last.index, 1) : "—",
        last ? `${t("operatingRate")} ${pct(last.operating_rate)} · ${last.date}` : ""),
    );
    chart.setOption({
      ...chartTheme(),
      legend: { top: 0, right: 0, textStyle: { color: "#8aa4c0" } },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: Array.from({ length: 24 }, (_, h) => `${h}:00`), axisLabel: { color: "#8aa4c0" } },
      yAxis: { type: "value", name: "kW", axisLabel: { color: "#8aa4c0" }, splitLine: { lineStyle: { color: "#1f3a5c" } } },
      series: [
        { name: t("today"), type: "line", smooth: true, data: state.hours.today, areaStyle: { opacity: 0.2 } },
        { name: t("yesterday"), type: "line", smooth: true, data: state.hours.yesterday, lineStyle: { type: "dashed" } },
        { name: t("pvToday"), type: "line", smooth: true, data: state.hours.pv, lineStyle: { width: 1 } },
      ],
    }, { notMerge: true });
    const top = document.getElementById("energy-top");
    top.replaceChildren(el("li", { class: "muted" }, t("topConsumers")),
      ...(state.top.length ? state.top.map((r) => el("li", {}, `${r.name.replace(/ 总表$/, "")} ${num(r.consumption, 0)} kWh`)) : [emptyRow("—")]));
    ctx.ready("energy");
  }

  ctx.scheduler.every("energy-curve", 300, loadCurve);
  ctx.scheduler.every("energy-now", 15, loadNow);
  ctx.scheduler.every("energy-index", 600, loadIndex);
  return { render, chart, state };
}
