"""The AMQP edge, beside the MQTT one (ingest/consumer.py): a RabbitMQ quorum queue in, the same
bounded queue of ``Inbound`` out, acknowledgements back after commit.

On a RabbitMQ cluster devices publish MQTT to any node; the MQTT plugin routes each message into
``amq.topic`` and the durable quorum queue bound there (app/broker/rabbit.py) holds it, on a
majority of the nodes, before the device gets its PUBACK. Every ingest worker, on any host,
consumes that one queue as a competing consumer: no shared subscription, no session to restore,
so a broker or worker restart has no window in which messages go nowhere.

- ``prefetch`` bounds what the broker has handed us unacknowledged; it is kept at most the
  queue's size, so ``on_message`` rarely waits. When it does (payload bytes), it blocks pika's
  I/O loop: the broker simply holds the rest (back-pressure without loss).
- A message is acknowledged (``basic.ack``, one per delivery tag, from pika's own thread) only
  after the batch holding it has committed. A worker killed mid-batch leaves its deliveries
  unacknowledged; the queue hands them to another worker (``redelivered``) and the (series,
  time) key stores them once.
- Delivery tags belong to one channel: each connection is a generation, and after a reconnect
  the old generation's messages are never acknowledged (the broker has requeued them already).
- The routing key is turned back into the MQTT topic (``to_topic``; the plugin's mapping is in
  app/broker/rabbit.py), so parsing, the urgent
  lane and the rejection log see the same topics as with Mosquitto.
- Several node URLs: a lost connection moves on to the next node.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from ingest.consumer import OVERSIZE_KEPT_BYTES, Inbound, payload_bytes
from ingest.lanes import Lanes
from ingest.parse import MAX_PAYLOAD_BYTES

logger = logging.getLogger(__name__)


def to_topic(routing_key: str) -> str:
    """The MQTT topic of a device's routing key (``parks.{park}.devices.{device}.{kind}``)."""
    if not routing_key.startswith("parks."):
        return routing_key
    park, sep, rest = routing_key[len("parks.") :].partition(".devices.")
    device, dot, kind = rest.rpartition(".")
    if not (sep and dot):
        return routing_key.replace(".", "/")
    return f"parks/{park}/devices/{device}/{kind}"


class AmqpConsumer:
    """One competing consumer of the ingest queue; the same surface as ``MqttConsumer``."""

    retiring = False

    def __init__(
        self,
        urls: Sequence[str],
        client_id: str,
        *,
        queue_name: str,
        queue_size: int,
        queue_bytes: int = 0,
        prefetch: int,
    ) -> None:
        if not urls:
            raise ValueError("PARKTWIN_AMQP_URL names no node")
        self.client_id = client_id
        self.queue: Lanes[Inbound] = Lanes(queue_size, queue_bytes // 2, payload_bytes)
        self.urgent_topics: frozenset[str] = frozenset()
        self.on_subscribed: Callable[[bool], None] = lambda _up: None
        self.generation = 0
        self.session_present: bool | None = None
        self.connected = threading.Event()
        self._urls = list(urls)
        self._queue_name = queue_name
        self._prefetch = max(1, min(prefetch, queue_size))
        self._stopping = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._thread = threading.Thread(target=self._run, name="ingest-amqp", daemon=True)

    def start(self) -> None:
        # pika logs every failed connection attempt as several ERROR lines with tracebacks;
        # _run logs one line per lost or refused node instead
        logging.getLogger("pika").setLevel(logging.CRITICAL)
        self._thread.start()

    def stop(self) -> None:
        """Close the connection: the broker requeues whatever is unacknowledged."""
        self._stopping.set()
        self._thread.join(timeout=30)

    def ack(self, messages: Iterable[Inbound]) -> int:
        """Acknowledge the current connection's messages (from pika's thread)."""
        generation = self.generation
        tags = [m.mid for m in messages if m.generation == generation]
        connection, channel = self._connection, self._channel
        if not tags or connection is None or channel is None:
            return 0

        def send() -> None:
            if self.generation == generation and channel.is_open:
                for tag in tags:
                    channel.basic_ack(tag)

        try:
            connection.add_callback_threadsafe(send)
        except (pika.exceptions.AMQPError, AttributeError):  # closed meanwhile: redelivered
            return 0
        return len(tags)

    # -- pika's thread -------------------------------------------------------------------------

    def _run(self) -> None:
        for url in itertools.cycle(self._urls):
            if self._stopping.is_set():
                return
            try:
                self._consume(url)
            except pika.exceptions.AMQPError as exc:
                logger.warning(
                    "AMQP node %s lost or refused (%s); trying the next", _host(url), exc
                )
            finally:
                self._lost()
            if not self._stopping.wait(0.5):
                continue
            return

    def _consume(self, url: str) -> None:
        params = pika.URLParameters(url)
        params.heartbeat = 30
        params.blocked_connection_timeout = 300
        params.client_properties = {"connection_name": self.client_id}
        connection = pika.BlockingConnection(params)
        channel = connection.channel()
        channel.basic_qos(prefetch_count=self._prefetch)
        self.generation += 1
        self._connection, self._channel = connection, channel
        channel.basic_consume(self._queue_name, self._on_message)
        logger.info("consuming %s on %s", self._queue_name, _host(url))
        self.connected.set()
        self.on_subscribed(True)
        try:
            while not self._stopping.is_set():
                connection.process_data_events(time_limit=0.2)
        finally:
            if connection.is_open:
                connection.close()

    def _lost(self) -> None:
        if self.connected.is_set():
            self.on_subscribed(False)
        self.connected.clear()
        self._connection = self._channel = None

    def _on_message(
        self,
        _channel: BlockingChannel,
        method: Basic.Deliver,
        _properties: BasicProperties,
        body: bytes,
    ) -> None:
        topic = to_topic(method.routing_key or "")
        size = len(body)
        payload = body[:OVERSIZE_KEPT_BYTES] if size > MAX_PAYLOAD_BYTES else body
        item = Inbound(
            topic, payload, method.delivery_tag or 0, 1, self.generation, datetime.now(UTC), size
        )
        urgent = topic in self.urgent_topics
        while not self._stopping.is_set():
            if self.queue.put(item, urgent, timeout=0.5):
                return
        # stopping: the message stays unacknowledged and the broker redelivers it


def _host(url: str) -> str:
    return url.rpartition("@")[2]
