// The REST client: the key as a Bearer header, ETags remembered per URL and sent back as
// If-None-Match (a 304 reuses the body already held), problem+json errors as ApiError.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export class Api {
  constructor(key, onUnauthorized) {
    this.key = key;
    this.onUnauthorized = onUnauthorized;
    this.cache = new Map(); // url -> {etag, body}
    this.requests = 0;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, Accept: "application/json", ...extra };
  }

  async get(path) {
    const held = this.cache.get(path);
    const headers = this.headers(held ? { "If-None-Match": held.etag } : {});
    this.requests += 1;
    const response = await fetch(path, { headers, cache: "no-store" });
    if (response.status === 304 && held) return held.body;
    const body = await this.read(response);
    const etag = response.headers.get("ETag");
    if (etag) this.cache.set(path, { etag, body });
    return body;
  }

  async post(path, data = {}) {
    this.requests += 1;
    const response = await fetch(path, {
      method: "POST",
      headers: this.headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(data),
    });
    return this.read(response);
  }

  async read(response) {
    const text = await response.text();
    const body = text ? JSON.parse(text) : null;
    if (!response.ok) {
      if (response.status === 401 && this.onUnauthorized) this.onUnauthorized();
      throw new ApiError(response.status, body);
    }
    return body;
  }
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    for (const item of Array.isArray(v) ? v : [v]) search.append(k, item);
  }
  return search.toString();
}
