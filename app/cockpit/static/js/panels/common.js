// Small helpers the panels share: DOM building, number formats, severity and status colours.
import { currentLang, t } from "../i18n.js";

export const SEVERITIES = ["critical", "major", "minor", "warning"];

// 红/橙/黄/蓝 for the four alarm levels (app/core/severity.py), grey for no signal.
export const STATUS_COLOURS = {
  critical: "#e5383b", major: "#f48c06", minor: "#ffd60a", warning: "#3a86ff",
  offline: "#6c757d", maintenance: "#8d6e63", unknown: "#4a5a70", normal: "#2a9d8f",
};

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function num(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const locale = currentLang() === "en" ? "en-GB" : "zh-CN";
  return new Intl.NumberFormat(locale, { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(value);
}

export function pct(share, digits = 1) {
  return share === null || share === undefined ? "—" : `${num(share * 100, digits)}%`;
}

export function figure(label, value, note = "") {
  return el("div", { class: "figure" }, el("small", {}, label), el("b", {}, value), note ? el("small", {}, note) : null);
}

export function change(ratio) {
  // 同比 / 环比 as a signed percentage; the API gives a ratio (0.12 = +12 %) or null.
  if (ratio === null || ratio === undefined) return "—";
  const sign = ratio > 0 ? "+" : "";
  return `${sign}${num(ratio * 100, 1)}%`;
}

export function severityBadge(severity) {
  return el("span", { class: `sev sev-${severity}` }, t(severity));
}

export function emptyRow(text) {
  return el("li", { class: "empty" }, text);
}

export function chartTheme() {
  return {
    backgroundColor: "transparent",
    textStyle: { color: "#dce8f5", fontFamily: "inherit" },
    grid: { left: 44, right: 10, top: 24, bottom: 22 },
  };
}

export function resizeWith(chart, element) {
  new ResizeObserver(() => chart.resize()).observe(element);
}
