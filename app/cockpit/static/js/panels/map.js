// 园区一张图: the park, its parcels and buildings from GET .../map?devices=alarmed (our own
// GeoJSON, registered with ECharts: no tiles), buildings coloured by twin status, devices in
// alarm marked, open incidents' impact zones drawn (the emergency panel hands them over). A
// click on a building opens its floors, devices and newest values (GET .../buildings/{id}/twin).
import * as echarts from "../../vendor/echarts.esm.min.js";
import { t } from "../i18n.js";
import { formatTime } from "../time.js";
import { STATUS_COLOURS, chartTheme, el, num, resizeWith } from "./common.js";

const ALARMED = new Set(["critical", "major", "minor", "warning"]);
const ZONE_COLOURS = ["rgba(229,56,59,0.35)", "rgba(244,140,6,0.25)", "rgba(255,214,10,0.18)"];

function escape(text) {
  // ECharts renders a tooltip formatter's string as HTML: names come from the API, so escape.
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function regionName(props) {
  return `${props.kind}:${props.id}`;
}

function shapes(collection) {
  // Only polygons go into the registered map; names must be unique, so kind:id.
  const features = collection.features
    .filter((f) => f.geometry && ["Polygon", "MultiPolygon"].includes(f.geometry.type))
    .map((f) => ({ ...f, properties: { ...f.properties, name: regionName(f.properties) } }));
  return { type: "FeatureCollection", features };
}

function regionStyle(props) {
  if (props.kind === "park") return { areaColor: "rgba(255,255,255,0.02)", borderColor: "#4cc9f0", borderWidth: 2 };
  if (props.kind === "parcel") return { areaColor: "rgba(58,134,255,0.08)", borderColor: "#2d5480", borderWidth: 1 };
  return { areaColor: STATUS_COLOURS[props.status] || STATUS_COLOURS.unknown, borderColor: "#0b1622", borderWidth: 1 };
}

export function createMap(ctx) {
  const box = document.getElementById("map");
  const aside = document.getElementById("building");
  const chart = echarts.init(box, null, { renderer: "canvas" });
  resizeWith(chart, box);
  const state = { collection: null, signature: "", zones: [], resources: [], sources: [] };

  function deviceMarks() {
    return state.collection.features
      .filter((f) => f.properties.kind === "device" && f.geometry?.type === "Point" && ALARMED.has(f.properties.status))
      .map((f) => ({
        name: f.properties.name || f.properties.id,
        id: f.properties.id,
        value: f.geometry.coordinates,
        itemStyle: { color: STATUS_COLOURS[f.properties.status] },
      }));
  }

  function zoneSeries() {
    return {
      id: "zones", name: "zones", type: "custom", coordinateSystem: "geo", silent: true, z: 5,
      data: state.zones.map((z) => ({ value: [z.index], zone: z })),
      renderItem: (params, api) => {
        const zone = state.zones[params.dataIndex];
        const ring = zone.geometry.coordinates[0].map((p) => api.coord(p));
        return {
          type: "polygon", shape: { points: ring },
          style: { fill: ZONE_COLOURS[Math.min(zone.index, 2)], stroke: "#e5383b", lineWidth: 1, lineDash: [4, 3] },
        };
      },
    };
  }

  function render() {
    if (!state.collection) return;
    const regions = state.collection.features
      .filter((f) => f.properties.kind !== "device" && f.geometry?.type !== "Point")
      .map((f) => ({ name: regionName(f.properties), itemStyle: regionStyle(f.properties),
        label: { show: false } }));
    chart.setOption({
      ...chartTheme(),
      tooltip: { trigger: "item", formatter: tooltip },
      geo: [{
        map: `park-${ctx.park}`, roam: true, aspectScale: Math.cos((31 * Math.PI) / 180),
        layoutCenter: ["50%", "50%"], layoutSize: "95%", regions,
        emphasis: { label: { show: false }, itemStyle: { areaColor: "#4cc9f0" } },
        select: { disabled: true },
        itemStyle: { areaColor: "#12223a", borderColor: "#1f3a5c" },
      }],
      series: [
        zoneSeries(),
        { id: "alarmed", name: "alarmed", type: "effectScatter", coordinateSystem: "geo", z: 10,
          symbolSize: 9, rippleEffect: { scale: 3, brushType: "stroke" }, data: deviceMarks() },
        { id: "incidents", name: "incidents", type: "scatter", coordinateSystem: "geo", z: 11,
          symbol: "pin", symbolSize: 26, itemStyle: { color: "#e5383b" }, data: state.sources },
        { id: "resources", name: "resources", type: "scatter", coordinateSystem: "geo", z: 9,
          symbol: "diamond", symbolSize: 8, itemStyle: { color: "#2dc653" }, data: state.resources },
      ],
    }, { replaceMerge: ["series", "geo"] });
  }

  function tooltip(params) {
    if (params.componentType === "geo") {
      const [kind, id] = params.name.split(":");
      const feature = state.collection.features.find((f) => f.properties.kind === kind && f.properties.id === id);
      const p = feature?.properties || {};
      return `${escape(p.name || id)}<br>${escape(t(p.status || "unknown"))}`;
    }
    return escape(params.name);
  }

  async function load() {
    // devices=alarmed: the parcels and buildings with statuses that count every device, and
    // only the devices in alarm (the marks drawn here); every device was 24 MB at 100,000
    const collection = await ctx.api.get(`${ctx.base}/map?devices=alarmed`);
    const geo = shapes(collection);
    const signature = geo.features.map((f) => f.properties.name + JSON.stringify(f.geometry.coordinates[0]?.[0])).join("|");
    if (signature !== state.signature) {
      echarts.registerMap(`park-${ctx.park}`, geo);
      state.signature = signature;
    }
    state.collection = collection;
    state.names = new Map(collection.features.filter((f) => f.properties.kind === "device")
      .map((f) => [f.properties.id, f.properties.name]));
    render();
    ctx.ready("map");
  }

  chart.on("click", (params) => {
    if (params.componentType === "geo" && params.name.startsWith("building:")) openBuilding(params.name.slice(9));
  });

  async function openBuilding(id) {
    const twin = await ctx.api.get(`${ctx.base}/buildings/${encodeURIComponent(id)}/twin`);
    aside.replaceChildren(
      el("h3", {}, twin.name, " ", el("span", { class: `sev sev-${twin.status}` }, t(twin.status)),
        " ", el("button", { type: "button", onclick: () => (aside.hidden = true) }, t("close"))),
      ...twin.floors.map((floor) => el("section", {},
        el("h4", {}, `${t("floors")} ${floor.name || floor.number}`),
        el("table", {}, ...(floor.spaces || []).flatMap((space) => space.devices || []).concat(floor.devices || [])
          .map((d) => el("tr", { dataset: { device: d.id } },
            el("td", {}, d.name, el("br"), el("small", { class: "muted" }, `${t(d.status)} · ${t("lastSeen")} ${formatTime(d.last_seen_at, ctx.tz)}`)),
            el("td", {}, ...Object.entries(d.latest || {}).map(([m, v]) => el("div", {}, `${m}: ${num(v.value, 2)}`)))))))),
      twin.devices?.length ? el("section", {}, el("h4", {}, t("devices")), el("table", {},
        ...twin.devices.map((d) => el("tr", {}, el("td", {}, d.name), el("td", {},
          ...Object.entries(d.latest || {}).map(([m, v]) => el("div", {}, `${m}: ${num(v.value, 2)}`))))))) : null,
    );
    aside.hidden = false;
    aside.dataset.building = id;
  }

  ctx.scheduler.every("map", 30, load);
  ctx.on("alarm.", () => ctx.scheduler.now("map", 1000));
  ctx.on("device.", () => ctx.scheduler.now("map", 2000));
  ctx.map = {
    chart,
    deviceName: (id) => state.names?.get(id) || id,
    setIncidents(incidents) {
      state.zones = [];
      state.sources = [];
      state.resources = [];
      for (const { incident, impact } of incidents) {
        state.sources.push({ name: t(incident.type), value: [incident.location.lon, incident.location.lat] });
        impact?.zones.forEach((zone, index) => state.zones.push({ index, geometry: zone.geometry, incident: incident.id }));
        impact?.nearest_resources.forEach((r) => state.resources.push({ name: r.name, value: [r.location.lon, r.location.lat] }));
      }
      state.zones.sort((a, b) => b.index - a.index); // the outer zones first, the inner on top
      render();
    },
  };
  return { render };
}
