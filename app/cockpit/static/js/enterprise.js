// The enterprise page (企业服务): an enterprise key signs in, /me tells its park and enterprise,
// and one request (.../enterprises/{id}/overview) fills the page; its devices come from
// .../devices. Everything it shows is the enterprise's own.
import { Api, ApiError } from "./api.js";
import { forget, store, stored, takeFragment } from "./session.js";

const $ = (id) => document.getElementById(id);
const KIND = { space: "房间", building: "整栋楼", parcel: "土地" };
const STATUS = { online: "在线", offline: "离线", unknown: "未知" };
const SEVERITY = { critical: "一级", major: "二级", minor: "三级", warning: "四级" };
// The built-in device types (a park's own types show by their id).
const TYPE = {
  electricity_meter: "电表", water_meter: "水表", gas_meter: "燃气表", steam_meter: "蒸汽表",
  pv_inverter: "光伏逆变器", gas_detector: "可燃气体探测器", toxic_gas_detector: "有毒气体探测器",
  oxygen_detector: "氧气探测器", smoke_detector: "烟感探测器", temperature_sensor: "温度传感器",
  equipment_monitor: "设备监测",
};

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text ?? "—";
  return td;
}

function rows(tbody, items, columns) {
  tbody.replaceChildren(...items.map((item) => {
    const tr = document.createElement("tr");
    tr.append(...columns(item).map(cell));
    return tr;
  }));
}

function figures(box, items) {
  box.replaceChildren(...items.map(([label, value]) => {
    const div = document.createElement("div");
    div.className = "figure";
    const b = document.createElement("b");
    b.textContent = value ?? "—";
    div.append(b, label);
    return div;
  }));
}

const num = (v, digits = 2) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));
const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);

function render(view, devices) {
  $("enterprise-name").textContent = view.enterprise.name;
  $("today").textContent = view.on;
  rows($("premises"), view.premises, (p) => [
    KIND[p.kind], p.name || p.id, p.building_name || "—", num(p.area_m2, 1), `${p.start_date} 至 ${p.end_date}`,
  ]);
  $("leased-m2").textContent = num(view.leased_m2, 1);
  figures($("device-figures"), [
    ["设备总数", view.devices.total], ["在线", view.devices.online],
    ["离线", view.devices.offline], ["活动告警", view.alarms.active],
  ]);
  $("alarm-counts").replaceChildren(...Object.entries(SEVERITY).map(([sev, name]) => {
    const span = document.createElement("span");
    span.className = `sev sev-${sev}`;
    span.textContent = `${name} ${view.alarms[sev]}`;
    return span;
  }));
  rows($("devices"), devices.items, (d) => [d.name || d.id, TYPE[d.type] || d.type, STATUS[d.status] || d.status]);
  const e = view.energy_month;
  figures($("energy-figures"), [
    ["综合能耗 tce（当量值）", num(e.tce_equivalent, 3)], ["综合能耗 tce（等价值）", num(e.tce_equal_value, 3)],
    ["碳排放 tCO₂", num(e.total_location_t, 3)],
  ]);
  rows($("carriers"), e.carriers, (c) => [c.carrier, `${num(c.quantity)} ${c.unit}`, num(c.tce_equivalent, 3), num(c.location_t, 3)]);
  const r = view.rent_year;
  figures($("rent-figures"), [
    [`应收（${r.from}～${r.to}）元`, r.due_yuan], ["实收 元", r.paid_yuan],
    ["欠缴 元", r.outstanding_yuan], ["收缴率", pct(r.collection_rate)],
  ]);
  const m = view.per_mu;
  figures($("permu-figures"), m ? [
    [`${m.year} 年亩均评价`, m.grade === "T" ? "未参评" : `${m.grade} 类`], ["得分", num(m.score)],
    ["排名", m.rank ? `${m.rank} / ${m.class_size}` : "—"],
  ] : [["亩均评价", "暂无"]]);
  document.body.dataset.ready = "true";
}

function showSignIn(message = "") {
  $("enterprise").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("signin").onsubmit = (event) => {
    event.preventDefault();
    store($("signin-key").value.trim(), "");
    start();
  };
}

async function start() {
  const session = stored();
  if (!session) return showSignIn();
  const api = new Api(session.key, () => { forget(); showSignIn("密钥无效或已吊销"); });
  try {
    const me = await api.get("/api/v1/me");
    if (me.role !== "enterprise") {
      location.replace("/"); // park staff: the operations-centre cockpit
      return;
    }
    const base = `/api/v1/parks/${encodeURIComponent(me.park_id)}/enterprises/${encodeURIComponent(me.enterprise_id)}`;
    const [view, devices] = await Promise.all([api.get(`${base}/overview`), api.get(`${base}/devices?limit=100`)]);
    $("signin").hidden = true;
    $("enterprise").hidden = false;
    $("signout").onclick = () => { forget(); location.reload(); };
    render(view, devices);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    $("signin").hidden = true;
    $("enterprise").hidden = false;
    $("error").textContent = error.message;
  }
}

takeFragment();
start();
