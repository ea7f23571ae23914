// The API key lives in sessionStorage only (gone when the tab closes). A link
// `/#key=<key>&park=<id>` signs in: the fragment never reaches the server, and the page moves
// it to sessionStorage and clears it from the address bar at once.
const KEY = "parktwin.key";
const PARK = "parktwin.park";

export function takeFragment() {
  if (!location.hash.includes("key=")) return;
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("key");
  if (key) sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(PARK, params.get("park") || "demo");
  history.replaceState(null, "", location.pathname + location.search);
}

export function stored() {
  const key = sessionStorage.getItem(KEY);
  return key ? { key, park: sessionStorage.getItem(PARK) || "demo" } : null;
}

export function store(key, park) {
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(PARK, park);
}

export function forget() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(PARK);
}
