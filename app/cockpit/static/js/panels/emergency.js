// 安全应急: open incidents (GET .../incidents?status=open), each with its impact zones
// (GET .../incidents/{id}/impact: drawn on the map), the people and buildings inside them, the
// nearest resources, and its clock (ticked locally every second; no request): for an accident
// (事故) the regulator's report clock (report_due_at), for a 险情 the park's own response clock
// (response_due_at) until someone responds.
import { t } from "../i18n.js";
import { countdown, formatTime } from "../time.js";
import { el, emptyRow, num } from "./common.js";

const MAX_SHOWN = 5;

export function createEmergency(ctx) {
  const list = document.getElementById("incident-list");
  const state = { incidents: null };

  async function load() {
    const page = await ctx.api.get(`${ctx.base}/incidents?status=open&limit=${MAX_SHOWN}`);
    const impacts = await Promise.all(page.items.map((incident) =>
      ctx.api.get(`${ctx.base}/incidents/${encodeURIComponent(incident.id)}/impact`).catch(() => null)));
    state.incidents = page.items.map((incident, i) => ({ incident, impact: impacts[i] }));
    ctx.map?.setIncidents(state.incidents);
    render();
    ctx.ready("emergency");
  }

  function due(label, at) {
    return el("span", {}, `${t(label)} `, el("span", { class: "countdown", dataset: { due: at } }, "--:--:--"));
  }

  function clock(incident) {
    if (incident.category === "accident") {
      if (incident.reported_at) return el("span", { class: "muted" }, `${t("reported")} ${formatTime(incident.reported_at, ctx.tz)}`);
      return incident.report_due_at ? due("reportDue", incident.report_due_at) : null;
    }
    if (incident.status === "reported" && incident.response_due_at) return due("responseDue", incident.response_due_at);
    return null;
  }

  function category(incident) {
    if (!incident.category) return null;
    const grade = incident.category === "accident" && incident.grade_zh ? ` ${incident.grade_zh}` : "";
    return el("span", { class: "muted" }, ` [${t(incident.category)}${grade}]`);
  }

  function item({ incident, impact }) {
    const zones = impact?.zones || [];
    return el("li", { dataset: { incident: incident.id, zones: zones.length } },
      el("div", {}, el("span", { class: `sev sev-${{ red: "critical", orange: "major", yellow: "minor", blue: "warning" }[incident.level] || "warning"}` },
        t(incident.level)), " ", el("b", {}, t(incident.type)), category(incident), " · ",
      t(incident.status === "reported" ? "reportedStatus" : incident.status), " · ",
      formatTime(incident.opened_at, ctx.tz, true), " ", clock(incident)),
      el("div", { class: "muted" }, `${t("zones")}: `, zones.map((z) =>
        `${num(z.radius_m, 0)} m (${num(z.people, 0)} ${t("people")}, ${z.buildings.length} ${t("buildings")})`).join(" / ") || "—"),
      impact?.nearest_resources.length ? el("div", { class: "muted" }, `${t("nearest")}: `,
        impact.nearest_resources.slice(0, 3).map((r) => `${r.name} ${num(r.distance_m, 0)} m`).join("，")) : null);
  }

  function render() {
    if (!state.incidents) return;
    list.replaceChildren(...(state.incidents.length ? state.incidents.map(item) : [emptyRow(t("noIncidents"))]));
    tick();
  }

  function tick() {
    for (const node of list.querySelectorAll(".countdown")) {
      const left = (new Date(node.dataset.due) - Date.now()) / 1000;
      node.textContent = left < 0 ? `${t("overdue")} ${countdown(left)}` : countdown(left);
      node.classList.toggle("overdue", left < 0);
    }
  }

  setInterval(tick, 1000);
  ctx.scheduler.every("emergency", 10, load);
  ctx.onStreamState.push((streaming) => ctx.scheduler.setPeriod("emergency", streaming ? 30 : 10));
  ctx.on("incident.", () => ctx.scheduler.now("emergency", 200));
  return { render };
}
