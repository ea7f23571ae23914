"""MQTT connection settings from ``PARKTWIN_MQTT_URL`` and a paho client factory.

paho stays at the edge: the rest of the code sees ``MqttTarget`` and the small clients built on
it (broker/dynsec.py, ingest/). ``mqtts://`` connects over TLS and verifies the broker's
certificate and host name, against ``PARKTWIN_MQTT_CA_FILE`` when set, else the system's CAs.
"""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

PLAIN_SCHEMES = ("mqtt", "tcp")
TLS_SCHEMES = ("mqtts", "ssl")


@dataclass(frozen=True)
class MqttTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool = False
    ca_file: Path | None = None

    @classmethod
    def from_url(cls, url: str, ca_file: Path | None = None) -> MqttTarget:
        parts = urlsplit(url)
        if parts.scheme not in PLAIN_SCHEMES + TLS_SCHEMES:
            raise ValueError(
                f"an MQTT URL must start with mqtt:// or mqtts://, got {parts.scheme!r}"
            )
        tls = parts.scheme in TLS_SCHEMES
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            ca_file=ca_file,
        )

    def redacted(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def configure(self, client: mqtt.Client) -> None:
        """Credentials, and for mqtts:// TLS with certificate and host name verification."""
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set_context(tls_context(self.ca_file))


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A client context that verifies the broker (``ca_file``, else the system's CAs)."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def new_client(target: MqttTarget, client_id: str | None = None, **kwargs: object) -> mqtt.Client:
    """A paho 2.x client (MQTT 5, callback API v2) with the target's credentials and TLS set."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"parktwin-{uuid.uuid4().hex[:12]}",
        protocol=mqtt.MQTTv5,
        **kwargs,  # type: ignore[arg-type]
    )
    target.configure(client)
    return client
