"""Retire the sessions of worker ids no longer in use.

A broker keeps routing a share group's messages to every member session, connected or not, until
the session expires. After ``--workers`` goes down from N to M, the sessions ``{id}-M`` ..
``{id}-(N-1)`` would silently hold back part of the stream for days. At start-up the ingestor
therefore connects as each of the next few ids past its own, through a normal worker that
subscribes to nothing: when the broker had a session for the id, its queued messages are stored
(not dropped) until the connection has been idle for a while; then the session is deleted.
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

IDLE_SECONDS = 5.0
CONNECT_TIMEOUT_S = 60.0


def _delete_session(target: MqttTarget, client_id: str) -> None:
    """Connect as ``client_id`` with a clean session (3.1.1), which deletes the broker's."""
    done = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True
    )
    target.configure(client)
    client.on_connect = lambda *_a: done.set()
    client.connect(target.host, target.port)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()


def _drain(worker: IngestWorker) -> bool:
    """Run ``worker`` until its connection has been idle for IDLE_SECONDS; return whether the
    broker had a session for it. The idle clock starts only once connected, so a slow broker
    cannot end the drain before anything arrived."""
    thread = threading.Thread(target=worker.run, name="retire", daemon=True)
    thread.start()
    connected = worker.consumer.connected.wait(CONNECT_TIMEOUT_S)
    existed = bool(worker.consumer.session_present)
    last, quiet_since = -1, time.monotonic()
    while connected and existed and thread.is_alive():
        if worker.received_total != last:
            last, quiet_since = worker.received_total, time.monotonic()
        elif time.monotonic() - quiet_since > IDLE_SECONDS and worker.consumer.queue.empty():
            break
        time.sleep(0.2)
    worker.stop.set()
    thread.join()
    if not connected:
        raise TimeoutError(f"could not reach the broker as {worker.consumer.client_id}")
    return existed


def retire_stale_sessions(settings: Settings, first_unused: int, metrics: IngestMetrics) -> int:
    """Drain and delete the sessions of ids ``first_unused`` .. + ingest_retire_ids; return how
    many existed."""
    target = settings.mqtt_target("ingest")
    retired = 0
    for index in range(first_unused, first_unused + settings.ingest_retire_ids):
        client_id = f"{settings.ingest_client_id}-{index}"
        worker = build_worker(settings, index, metrics, threading.Event(), mode="retire")
        if _drain(worker):
            logger.warning("drained the session of retired worker %s", client_id)
            retired += 1
        _delete_session(target, client_id)
    return retired
