"""``parktwin services up|down|status``: the embedded PostgreSQL + TimescaleDB and Mosquitto.

A service whose URL is set in the environment to somewhere other than the embedded port is
left alone: ``up`` only echoes its URL.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import urlsplit

from app.broker.accounts import provision
from app.broker.dynsec import DynsecClient
from app.core.config import Settings
from app.core.mqtt import MqttTarget
from app.core.statedir import state_paths
from app.embedded import install
from app.embedded.mosquitto import EmbeddedMosquitto
from app.embedded.postgres import EmbeddedPostgres


def _is_external(url: str | None, *embedded_ports: int) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    if "," in parts.netloc:  # a multi-host URL (a Patroni cluster): never the embedded one
        return True
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return not (local and parts.port in embedded_ports)


@dataclass
class EmbeddedServices:
    settings: Settings
    postgres: EmbeddedPostgres
    mosquitto: EmbeddedMosquitto

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedServices:
        paths = state_paths(settings)
        return cls(
            settings,
            EmbeddedPostgres(paths, settings.embedded_pg_port),
            EmbeddedMosquitto(paths, settings.embedded_mqtt_port, settings),
        )

    @property
    def external_db(self) -> bool:
        return _is_external(self.settings.database_url, self.postgres.port)

    @property
    def external_mqtt(self) -> bool:
        return _is_external(
            self.settings.mqtt_url, self.mosquitto.port, self.mosquitto.service_port
        )

    def install(self, out: TextIO | None = None) -> None:
        """Install what is missing; progress lines on ``out`` (stdout by default)."""
        paths = state_paths(self.settings)
        install.ensure_installed(paths.build, paths.install_log, out)

    def up(self) -> dict[str, str]:
        """Start what is embedded and not running; return the two URLs in force."""
        if not (self.external_db and self.external_mqtt):
            self.install(sys.stderr)  # stdout is for the two URL lines
        state_paths(self.settings).root.mkdir(parents=True, exist_ok=True)
        if not self.external_db:
            self.postgres.start()
        if not self.external_mqtt:
            self.mosquitto.start()
            self.provision_broker()
        return self.urls()

    def provision_broker(self) -> None:
        """As the dynsec admin: keep the ingest and API accounts, and upgrade existing device
        accounts to today's ACLs, removing the client-id pins of the previous version
        (app/broker/accounts.py). Idempotent. Through the services listener."""
        client = DynsecClient(MqttTarget.from_url(self.mosquitto.url()))
        client.connect()
        try:
            provision(client, self.mosquitto.service_accounts())
        finally:
            client.close()

    def urls(self) -> dict[str, str]:
        """``PARKTWIN_DATABASE_URL`` and ``PARKTWIN_MQTT_URL`` (the contract's two lines; the
        MQTT one is the broker's admin account on the plain device listener, whose host and
        port devices use), then, for an embedded broker, each service's least-privileged
        account on the services listener, the devices' TLS listener and the CA that verifies
        it."""
        database, broker = self.settings.database_url, self.settings.mqtt_url
        urls = {
            "PARKTWIN_DATABASE_URL": database
            if database and self.external_db
            else self.postgres.url(),
            "PARKTWIN_MQTT_URL": broker
            if broker and self.external_mqtt
            else self.mosquitto.device_url(),
        }
        if not self.external_mqtt:
            urls["PARKTWIN_INGEST_MQTT_URL"] = self.mosquitto.url("ingest")
            urls["PARKTWIN_API_MQTT_URL"] = self.mosquitto.url("api")
            urls["PARKTWIN_MQTTS_URL"] = self.mosquitto.tls_url()
            ca_file = self.mosquitto.ca_file()
            if ca_file is not None:
                urls["PARKTWIN_MQTT_CA_FILE"] = str(ca_file)
        return urls

    def down(self) -> None:
        if not self.external_mqtt:
            self.mosquitto.stop()
        if not self.external_db:
            self.postgres.stop()

    def status(self) -> dict[str, str]:
        def describe(external: bool, running: bool, port: int) -> str:
            if external:
                return "external (not managed here)"
            return f"running on 127.0.0.1:{port}" if running else "stopped"

        return {
            "postgresql": describe(self.external_db, self.postgres.running(), self.postgres.port),
            "mosquitto": describe(
                self.external_mqtt, self.mosquitto.running(), self.mosquitto.port
            ),
        }
