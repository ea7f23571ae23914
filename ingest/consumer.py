"""The MQTT edge: paho in, a bounded queue out, acknowledgements back.

- A persistent session under a stable client id, so the broker keeps what arrives while this
  worker is away: MQTT 3.1.1 ``clean_session=False`` by default (paho parses it much faster;
  the broker's ``max_inflight_messages`` must then exceed a batch, as in our config), or MQTT 5
  ``clean_start=False`` with a session expiry and a Receive Maximum
  (``PARKTWIN_INGEST_MQTT_PROTOCOL=5``).
- ``manual_ack=True``: paho would otherwise acknowledge each QoS 1 message as soon as
  ``on_message`` returns; we acknowledge only after the batch holding it has committed.
- One worker subscribes plainly; several share ``$share/{group}/...``. Mosquitto 2.0 does not
  restore shared subscriptions from its persistence file, so across a broker restart only the
  plain subscription keeps receiving before the worker reconnects (see docs/architecture.md).
- ``on_message`` only enqueues, in the urgent lane when the topic is in ``urgent_topics`` (an
  alarm rule watches the device; ingest/lanes.py). When the queue is full (in messages or in
  payload bytes) it blocks paho's network thread, so the socket stops being read and the broker
  holds the rest: back-pressure without loss. A payload over the contract's 256 KiB can only be
  rejected, so only the part the rejection log keeps (64 KiB) is queued, with its true size.
- A retained message replayed because we (re)subscribed is dropped: a device's retained
  reading would otherwise be stored again after every restart (under a new receipt time when
  it has no ``ts``) and a stale retained ``online`` would override the real status. Live
  messages reach a subscriber with the retain flag cleared, so they are never affected.
- Each connection is a generation. A message's packet id is only meaningful on the connection
  that delivered it, so after a reconnect the messages of the old connection are never
  acknowledged: the broker redelivers them and the (series, time) key deduplicates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from app.core.mqtt import MqttTarget
from ingest.acks import InOrderAcks
from ingest.fastpaho import BufferedClient
from ingest.lanes import Lanes
from ingest.parse import MAX_PAYLOAD_BYTES

# what is kept of a payload over MAX_PAYLOAD_BYTES: the most the rejection log stores
OVERSIZE_KEPT_BYTES = 64 * 1024

logger = logging.getLogger(__name__)

TOPIC_FILTERS = ("parks/+/devices/+/telemetry", "parks/+/devices/+/status")


SubscriptionMode = Literal["plain", "shared", "retire"]


def subscriptions(share_group: str, mode: SubscriptionMode) -> tuple[list[str], list[str]]:
    """What to subscribe and what to unsubscribe on every connect. A persistent session keeps
    the subscriptions of an earlier run with another --workers count: dropping them means no
    message arrives twice. A retiring session subscribes nothing and only drains its queue."""
    plain = list(TOPIC_FILTERS)
    group = [f"$share/{share_group}/{f}" for f in TOPIC_FILTERS]
    if mode == "plain":
        return plain, group
    if mode == "shared":
        return group, plain
    return [], plain + group


@dataclass(slots=True)
class Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received_at: datetime
    size: int  # the payload's length as received (``payload`` may be cut short when oversize)


def payload_bytes(message: Inbound) -> int:
    return len(message.payload)


class MqttConsumer:
    def __init__(
        self,
        target: MqttTarget,
        client_id: str,
        *,
        queue_size: int,
        queue_bytes: int = 0,
        receive_maximum: int,
        session_expiry: timedelta,
        share_group: str,
        mode: SubscriptionMode,
        protocol: str = "3.1.1",
    ) -> None:
        self.target = target
        self.client_id = client_id
        self.topics, self.stale_topics = subscriptions(share_group, mode)
        self.retiring = mode == "retire"
        self.queue: Lanes[Inbound] = Lanes(queue_size, queue_bytes // 2, payload_bytes)
        # telemetry topics of the devices an alarm rule watches, kept by the ingest worker
        self.urgent_topics: frozenset[str] = frozenset()
        # told True when the broker has confirmed the subscription, False when the link drops
        self.on_subscribed: Callable[[bool], None] = lambda _up: None
        self.generation = 0
        self._acks = InOrderAcks()  # the current connection's, reset on each connect
        self.session_present: bool | None = None  # as the broker said at the last connect
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._receive_maximum = receive_maximum
        self._session_expiry = int(session_expiry.total_seconds())
        self._v5 = protocol == "5"
        self._client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
            clean_session=None if self._v5 else False,
            manual_ack=True,
        )
        target.configure(self._client)  # credentials, and TLS for mqtts://
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_args: self.on_subscribed(True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)

    def start(self) -> None:
        if self._v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self._session_expiry
            props.ReceiveMaximum = self._receive_maximum
            self._client.connect_async(
                self.target.host,
                self.target.port,
                keepalive=60,
                clean_start=False,
                properties=props,
            )
        else:
            self._client.connect_async(self.target.host, self.target.port, keepalive=60)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect (the broker keeps the session and anything unacknowledged)."""
        self._stopping.set()
        self._client.disconnect()
        self._client.loop_stop()

    def ack(self, messages: Iterable[Inbound]) -> int:
        """Acknowledge the QoS>0 messages of the current connection: the QoS 1 ones (all of
        them, as we subscribe at QoS 1) once every older one is committed too, in arrival order
        and one write (ingest/acks.py)."""
        current = [m for m in messages if m.qos > 0 and m.generation == self.generation]
        self._acks.done((m.mid for m in current if m.qos == 1), self._client.ack_many)
        for message in current:
            if message.qos == 2:
                self._client.ack(message.mid, message.qos)
        return len(current)

    # -- paho callbacks (network thread): never raise ----------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.error("broker %s refused the ingestor: %s", self.target.redacted(), reason)
            return
        self.generation += 1
        self._acks.reset()
        self.session_present = bool(flags.session_present)
        # Probing an unused worker id for a leftover session is routine: only news is logged.
        quiet = self.retiring and not self.session_present
        logger.log(
            logging.DEBUG if quiet else logging.INFO,
            "connected to %s (session present: %s)",
            self.target.redacted(),
            flags.session_present,
        )
        client.unsubscribe(self.stale_topics)
        if self.topics:
            client.subscribe([(topic, 1) for topic in self.topics])
        self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        self.on_subscribed(False)
        if not self._stopping.is_set():
            logger.warning("lost the broker (%s); paho reconnects", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.qos == 1:
            self._acks.arrived(message.mid)
        if message.retain:  # a retained message replayed on (re)subscribe: stale by then (L12)
            if message.qos == 1:
                self._acks.done([message.mid], self._client.ack_many)
            elif message.qos:
                self._client.ack(message.mid, message.qos)
            return
        topic = message.topic  # paho decodes it on every access
        payload = message.payload
        size = len(payload)
        if size > MAX_PAYLOAD_BYTES:
            payload = payload[:OVERSIZE_KEPT_BYTES]
        item = Inbound(
            topic,
            bytes(payload),
            message.mid,
            message.qos,
            self.generation,
            datetime.now(UTC),
            size,
        )
        urgent = topic in self.urgent_topics
        while not self._stopping.is_set():
            if self.queue.put(item, urgent, timeout=0.5):
                return
