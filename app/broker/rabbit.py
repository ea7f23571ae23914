"""MQTT accounts and the ingest queue on a RabbitMQ cluster, through its management HTTP API.

RabbitMQ's MQTT plugin (3.10, Debian 12) publishes into the ``amq.topic`` exchange with the MQTT
topic's ``/`` turned into ``.`` and nothing else: ``parks/p.1/devices/d-2/telemetry`` routes as
``parks.p.1.devices.d-2.telemetry`` (measured; later versions also turn ``.`` into ``/``). So the
words of a routing key are not the topic's levels when an identifier contains ``.``:

- the ingest queue is bound with ``parks.#.telemetry`` and ``parks.#.status``;
- a device's topic permission is its exact routing key (regex-escaped), so it still publishes
  only its own two topics;
- ingest/amqp.py ``to_topic`` reads a routing key back by splitting at the first
  ``.devices.``: exact unless a park id itself contains ``.devices.`` (then the message is
  rejected as ``unknown_park``; such ids are legal in the contract but nobody uses them;
  docs/scale-out.md).

Rights, the same as on Mosquitto (app/broker/dynsec.py):

| account | vhost permissions (configure / write / read) | topic permissions on ``amq.topic`` |
|---|---|---|
| device ``{park}:{device}`` | none / ``amq.topic`` / none | write its own two keys only |
| ``parktwin-ingest`` | the ingest queue / none / the ingest queue | - |
| ``parktwin-api`` | tag ``administrator`` (RabbitMQ has no narrower right to manage users) | - |

A device account has no tags, so it cannot log in to the management API; the MQTT plugin
takes ``{park}:{device}`` as one username (``ignore_colons_in_username``,
app/embedded/rabbitmq.py), not as ``vhost:user``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from app.broker.dynsec import DynsecError, device_username

logger = logging.getLogger(__name__)

EXCHANGE = "amq.topic"
VHOST = "/"
DEFAULT_QUEUE = "parktwin.telemetry"
BINDING_KEYS = ("parks.#.telemetry", "parks.#.status")


class RabbitError(DynsecError):
    """No node of the cluster took an account change (a DynsecError: callers treat both alike)."""


def to_routing_key(topic: str) -> str:
    """The routing key RabbitMQ's MQTT plugin gives ``topic``."""
    return topic.replace("/", ".")


def device_write_pattern(park_id: str, device_id: str) -> str:
    """The routing keys (a regular expression) a device may publish to."""
    prefix = to_routing_key(f"parks/{park_id}/devices/{device_id}")
    return f"^{re.escape(prefix)}\\.(telemetry|status)$"


