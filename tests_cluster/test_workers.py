"""Two ``parktwin worker`` processes on the same (clustered) database share the webhook jobs:
each delivery is made once, by one of them, and both take part.

What makes it so (app/webhooks/queue.py): events are taken from the outbox ``FOR UPDATE SKIP
LOCKED`` and deliveries claimed with their webhook's row locked ``SKIP LOCKED``, so a second
worker skips what the first holds instead of waiting for it or taking it too. Each worker logs
every attempt with the event id (``PARKTWIN_LOG_LEVEL=INFO``): the two logs' sets of
(webhook, event) must be disjoint and together be every delivery.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter

from tests.ingest_support import add_park, wait_until
from tests.webhooks.conftest import Receiver, Worker, insert_event, start_worker
from tests_cluster.conftest import Api
from tests_cluster.patroni import PatroniCluster

WEBHOOKS = 4
EVENTS = 50
ATTEMPT = re.compile(r"webhook \S+/hook(\d+) event ([0-9a-f-]{36}) attempt \d+: 200")


def _delivered(worker: Worker) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in ATTEMPT.finditer(worker.output())]


def test_two_workers_deliver_each_webhook_event_once(cluster: PatroniCluster, api: Api) -> None:
    park_id = f"wk-{uuid.uuid4().hex[:6]}"
    add_park(cluster.url(), park_id, {})
    receiver = Receiver().start()
    try:
        with api.client() as client:
            for i in range(WEBHOOKS):
                made = client.post(
                    f"/api/v1/parks/{park_id}/webhooks",
                    json={"url": f"{receiver.url}{i}", "event_types": ["*"]},
                )
                assert made.status_code == 201, made.text
        workers = [start_worker(cluster.url()) for _ in range(2)]
        try:
            for n in range(EVENTS):
                insert_event(cluster.url(), park_id, "device.online", None, {"n": n})
            expected = WEBHOOKS * EVENTS
            wait_until(lambda: len(receiver.requests) >= expected, 180, "every delivery")
            time.sleep(2)  # a duplicate, if there were one, would arrive now
        finally:
            for worker in workers:
                worker.stop()
        received = Counter((r.path.removeprefix("/hook"), r.id) for r in receiver.requests)
        assert len(received) == expected
        assert max(received.values()) == 1  # none twice
        first, second = (set(_delivered(w)) for w in workers)
        assert first and second  # both took part
        assert not first & second  # no delivery by both
        assert len(first | second) == expected
    finally:
        receiver.stop()
