"""Which edge an ingest worker reads from: ``PARKTWIN_INGEST_SOURCE=mqtt`` (Mosquitto, a
persistent session; ingest/consumer.py) or ``amqp`` (a RabbitMQ quorum queue; ingest/amqp.py).
Both fill the same bounded two-lane queue with ``Inbound`` messages and take acknowledgements
after commit, so the pipeline does not know which it has."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Protocol

from app.core.config import Settings
from ingest.consumer import Inbound, MqttConsumer, SubscriptionMode
from ingest.lanes import Lanes


class Source(Protocol):
    client_id: str
    queue: Lanes[Inbound]
    urgent_topics: frozenset[str]
    on_subscribed: Callable[[bool], None]
    generation: int
    connected: threading.Event
    session_present: bool | None

    @property
    def retiring(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def ack(self, messages: Iterable[Inbound]) -> int: ...


def split_urls(spec: str | None) -> list[str]:
    return [url.strip() for url in (spec or "").split(",") if url.strip()]


def build_source(settings: Settings, index: int, mode: SubscriptionMode) -> Source:
    client_id = f"{settings.ingest_client_id}-{index}"
    if settings.ingest_source == "amqp":
        from ingest.amqp import AmqpConsumer

        return AmqpConsumer(
            split_urls(settings.amqp_url),
            client_id,
            queue_name=settings.amqp_queue,
            queue_size=settings.ingest_queue_size,
            queue_bytes=settings.ingest_queue_bytes,
            prefetch=settings.amqp_prefetch,
        )
    return MqttConsumer(
        settings.mqtt_target("ingest"),
        client_id,
        queue_size=settings.ingest_queue_size,
        queue_bytes=settings.ingest_queue_bytes,
        receive_maximum=settings.ingest_receive_maximum,
        session_expiry=settings.ingest_session_expiry,
        share_group=settings.ingest_share_group,
        mode=mode,
        protocol=settings.ingest_mqtt_protocol,
    )