class RabbitAccounts:
    """The API's account manager on a RabbitMQ cluster (management URLs of several nodes; a
    call goes to the first node that answers). Same methods as ``DynsecClient``."""

    def __init__(self, urls: Sequence[str], timeout: float = 5.0) -> None:
        if not urls:
            raise ValueError("no RabbitMQ management URL")
        self._bases: list[str] = []
        auth: tuple[str, str] | None = None
        for url in urls:
            parts = urlsplit(url)
            auth = (parts.username or "", parts.password or "")
            self._bases.append(f"{parts.scheme}://{parts.hostname}:{parts.port}")
        assert auth is not None
        self._client = httpx.Client(auth=auth, timeout=timeout)
        self._up = False
        self._closing = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="rabbit-watch", daemon=True)

    # -- the DynsecClient surface ------------------------------------------------------------

    def start(self) -> None:
        """Watch the cluster in a thread: ``is_connected`` (``/readyz``) must not block."""
        self._watcher.start()

    def _watch(self) -> None:
        while not self._closing.is_set():
            try:
                self._request("GET", "/api/overview")
                self._up = True
            except RabbitError as exc:
                if self._up:
                    logger.warning("RabbitMQ management API unreachable: %s", exc)
                self._up = False
            self._closing.wait(5)

    def connect(self) -> None:
        self._request("GET", "/api/overview")
        self._up = True

    def close(self) -> None:
        self._closing.set()
        if self._watcher.is_alive():
            self._watcher.join(timeout=10)
        self._client.close()

    def is_connected(self) -> bool:
        return self._up

    def ensure_device(self, park_id: str, device_id: str, password: str) -> None:
        """Create or repair the account with ``password`` and its rights (idempotent)."""
        user = device_username(park_id, device_id)
        self.put_user(user, password, tags="")
        self._request(
            "PUT",
            f"/api/permissions/{_q(VHOST)}/{_q(user)}",
            {"configure": "^$", "write": f"^{re.escape(EXCHANGE)}$", "read": "^$"},
        )
        self._request(
            "PUT",
            f"/api/topic-permissions/{_q(VHOST)}/{_q(user)}",
            {"exchange": EXCHANGE, "write": device_write_pattern(park_id, device_id), "read": "^$"},
        )

    def ensure_devices(self, park_id: str, accounts: Iterable[tuple[str, str]]) -> None:
        for device_id, password in accounts:
            self.ensure_device(park_id, device_id, password)

    def set_password(self, park_id: str, device_id: str, password: str) -> None:
        self.ensure_device(park_id, device_id, password)
        self.close_connections(device_username(park_id, device_id))

    def delete_device(self, park_id: str, device_id: str) -> None:
        user = device_username(park_id, device_id)
        self._request("DELETE", f"/api/users/{_q(user)}", missing_ok=True)
        self.close_connections(user)

    def upgrade_devices(self) -> int:
        return 0  # nothing older to upgrade on this broker

    # -- set-up (admin) ------------------------------------------------------------------------

    def put_user(self, user: str, password: str, tags: str) -> None:
        self._request("PUT", f"/api/users/{_q(user)}", {"password": password, "tags": tags})

    def close_connections(self, user: str) -> None:
        """Close ``user``'s open connections on every node: an old password or a deleted
        account stops publishing at once, not at its next reconnect."""
        self._request("DELETE", f"/api/connections/username/{_q(user)}", missing_ok=True)

    def declare_ingest_queue(self, queue: str = DEFAULT_QUEUE) -> None:
        """The durable quorum queue (replicated on every node) and its two bindings."""
        self._request(
            "PUT",
            f"/api/queues/{_q(VHOST)}/{_q(queue)}",
            {"durable": True, "auto_delete": False, "arguments": {"x-queue-type": "quorum"}},
        )
        for key in BINDING_KEYS:
            self._request(
                "POST",
                f"/api/bindings/{_q(VHOST)}/e/{_q(EXCHANGE)}/q/{_q(queue)}",
                {"routing_key": key},
            )

    def ensure_ingest_account(self, user: str, password: str, queue: str = DEFAULT_QUEUE) -> None:
        self.put_user(user, password, tags="")
        own = f"^{re.escape(queue)}$"
        self._request(
            "PUT",
            f"/api/permissions/{_q(VHOST)}/{_q(user)}",
            {"configure": own, "write": "^$", "read": own},
        )

    def ensure_api_account(self, user: str, password: str) -> None:
        self.put_user(user, password, tags="administrator")
        self._request(
            "PUT",
            f"/api/permissions/{_q(VHOST)}/{_q(user)}",
            {"configure": "^$", "write": "^$", "read": "^$"},
        )

    def queue_depth(self, queue: str = DEFAULT_QUEUE) -> int:
        found = self._request("GET", f"/api/queues/{_q(VHOST)}/{_q(queue)}")
        return int(found.get("messages", 0)) if isinstance(found, dict) else 0

    # -- transport -----------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, missing_ok: bool = False
    ) -> Any:
        errors = []
        for base in self._bases:
            try:
                answer = self._client.request(method, base + path, json=body)
            except httpx.HTTPError as exc:
                errors.append(f"{base}: {exc}")
                continue
            if answer.status_code == 404 and missing_ok:
                return None
            if answer.status_code >= 500:
                errors.append(f"{base}: {answer.status_code}")
                continue
            if answer.status_code >= 400:
                raise RabbitError(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
            return answer.json() if answer.content else None
        raise RabbitError("; ".join(errors) or "no node answered")


def _q(part: str) -> str:
    return quote(part, safe="")
