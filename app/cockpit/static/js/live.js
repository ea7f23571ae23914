// The park's event stream (server-sent events). EventSource cannot set headers, so the key
// rides as ?access_token= (accepted on this endpoint only); the browser resumes with
// Last-Event-ID after a dropped connection. While the stream is down the panels poll faster.
//
// A connection can also die without a word (the API's host gone, a NAT or proxy that dropped
// its state): no reset arrives, EventSource stays "open" and the screen would say 实时 while
// nothing comes. So the stream is asked for heartbeat events (?heartbeat=true: the server's
// ping as an event, which EventSource can see; a comment it never sees), and a stream silent
// for MISSED_BEATS heartbeats is closed and opened again after its last event id.
const MISSED_BEATS = 3;
const FIRST_BEAT_S = 15; // PARKTWIN_API_EVENTS_HEARTBEAT's default, until the first heartbeat says
const WATCH_MS = 1000;

export class Live {
  constructor(park, key, onEvent, onState) {
    this.url = `/api/v1/parks/${encodeURIComponent(park)}/events?access_token=${encodeURIComponent(key)}&heartbeat=true`;
    this.onEvent = onEvent;
    this.onState = onState;
    this.source = null;
    this.lastId = null;
    this.received = 0;
    this.ids = []; // the last event ids seen, newest last (the tests compare them with the outbox)
    this.retry = null;
    this.watch = null;
    this.heard = 0; // when the stream last said anything (an event or a heartbeat), ms
    this.beatS = FIRST_BEAT_S;
    this.reopened = 0; // streams reopened for silence (the tests read it)
  }

  start() {
    if (typeof EventSource === "undefined") return this.onState("poll");
    // after a silent death or a refusal, resume after the last event seen (a new EventSource
    // does not send Last-Event-ID by itself)
    const after = this.lastId ? `&last_event_id=${encodeURIComponent(this.lastId)}` : "";
    const source = new EventSource(this.url + after);
    this.source = source;
    this.heard = Date.now();
    source.onopen = () => {
      this.heard = Date.now();
      this.onState("on");
      this.onEvent("stream.open", null, null); // the panels re-read: nothing missed on screen
    };
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED) return this.onState("off"); // retrying
      // Refused for good (e.g. 503 while the API restarts): poll, and open a new stream later.
      this.onState("poll");
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.start(), 10000);
    };
    source.addEventListener("heartbeat", (event) => {
      this.heard = Date.now();
      if (event.lastEventId) this.lastId = event.lastEventId;
      try {
        const every = Number(JSON.parse(event.data).every_s);
        if (every > 0) this.beatS = every;
      } catch {
        // a heartbeat without its interval keeps the one known
      }
    });
    for (const type of [
      "alarm.raised", "alarm.escalated", "alarm.acknowledged", "alarm.cleared", "alarm.shelved",
      "alarm.unshelved", "alarm.flood_ended", "device.offline", "device.online", "incident.opened",
      "incident.updated", "incident.status", "incident.reported", "incident.report_due",
      "incident.closed",
    ]) {
      source.addEventListener(type, (event) => this.dispatch(type, event));
    }
    source.onmessage = (event) => this.dispatch(event.type, event);
    clearInterval(this.watch);
    this.watch = setInterval(() => this.check(), WATCH_MS);
  }

  // A stream the browser believes open that has said nothing for MISSED_BEATS heartbeats is
  // dead: close it and open another after the last event id.
  check() {
    const source = this.source;
    if (!source || source.readyState !== EventSource.OPEN) return;
    if (Date.now() - this.heard < MISSED_BEATS * this.beatS * 1000) return;
    source.close();
    this.reopened += 1;
    this.onState("off");
    this.start();
  }

  dispatch(type, event) {
    this.heard = Date.now();
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
    clearInterval(this.watch);
    if (this.source) this.source.close();
    this.source = null;
  }
}
