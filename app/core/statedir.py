"""Where the embedded services keep their state, and the URLs that reach them (the settings'
fallback when no URL is set; ``app/embedded`` installs and runs the services).

Layout under ``PARKTWIN_STATE_DIR`` (default ``.parktwin/``)::

    pg/data/            the PostgreSQL cluster (initdb)
    pg/password         the ``parktwin`` superuser's password (provisioning only)
    pg/<role>.password  the passwords of the schema owner and of the processes' logins
    pg/postgres.log
    mqtt/mosquitto.conf the broker's config, written on every ``up``
    mqtt/dynamic-security.json, mqtt/data/ (persistence), mqtt/mosquitto.log, mqtt/mosquitto.pid
    mqtt/password       the ``parktwin`` dynsec admin account's password
    mqtt/ingest-password, mqtt/api-password   the ingest and API accounts' passwords
    mqtt/tls/           the TLS listener's server key and certificate (when generated)
    tls/                the local CA (ca.key, ca.crt) that issued it; give ca.crt to devices
    build/              TimescaleDB source build (Debian 12 only)
    install.log         what the installer's commands printed (parktwin services install)
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit

from app.core.config import MqttRole, Settings

# The broker accounts of the ingestor and of the API (app/broker/accounts.py provisions them).
INGEST_USER = "parktwin-ingest"
API_USER = "parktwin-api"
DB_USER = "parktwin"  # the superuser: creates databases, roles and the extension
DB_NAME = "parktwin"
DB_OWNER = "parktwin_owner"  # owns the schema, runs the migrations; what `services up` prints
# Each process's group role (migration 0016 grants to it) and its login on the embedded cluster.
DB_GROUPS = {"api": "parktwin_api", "ingest": "parktwin_ingest", "worker": "parktwin_worker"}
DB_LOGINS = {process: f"{group}_login" for process, group in DB_GROUPS.items()}
DB_BI_GROUP = "parktwin_bi"  # BI tools' read-only role (migration 0027): no login (docs/bi.md)
MQTT_SERVICE_USER = "parktwin"
MQTT_USERS: dict[MqttRole, str] = {
    "admin": MQTT_SERVICE_USER,
    "ingest": INGEST_USER,
    "api": API_USER,
}


class EmbeddedStateMissing(RuntimeError):
    """The embedded services have not been set up in this state directory."""


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def pg(self) -> Path:
        return self.root / "pg"

    @property
    def pg_data(self) -> Path:
        return self.pg / "data"

    @property
    def pg_password(self) -> Path:
        return self.pg / "password"

    def pg_role_password(self, role: str) -> Path:
        return self.pg / f"{role}.password"

    @property
    def pg_log(self) -> Path:
        return self.pg / "postgres.log"

    @property
    def mqtt(self) -> Path:
        return self.root / "mqtt"

    @property
    def mqtt_conf(self) -> Path:
        return self.mqtt / "mosquitto.conf"

    @property
    def mqtt_dynsec(self) -> Path:
        return self.mqtt / "dynamic-security.json"

    @property
    def mqtt_data(self) -> Path:
        return self.mqtt / "data"

    @property
    def mqtt_log(self) -> Path:
        return self.mqtt / "mosquitto.log"

    @property
    def mqtt_pid(self) -> Path:
        return self.mqtt / "mosquitto.pid"

    @property
    def mqtt_password(self) -> Path:
        return self.mqtt / "password"

    def mqtt_secret(self, role: MqttRole) -> Path:
        return self.mqtt_password if role == "admin" else self.mqtt / f"{role}-password"

    @property
    def mqtt_tls(self) -> Path:
        return self.mqtt / "tls"

    @property
    def ca(self) -> Path:
        return self.root / "tls"

    @property
    def ca_cert(self) -> Path:
        return self.ca / "ca.crt"

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def install_log(self) -> Path:
        return self.root / "install.log"


def state_paths(settings: Settings) -> StatePaths:
    return StatePaths(settings.state_dir.resolve())


def create_private(path: Path, data: bytes) -> bool:
    """Write ``data`` to a new file that is created with mode 0600 (never readable by others,
    not even for a moment); False, writing nothing, if the file already exists."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return True


def read_or_create_secret(path: Path) -> str:
    """A random password kept in ``path`` (mode 0600), created on first use."""
    create_private(path, (secrets.token_urlsafe(24) + "\n").encode())
    return path.read_text().strip()


def _read_secret(path: Path, service: str) -> str:
    if not path.exists():
        raise EmbeddedStateMissing(
            f"no embedded {service} in {path.parent.parent}: run `parktwin services up` "
            f"or set PARKTWIN_{'DATABASE' if service == 'PostgreSQL' else 'MQTT'}_URL"
        )
    return path.read_text().strip()


def database_url(password: str, port: int, database: str = DB_NAME, user: str = DB_USER) -> str:
    return f"postgresql://{user}:{quote(password, safe='')}@127.0.0.1:{port}/{database}"


def mqtt_url(password: str, port: int, user: str = MQTT_SERVICE_USER) -> str:
    return f"mqtt://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}"


def embedded_database_url(settings: Settings, process: str | None = None) -> str:
    """The schema owner's URL, or with ``process`` ("api", "ingest", "worker") that process's
    login's ("migrate" is the owner)."""
    role = DB_LOGINS.get(process or "", DB_OWNER)
    password = _read_secret(state_paths(settings).pg_role_password(role), "PostgreSQL")
    return database_url(password, settings.embedded_pg_port, user=role)


Listener = Literal["service", "device"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def embedded_mqtt_url(
    settings: Settings, role: MqttRole = "admin", listener: Listener = "service"
) -> str:
    """The embedded broker as ``role``'s account: on its services listener (parktwin's
    processes; the device listener while a broker started by an earlier version, without
    one, still runs), or on the plain device listener (where the broker replaces every client
    id with the username)."""
    password = _read_secret(state_paths(settings).mqtt_secret(role), "Mosquitto")
    service = listener == "service" and has_service_listener(settings)
    port = settings.embedded_mqtt_service_port if service else settings.embedded_mqtt_port
    return mqtt_url(password, port, MQTT_USERS[role])


def service_listener_line(settings: Settings) -> str:
    """The services listener's line in the embedded broker's mosquitto.conf."""
    return f"listener {settings.embedded_mqtt_service_port} 127.0.0.1"


def has_service_listener(settings: Settings) -> bool:
    """Whether the embedded broker's configuration (written at its last start) has the
    services listener."""
    try:
        conf = state_paths(settings).mqtt_conf.read_text()
    except OSError:
        return False
    return service_listener_line(settings) in conf.splitlines()


def via_service_listener(settings: Settings, url: str) -> str:
    """``url`` with its port moved to the services listener when it names the embedded
    broker's plain device listener (loopback, PARKTWIN_EMBEDDED_MQTT_PORT) and the broker
    running from this state directory has a services listener; otherwise ``url`` unchanged.

    This is how the contract's flow keeps working: ``services up`` prints the device
    listener's ``PARKTWIN_MQTT_URL``, and processes started with just that line must not all
    become one client id (the device listener uses the username as client id)."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or parts.hostname not in LOOPBACK:
        return url
    if parts.port != settings.embedded_mqtt_port or not has_service_listener(settings):
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    host = hostport.rsplit(":", 1)[0]
    netloc = f"{userinfo}@" if userinfo else ""
    return parts._replace(netloc=f"{netloc}{host}:{settings.embedded_mqtt_service_port}").geturl()
