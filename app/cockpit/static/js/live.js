// The park's event stream (server-sent events). EventSource cannot set headers, so the key
// rides as ?access_token= (accepted on this endpoint only); the browser resumes with
// Last-Event-ID after a dropped connection. While the stream is down the panels poll faster.
export class Live {
  constructor(park, key, onEvent, onState) {
    this.url = `/api/v1/parks/${encodeURIComponent(park)}/events?access_token=${encodeURIComponent(key)}`;
    this.onEvent = onEvent;
    this.onState = onState;
    this.source = null;
    this.lastId = null;
    this.received = 0;
    this.ids = []; // the last event ids seen, newest last (the tests compare them with the outbox)
    this.retry = null;
  }

  start() {
    if (typeof EventSource === "undefined") return this.onState("poll");
    this.source = new EventSource(this.url);
    this.source.onopen = () => {
      this.onState("on");
      this.onEvent("stream.open", null, null); // the panels re-read: nothing missed on screen
    };
    this.source.onerror = () => {
      if (this.source.readyState !== EventSource.CLOSED) return this.onState("off"); // retrying
      // Refused for good (e.g. 503 while the API restarts): poll, and open a new stream later.
      this.onState("poll");
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.start(), 10000);
    };
    for (const type of [
      "alarm.raised", "alarm.escalated", "alarm.acknowledged", "alarm.cleared", "alarm.shelved",
      "alarm.unshelved", "alarm.flood_ended", "device.offline", "device.online", "incident.opened",
      "incident.updated", "incident.status", "incident.reported", "incident.report_due",
      "incident.closed",
    ]) {
      this.source.addEventListener(type, (event) => this.dispatch(type, event));
    }
    this.source.onmessage = (event) => this.dispatch(event.type, event);
  }

  dispatch(type, event) {
    this.lastId = event.lastEventId;
    this.received += 1;
    let body = null;
    try {
      body = JSON.parse(event.data);
    } catch {
      return;
    }
    this.ids.push(body.id); // the event's own id (the SSE id is its position in the stream)
    if (this.ids.length > 1000) this.ids.shift();
    this.onEvent(body.type || type, body, event.lastEventId);
  }

  stop() {
    if (this.source) this.source.close();
    this.source = null;
  }
}
