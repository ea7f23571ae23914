"""MQTT connection settings from ``PARKTWIN_MQTT_URL`` and a paho client factory.

paho stays at the edge: the rest of the code sees ``MqttTarget`` and the small clients built on
it (broker/dynsec.py, ingest/).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class MqttTarget:
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> MqttTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp"):
            raise ValueError(f"PARKTWIN_MQTT_URL must start with mqtt://, got {parts.scheme!r}")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 1883,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def redacted(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"mqtt://{user}{self.host}:{self.port}"


def new_client(target: MqttTarget, client_id: str | None = None, **kwargs: object) -> mqtt.Client:
    """A paho 2.x client (MQTT 5, callback API v2) with the target's credentials set."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"parktwin-{uuid.uuid4().hex[:12]}",
        protocol=mqtt.MQTTv5,
        **kwargs,  # type: ignore[arg-type]
    )
    if target.username is not None:
        client.username_pw_set(target.username, target.password)
    return client
