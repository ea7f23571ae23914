// The cockpit: sign in, learn the key's role and the park's timezone, then start the panels.
import { Api, ApiError } from "./api.js";
import { applyStatic, onLangChange, t, toggleLang } from "./i18n.js";
import { Live } from "./live.js";
import { Scheduler } from "./scheduler.js";
import { forget, store, stored, takeFragment } from "./session.js";
import { disableSound, enableSound, soundEnabled } from "./sound.js";
import { formatTime } from "./time.js";
import { createMap } from "./panels/map.js";
import { createAlarms } from "./panels/alarms.js";
import { createEnergy } from "./panels/energy.js";
import { createCarbon } from "./panels/carbon.js";
import { createEconomy } from "./panels/economy.js";
import { createEmergency } from "./panels/emergency.js";

const $ = (id) => document.getElementById(id);
const PANELS = ["map", "alarms", "energy", "carbon", "economy", "emergency"];

function signOut(message = "") {
  // A fresh page stops every timer and stream; the reason survives the reload.
  forget();
  if (message) sessionStorage.setItem("parktwin.notice", message);
  location.reload();
}

function showSignIn(message = "") {
  $("cockpit").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("signin").onsubmit = (event) => {
    event.preventDefault();
    store($("signin-key").value.trim(), $("signin-park").value.trim());
    start();
  };
}

function readiness() {
  const pending = new Set(PANELS);
  performance.mark("cockpit-start");
  return (name) => {
    if (!pending.delete(name)) return;
    performance.mark(`cockpit-panel-${name}`); // which panel was last: bench/cockpit lists them
    if (pending.size) return;
    performance.mark("cockpit-ready");
    performance.measure("cockpit-first-screen", undefined, "cockpit-ready"); // from navigation
    document.body.dataset.ready = "true";
  };
}

function header(ctx, live) {
  $("park-name").textContent = ctx.parkInfo.name;
  $("role").textContent = t(ctx.me.role);
  const tick = () => ($("clock").textContent = `${formatTime(new Date().toISOString(), ctx.tz, true)} (${ctx.tz})`);
  tick();
  setInterval(tick, 1000);
  $("lang").textContent = t("lang");
  $("lang").onclick = () => toggleLang();
  $("sound").onclick = async () => {
    if (soundEnabled()) disableSound();
    else await enableSound();
    $("sound").textContent = t(soundEnabled() ? "soundOn" : "soundOff");
  };
  $("signout").onclick = () => signOut();
  onLangChange(() => {
    $("lang").textContent = t("lang");
    $("role").textContent = t(ctx.me.role);
    $("sound").textContent = t(soundEnabled() ? "soundOn" : "soundOff");
    live.render();
  });
}

function liveBadge(ctx) {
  const badge = { state: "off" };
  badge.render = () => {
    $("live").dataset.state = badge.state;
    $("live").textContent = t({ on: "liveOn", poll: "livePoll", off: "liveOff" }[badge.state]);
  };
  badge.set = (state) => {
    badge.state = state;
    badge.render();
    ctx.streaming = state === "on";
    for (const fn of ctx.onStreamState) fn(ctx.streaming);
  };
  return badge;
}

async function start() {
  const session = stored();
  const notice = sessionStorage.getItem("parktwin.notice") || "";
  sessionStorage.removeItem("parktwin.notice");
  if (!session) return showSignIn(notice);
  const api = new Api(session.key, () => signOut(t("unauthorized")));
  let me, parkInfo;
  try {
    me = await api.get("/api/v1/me");
    if (me.role === "enterprise") return location.replace("/enterprise"); // its own page
    parkInfo = await api.get(`/api/v1/parks/${encodeURIComponent(session.park)}`);
  } catch (error) {
    forget();
    return showSignIn(error instanceof ApiError && error.status === 401 ? t("unauthorized") : error.message);
  }
  $("signin").hidden = true;
  $("cockpit").hidden = false;
  const ctx = {
    api, me, parkInfo, park: parkInfo.id, tz: parkInfo.timezone,
    base: `/api/v1/parks/${encodeURIComponent(parkInfo.id)}`,
    scheduler: new Scheduler(), ready: readiness(), handlers: {}, onStreamState: [], streaming: false,
  };
  ctx.on = (prefix, fn) => (ctx.handlers[prefix] ||= []).push(fn);
  const badge = liveBadge(ctx);
  header(ctx, badge);
  const panels = [createMap, createAlarms, createEnergy, createCarbon, createEconomy, createEmergency]
    .map((create) => create(ctx));
  onLangChange(() => panels.forEach((p) => p.render()));
  const live = new Live(ctx.park, session.key, (type, body) => {
    if (type === "stream.open") return ["alarms", "map", "emergency"].forEach((n) => ctx.scheduler.now(n, 0));
    for (const [prefix, fns] of Object.entries(ctx.handlers)) {
      if (type.startsWith(prefix)) fns.forEach((fn) => fn(type, body));
    }
  }, (state) => badge.set(state));
  badge.set("off");
  live.start();
  ctx.scheduler.start();
  window.cockpit = { ctx, live, panels };
}

applyStatic();
takeFragment();
start();
