// 能源: the park's electricity today against yesterday, hour by hour, and PV output, all in one
// read (GET .../energy/load: the root meters' hourly kWh, i.e. electricity meters without a
// parent meter, so no kWh counts twice; kWh in an hour is the hour's mean load in kW; each root
// meter's kWh per day for the top consumers); the load and PV output now (newest power_kw);
// the 电力看经济 index (GET .../economy/power-index).
import * as echarts from "../../vendor/echarts.esm.min.js";
import { query } from "../api.js";
import { t } from "../i18n.js";
import { addDays, localDate, localHour, localMidnight } from "../time.js";
import { chartTheme, el, emptyRow, figure, num, pct, resizeWith } from "./common.js";

function sumPower(latest, ids) {
  let total = 0;
  for (const item of latest.items) {
    if (ids && !ids.has(item.device_id)) continue;
    total += item.values.power_kw?.value ?? 0;
  }
  return total;
}

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
    const load = await ctx.api.get(`${ctx.base}/energy/load?${query({ from, to, bucket: "1h" })}`);
    state.roots = new Set(load.meters.map((m) => m.device_id));
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
    // power_kw only: the panel sums it, and the rest of each device's values would make the
    // answer several times larger for every screen on the wall
    const [meters, pv] = await Promise.all([
      ctx.api.get(`${ctx.base}/latest?type=electricity_meter&metric=power_kw`),
      ctx.api.get(`${ctx.base}/latest?type=pv_inverter&metric=power_kw`),
    ]);
    state.now = { meters, pv };
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
    const load = sumPower(state.now.meters, state.roots); // root meters only: no double count
    const pv = sumPower(state.now.pv, null);
    document.getElementById("energy-figures").replaceChildren(
      figure(t("loadNow"), `${num(load, 0)} kW`),
      figure(t("pvNow"), `${num(pv, 0)} kW`),
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
