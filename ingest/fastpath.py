"""The fast path: while an ingest worker is behind, watched readings overtake the backlog.

After an ingestor restart (or any stretch it falls behind) the broker holds a backlog in the
worker's persistent session and delivers it in order, with at most a Receive Maximum (or the
broker's ``max_inflight_messages``) unacknowledged: a gas reading published during the drain
waits behind every meter reading queued before it, a minute and more at 100,000 devices
(docs/benchmarks.md). MQTT gives a session no priorities, and the contract has one telemetry
topic for every kind of device, so the broker cannot put a detector's reading first by itself.

So while worker 0 is behind it also holds a second, clean session (``{client id}-fast``,
nothing queued while away, QoS 0) subscribed to the telemetry topic of every device an alarm
rule watches (the set the urgent lane uses), and queues what arrives there for a writer thread
of its own (``FastLane``, ingest/pipeline.py, its own connection), not for the urgent lane,
which the backlog keeps busy during a drain. That writer only evaluates readings for alarms
(``BatchStore(alarms_only=True)``), only those that could raise one at once
(``RuleBook.could_raise``: past the level of some rule without an on-delay, or judged by a rate
rule; a quiet detector's reading, nearly all of them, is dropped there and waits for the drain
like any other), and only against rules without an on-delay (``ahead_of_backlog``,
app/alarms/rules.py: such a delay runs from the first reading past the level, which may still
be in the backlog). The alarm is raised and its webhook event queued at once; the reading's row
is written when the drain reaches its persistent copy, whose evaluation then changes nothing
(the engine ignores a reading no newer than the last it evaluated, app/alarms/engine.py). No
reading is written twice, so nothing meets the duplicate-key path. A copy lost here (its queue
full, the connection down) costs nothing: the persistent session still delivers it.

Behind: from the worker's start (after a restart the backlog is there before the first batch is
taken, and a gas reading published then must not wait for it), and whenever the normal lane
takes a full batch (``PARKTWIN_INGEST_BATCH_MAX``: more is waiting than a batch holds); caught
up: no full batch for ``hold`` seconds. Only worker 0 does it (the broker spreads a shared
subscription's backlog over all workers, so worker 0 is behind when they are), and only over
MQTT: a RabbitMQ quorum queue (``PARKTWIN_INGEST_SOURCE=amqp``) has no such second way in here.
While on, the watched devices' readings (a third of the messages at 100,000 devices) are parsed
twice; only the alarming ones are evaluated twice.

Live (``PARKTWIN_INGEST_FAST_PATH_LIVE``): on from the start and never off while the worker
runs. Where the watched devices send many messages, the urgent lane is busy even when nothing
is behind (at 100,000 devices it writes a third of the stream in batches), and a gas reading
waits for the batch before its own; the fast lane evaluates only the few copies that could
raise an alarm, so the alarm does not wait for those batches (docs/benchmarks.md, sixteenth
session).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from app.core.mqtt import MqttTarget
from ingest.consumer import Inbound, payload_bytes
from ingest.fastpaho import BufferedClient
from ingest.lanes import Lanes
from ingest.parse import MAX_PAYLOAD_BYTES

logger = logging.getLogger(__name__)

FAST_GENERATION = -1
"""The ``generation`` of a fast-path copy: no connection of the consumer has it, so the copy is
never acknowledged (it came at QoS 0 anyway)."""

TOPICS_PER_SUBSCRIBE = 1000
QUEUE_SIZE = 10_000  # copies waiting for the fast lane's writer; more are dropped
QUEUE_BYTES = 64 * 1024 * 1024


class FastPath:
    def __init__(
        self,
        target: MqttTarget,
        client_id: str,
        watched: Callable[[], frozenset[str]],
        hold: float = 5.0,
        *,
        live: bool = False,
    ) -> None:
        self.target = target
        self.client_id = client_id
        # the fast lane's own queue (its urgent side: taken at once, no collect window)
        self.queue: Lanes[Inbound] = Lanes(QUEUE_SIZE, QUEUE_BYTES, payload_bytes)
        self.watched = watched
        self.hold = hold
        self.live = live  # on whether behind or not (PARKTWIN_INGEST_FAST_PATH_LIVE)
        self.copies = 0  # queued for the fast lane since the last start
        self.evaluated = 0  # of them, could raise an alarm: evaluated (by the fast lane)
        self.dropped = 0  # found the queue full
        self._client: BufferedClient | None = None
        self._subscribed: frozenset[str] = frozenset()
        self._seen: frozenset[str] | None = None  # the watched set last subscribed from
        self._lock = threading.Lock()  # _subscribed, _pending: the lane's thread and paho's
        self._pending = 0  # SUBSCRIBEs not yet acknowledged
        self._last_full = 0.0

    def observe(self, taken: int, batch_max: int) -> None:
        """After each take of the normal lane (in its thread): on at a full batch, off once
        none has come for ``hold`` seconds; with ``live``, on all along (and newly watched
        devices subscribed)."""
        if taken >= batch_max or self.live:
            self.behind()
        elif self._client is not None and time.monotonic() - self._last_full > self.hold:
            self.close()

    def behind(self) -> None:
        """On (or kept on) from now: a full batch, or the worker's start (a restart is when a
        backlog is likely; ``hold`` seconds later it goes off if there was none)."""
        self._last_full = time.monotonic()
        if self._client is None:
            self._start()
        else:
            self._subscribe_new(self._client)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        client.disconnect()
        client.loop_stop()
        logger.info(
            "%s: fast path off after %d copies of watched readings, %d evaluated (%d "
            "dropped: its queue was full)",
            "stopping" if self.live else "caught up",
            self.copies,
            self.evaluated,
            self.dropped,
        )

    def _start(self) -> None:
        watched = self.watched()
        if not watched:
            return  # no rule watches any device: nothing to put first
        self.copies = self.evaluated = self.dropped = 0
        with self._lock:
            self._subscribed, self._seen = frozenset(), None
        client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        self.target.configure(client)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.connect_async(self.target.host, self.target.port, keepalive=60)
        client.loop_start()
        self._client = client
        logger.info(
            "%s: fast path on, subscribing the telemetry of %d watched devices so that "
            "their readings overtake the backlog",
            "live" if self.live else "behind",
            len(watched),
        )

    def _subscribe_new(self, client: mqtt.Client) -> None:
        """Subscribe what is watched and not yet subscribed on this connection (the watched set
        is swapped whole when it changes: the same object, nothing to do)."""
        watched = self.watched()
        with self._lock:
            if watched is self._seen:
                return
            self._seen = watched
            new = sorted(watched - self._subscribed)
            self._subscribed = self._subscribed | watched
            step = TOPICS_PER_SUBSCRIBE
            chunks = [new[i : i + step] for i in range(0, len(new), step)]
            self._pending += len(chunks)
        for chunk in chunks:
            client.subscribe([(topic, 0) for topic in chunk])

    # -- paho callbacks (network thread): never raise ----------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.error("broker %s refused the fast path: %s", self.target.redacted(), reason)
            return
        with self._lock:
            self._subscribed, self._seen = frozenset(), None  # a clean session: all again
            self._pending = 0
        self._subscribe_new(client)

    def _on_subscribe(self, *_args: Any) -> None:
        with self._lock:
            self._pending -= 1
            ready, count = self._pending == 0, len(self._subscribed)
        if ready:
            logger.info("fast path ready: %d watched devices' telemetry subscribed", count)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.retain:  # replayed because we subscribed: stale, as in ingest/consumer.py
            return
        payload = message.payload
        size = len(payload)
        if size > MAX_PAYLOAD_BYTES:
            return  # the persistent session's copy gets the rejection
        item = Inbound(
            message.topic, bytes(payload), 0, 0, FAST_GENERATION, datetime.now(UTC), size
        )
        if self.queue.put(item, urgent=True, timeout=0):
            self.copies += 1
        else:
            self.dropped += 1
