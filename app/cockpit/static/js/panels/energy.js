// 能源: the park's electricity today against yesterday, hour by hour (each root meter, i.e.
// without a parent meter, its hourly consumption as `agg=delta` of energy_kwh, summed: kWh in
// an hour is the hour's mean load in kW), the load and PV output now (newest power_kw), the
// root meters that used most today, and the 电力看经济 index (GET .../economy/power-index).
import * as echarts from "../../vendor/echarts.esm.min.js";
import { query } from "../api.js";
import { t } from "../i18n.js";
import { addDays, localDate, localHour, localMidnight } from "../time.js";
import { chartTheme, el, emptyRow, figure, num, pct, resizeWith } from "./common.js";

async function pool(items, size, fn) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return results;
}

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

  async function hourly(roots, today) {
    // Per root meter, and for the park, kWh per park-local hour of yesterday and today.
    const from = localMidnight(addDays(today, -1), ctx.tz).toISOString();
    const to = new Date().toISOString();
    const series = await pool(roots, 6, (root) => ctx.api.get(
      `${ctx.base}/devices/${encodeURIComponent(root.id)}/series/energy_kwh?${query({ from, to, interval: "1h", agg: "delta" })}`));
    const days = { [today]: Array(24).fill(null), [addDays(today, -1)]: Array(24).fill(null) };
    const todayByRoot = new Map();
    series.forEach((s, i) => {
      for (const p of s.points) {
        const day = localDate(ctx.tz, new Date(p.ts));
        if (!days[day]) continue;
        const h = localHour(p.ts, ctx.tz);
        days[day][h] = (days[day][h] ?? 0) + p.value;
        if (day === today) todayByRoot.set(roots[i], (todayByRoot.get(roots[i]) ?? 0) + p.value);
      }
    });
    return { today: days[today], yesterday: days[addDays(today, -1)], todayByRoot };
  }

  async function loadCurve() {
    // The root meters (no parent meter): the park's electricity, each kWh counted once.
    const today = localDate(ctx.tz);
    const meters = await ctx.api.get(`${ctx.base}/devices?type=electricity_meter&limit=1000`);
    const roots = meters.items.filter((m) => m.parent_meter_id === null);
    state.roots = new Set(roots.map((r) => r.id));
    state.hours = await hourly(roots, today);
    state.top = [...state.hours.todayByRoot.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8)
      .map(([root, kwh]) => ({ name: root.name, consumption: kwh }));
    render();
  }

  async function loadNow() {
    const [meters, pv] = await Promise.all([
      ctx.api.get(`${ctx.base}/latest?type=electricity_meter`),
      ctx.api.get(`${ctx.base}/latest?type=pv_inverter`),
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
  return { render };
}
