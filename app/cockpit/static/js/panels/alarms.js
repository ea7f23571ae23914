// 告警: the park's active alarms, highest severity first, in 红/橙/黄/蓝. Operators and admins
// acknowledge and shelve them here; a viewer sees no such buttons (and the API would refuse
// them with 403 anyway). The stream's alarm events refresh the list at once; a new critical
// alarm sounds the alert tone.
import { t } from "../i18n.js";
import { alertTone } from "../sound.js";
import { formatTime } from "../time.js";
import { SEVERITIES, el, emptyRow, num, severityBadge } from "./common.js";

const SHELVE_SECONDS = 3600;

export function createAlarms(ctx) {
  const list = document.getElementById("alarm-list");
  const counts = document.getElementById("alarm-counts");
  const state = { alarms: null, summary: null, seen: null, message: "" };
  const operator = ctx.me.can_acknowledge === true;

  function sorted(alarms) {
    return [...alarms].sort((a, b) =>
      SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity)
      || Number(a.acknowledged) - Number(b.acknowledged)
      || b.raised_at.localeCompare(a.raised_at));
  }

  function actions(alarm) {
    if (!operator) return el("span");
    const shelved = alarm.shelved_until && new Date(alarm.shelved_until) > new Date();
    return el("span", { class: "actions" },
      alarm.acknowledged ? null : el("button", {
        type: "button", class: "ack", dataset: { alarm: alarm.id }, onclick: () => act(alarm, "ack", {}),
      }, t("ack")),
      shelved ? null : el("button", {
        type: "button", class: "shelve", dataset: { alarm: alarm.id },
        onclick: () => act(alarm, "shelve", { duration_s: SHELVE_SECONDS, comment: t("shelveReason") }),
      }, t("shelve")));
  }

  function row(alarm) {
    const shelved = alarm.shelved_until && new Date(alarm.shelved_until) > new Date();
    const detail = [alarm.metric, alarm.value !== null ? num(alarm.value, 1) : null,
      alarm.threshold !== null ? `≥ ${num(alarm.threshold, 1)}` : null].filter(Boolean).join(" ");
    const notes = [formatTime(alarm.raised_at, ctx.tz, true), alarm.count > 1 ? `${alarm.count}${t("count")}` : null,
      alarm.acknowledged ? t("acked") : null, shelved ? t("shelved") : null].filter(Boolean).join(" · ");
    return el("li", {
      class: alarm.acknowledged ? "acked" : "", dataset: { alarm: alarm.id, severity: alarm.severity },
    }, severityBadge(alarm.severity),
    el("span", { class: "what" }, `${ctx.map?.deviceName(alarm.device_id) ?? alarm.device_id} ${detail}`,
      el("small", {}, `${alarm.device_id} · ${notes}`)),
    actions(alarm));
  }

  function render() {
    if (!state.alarms) return;
    const park = state.summary?.park || {};
    counts.replaceChildren(...SEVERITIES.map((s) => el("span", { dataset: { count: s } }, severityBadge(s), ` ${park[s] ?? 0}`)),
      el("span", { class: "error" }, state.message));
    list.replaceChildren(...(state.alarms.length ? sorted(state.alarms).map(row) : [emptyRow(t("noAlarms"))]));
  }

  async function act(alarm, verb, body) {
    try {
      await ctx.api.post(`${ctx.base}/alarms/${encodeURIComponent(alarm.id)}/${verb}`, body);
      state.message = "";
    } catch (error) {
      state.message = error.status === 403 ? t("forbidden") : `${t("failed")}: ${error.message}`;
    }
    ctx.scheduler.now("alarms", 0);
  }

  function announce(alarms) {
    const critical = alarms.filter((a) => a.severity === "critical" && !a.acknowledged);
    if (state.seen && critical.some((a) => !state.seen.has(a.id))) alertTone();
    state.seen = new Set(critical.map((a) => a.id).concat([...(state.seen || [])]));
  }

  async function load() {
    const [page, summary] = await Promise.all([
      ctx.api.get(`${ctx.base}/alarms?status=active&limit=200`),
      ctx.api.get(`${ctx.base}/alarms/summary`),
    ]);
    announce(page.items);
    state.alarms = page.items;
    state.summary = summary;
    render();
    ctx.ready("alarms");
  }

  // Without the stream, poll often enough that a new critical alarm shows within seconds.
  ctx.scheduler.every("alarms", 5, load);
  ctx.onStreamState.push((streaming) => ctx.scheduler.setPeriod("alarms", streaming ? 20 : 5));
  ctx.on("alarm.", (type, body) => {
    if (type === "alarm.raised" || type === "alarm.escalated") {
      if (body?.data?.severity === "critical" && !state.seen?.has(body.data.id)) {
        state.seen?.add(body.data.id);
        alertTone();
      }
    }
    ctx.scheduler.now("alarms", 0);
  });
  return { render };
}
