"""Retire the sessions of worker ids no longer in use.

A broker keeps routing a share group's messages to every member session, connected or not, until
the session expires. After ``--workers`` goes down from N to M, the sessions ``{id}-M`` ..
``{id}-(N-1)`` would silently hold back part of the stream for days. At start-up the ingestor
therefore probes the next few ids past its own: a session that exists is drained through a
normal worker (its queued messages are stored, not dropped) until it has been idle for a moment,
then unsubscribed and deleted.
"""

from __future__ import annotations

import logging
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from app.core.config import Settings
from app.core.mqtt import MqttTarget
from ingest.metrics import IngestMetrics
from ingest.pipeline import IngestWorker, build_worker

logger = logging.getLogger(__name__)

IDLE_SECONDS = 3.0


def _connect_once(target: MqttTarget, client_id: str, clean: bool) -> bool:
    """Connect as ``client_id`` (3.1.1), disconnect, and tell whether a session was present.
    Without ``clean`` an absent session is created (and must be deleted after); with it, any
    session is deleted."""
    answer: list[bool] = []
    done = threading.Event()

    def on_connect(
        _c: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, _r: object, _p: object
    ) -> None:
        answer.append(bool(flags.session_present))
        done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
        clean_session=clean,
    )
    if target.username is not None:
        client.username_pw_set(target.username, target.password)
    client.on_connect = on_connect
    client.connect(target.host, target.port)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()
    return bool(answer and answer[0])


def _drain(worker: IngestWorker) -> None:
    """Run ``worker`` until nothing has arrived for IDLE_SECONDS, then stop it."""
    thread = threading.Thread(target=worker.run, name="retire", daemon=True)
    thread.start()
    last, quiet_since = -1, time.monotonic()
    while thread.is_alive():
        if worker.received_total != last:
            last, quiet_since = worker.received_total, time.monotonic()
        elif time.monotonic() - quiet_since > IDLE_SECONDS and worker.consumer.queue.empty():
            worker.stop.set()
        time.sleep(0.2)


def retire_stale_sessions(settings: Settings, first_unused: int, metrics: IngestMetrics) -> int:
    """Drain and delete the sessions of ids ``first_unused`` .. + ingest_retire_ids; return how
    many existed."""
    target = MqttTarget.from_url(settings.resolved_mqtt_url())
    retired = 0
    for index in range(first_unused, first_unused + settings.ingest_retire_ids):
        client_id = f"{settings.ingest_client_id}-{index}"
        if _connect_once(target, client_id, clean=False):
            logger.warning("draining the session of retired worker %s", client_id)
            worker = build_worker(settings, index, metrics, threading.Event(), mode="retire")
            _drain(worker)
            retired += 1
        _connect_once(target, client_id, clean=True)
    return retired
