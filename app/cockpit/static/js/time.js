// Park-local time everywhere: every instant is shown in the park's IANA timezone.
import { locale } from "./i18n.js";

export function formatTime(iso, tz, withDate = false) {
  if (!iso) return "—";
  const options = { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  if (withDate) Object.assign(options, { month: "2-digit", day: "2-digit" });
  return new Intl.DateTimeFormat(locale(), options).format(new Date(iso));
}

export function localDate(tz, instant = new Date()) {
  // en-CA formats as YYYY-MM-DD
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(instant);
}

export function addDays(isoDate, days) {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function offsetMinutes(tz, instant) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(instant).map((p) => [p.type, p.value]),
  );
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return Math.round((asUtc - instant.getTime()) / 60000);
}

export function localMidnight(isoDate, tz) {
  // The instant the park's day isoDate begins (two passes settle a DST change).
  const guess = new Date(`${isoDate}T00:00:00Z`);
  let instant = new Date(guess.getTime() - offsetMinutes(tz, guess) * 60000);
  instant = new Date(guess.getTime() - offsetMinutes(tz, instant) * 60000);
  return instant;
}

export function localHour(iso, tz) {
  return +new Intl.DateTimeFormat("en-US", { timeZone: tz, hour: "2-digit", hourCycle: "h23" })
    .format(new Date(iso));
}

export function countdown(seconds) {
  const s = Math.max(0, Math.floor(Math.abs(seconds)));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return `${seconds < 0 ? "-" : ""}${pad(h)}:${pad(m)}:${pad(s % 60)}`;
}
