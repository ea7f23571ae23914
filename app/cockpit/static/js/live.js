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
  }

  start() {
    if (typeof EventSource === "undefined") return this.onState("poll");
    this.source = new EventSource(this.url);
    this.source.onopen = () => this.onState("on");
    this.source.onerror = () => this.onState(this.source.readyState === EventSource.CLOSED ? "poll" : "off");
    for (const type of [
      "alarm.raised", "alarm.escalated", "alarm.acknowledged", "alarm.cleared", "alarm.shelved",
      "alarm.unshelved", "device.offline", "device.online", "incident.opened", "incident.updated",
      "incident.closed", "incident.reported", "incident.status",
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
    this.onEvent(body.type || type, body, event.lastEventId);
  }

  stop() {
    if (this.source) this.source.close();
    this.source = null;
  }
}
