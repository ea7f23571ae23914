"""The embedded Mosquitto: its own ports and config, persistence on, bounded per-client queues,
authentication through the dynamic-security plugin (accounts created at run time), and three
listeners: for devices a plain one on loopback (PARKTWIN_MQTT_URL's port) and a TLS one, both
with ``use_username_as_clientid`` (a device's session is always its own: it can neither take
over another client's session nor be refused for its client id); for parktwin's own processes a
services listener on loopback without it (the ingestor's workers and the control clients choose
their ids).

The state directory ``mqtt/`` is 0700 (owned by the broker's system user when we run as root), so
``dynamic-security.json``, which Mosquitto writes with the umask, is not readable by other users.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.broker.accounts import ServiceAccount, api_account, ingest_account
from app.broker.dynsec_file import DynsecFile
from app.core.config import MqttRole, Settings
from app.core.mqtt import MqttTarget
from app.core.statedir import (
    MQTT_SERVICE_USER,
    MQTT_USERS,
    StatePaths,
    has_service_listener,
    mqtt_url,
    read_or_create_secret,
    service_listener_line,
)
from app.embedded import install, tls
from app.embedded.process import (
    check_traversable,
    chown_tree,
    pid_alive,
    port_open,
    read_pid,
    require_binary,
    wait_for,
)

SYSTEM_USER = "mosquitto"
# descriptors per allowed connection: three listeners (device, services, TLS) and some slack
OPEN_FILES_PER_LISTENER = 3

# The contract's largest payload (256 KiB) plus 4 KiB for the fixed header, the topic (at most
# about 170 bytes) and MQTT 5 properties. A bigger packet closes the connection before the
# broker buffers it (max_packet_size; 2.0's message_size_limit would only drop it quietly).
MAX_PACKET_SIZE = 256 * 1024 + 4096

# max_queued_messages / max_queued_bytes: the backlog a restarting ingestor's persistent session
# may build up (the first limit reached drops); see docs/security/broker.md for the arithmetic.
# max_inflight_messages: with manual acks the ingestor holds a whole batch unacknowledged; its
# PUBACKs go in arrival order (ingest/acks.py), so the broker finds each at this list's front.
# persistent_client_expiration: MQTT 3.1.1 sessions (the ingestor's default) expire like the
# MQTT 5 session expiry would, so an abandoned session does not queue forever.
# autosave_interval 30: a broker crash (not a clean stop, which saves) loses at most 30 s of
# queue; each save rewrites the whole file, and at 5 s the saves of a 200,000-message backlog
# cost the ingest benchmark a tenth of its rate (docs/benchmarks.md).
# check_retain_source: a retained message is replayed only if its publisher may still publish it.
CONFIG_TEMPLATE = """\
# written by `parktwin services up`; edits are overwritten
per_listener_settings false
allow_anonymous false
# devices: plain MQTT, loopback only; the client id is the username
listener {port} 127.0.0.1
max_connections {max_connections}
use_username_as_clientid true
# parktwin's own processes: loopback only, client ids as sent
{service_listener}
max_connections {max_connections}
{tls_listener}persistence true
persistence_location {data}/
autosave_interval 30
max_packet_size {max_packet_size}
max_queued_messages {max_queued_messages}
max_queued_bytes {max_queued_bytes}
max_inflight_messages 10000
max_keepalive 600
persistent_client_expiration 7d
check_retain_source true
plugin {plugin}
plugin_opt_config_file {dynsec}
log_dest file {log}
log_type error
log_type warning
log_type notice
connection_messages false
pid_file {pid}
"""

TLS_LISTENER = """\
# devices: MQTT over TLS
listener {port} {host}
certfile {certfile}
keyfile {keyfile}
max_connections {max_connections}
use_username_as_clientid true
"""


@dataclass
class EmbeddedMosquitto:
    paths: StatePaths
    port: int
    settings: Settings

    @property
    def password(self) -> str:
        return read_or_create_secret(self.paths.mqtt_password)

    @property
    def tls_port(self) -> int:
        return self.settings.embedded_mqtts_port

    @property
    def service_port(self) -> int:
        return self.settings.embedded_mqtt_service_port

    def url(self, role: MqttRole = "admin") -> str:
        """The services listener as ``role``'s account (its password made on first use); the
        device listener while a broker started by an earlier version, without one, still runs
        (``services down`` and ``up`` restart it with today's configuration)."""
        password = read_or_create_secret(self.paths.mqtt_secret(role))
        port = self.service_port if has_service_listener(self.settings) else self.port
        return mqtt_url(password, port, MQTT_USERS[role])

    def device_url(self) -> str:
        """The plain device listener as the admin account: the contract's
        ``PARKTWIN_MQTT_URL`` (devices use its host and port with their own accounts)."""
        return mqtt_url(self.password, self.port)

    def service_accounts(self) -> list[ServiceAccount]:
        """The ingest and API accounts ``services up`` keeps in the broker."""
        ingest, api = (MqttTarget.from_url(self.url(role)) for role in ("ingest", "api"))
        return [
            ingest_account(str(ingest.username), str(ingest.password)),
            api_account(str(api.username), str(api.password)),
        ]

    def tls_url(self) -> str:
        """Where devices connect (with their own credentials and the CA in ``ca_file()``)."""
        host = self.settings.embedded_mqtts_host
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 (a wildcard bind)
        return f"mqtts://{shown}:{self.tls_port}"

    def ca_file(self) -> Path | None:
        """The CA devices verify the TLS listener with; None when the operator's certificate
        is in use (its CA is theirs)."""
        return None if self.settings.embedded_mqtts_certfile else self.paths.ca_cert

    def _certificate(self) -> tuple[Path, Path]:
        own = self.settings.embedded_mqtts_certfile, self.settings.embedded_mqtts_keyfile
        if own[0] and own[1]:
            return own[0].resolve(), own[1].resolve()
        if own[0] or own[1]:
            raise ValueError(
                "set both PARKTWIN_EMBEDDED_MQTTS_CERTFILE and PARKTWIN_EMBEDDED_MQTTS_KEYFILE"
            )
        return tls.ensure_server_cert(self.paths, self.settings.embedded_mqtts_host)

    def _write_config(self) -> None:
        plugin = require_binary(install.dynsec_plugin(), "the Mosquitto dynamic-security plugin")
        self.paths.mqtt_data.mkdir(parents=True, exist_ok=True, mode=0o700)
        certfile, keyfile = self._certificate()
        limits = self.settings
        self.paths.mqtt_conf.write_text(
            CONFIG_TEMPLATE.format(
                port=self.port,
                max_connections=limits.embedded_mqtt_max_connections,
                service_listener=service_listener_line(limits),
                tls_listener=TLS_LISTENER.format(
                    port=self.tls_port,
                    host=limits.embedded_mqtts_host,
                    certfile=certfile,
                    keyfile=keyfile,
                    max_connections=limits.embedded_mqtt_max_connections,
                ),
                data=self.paths.mqtt_data,
                max_packet_size=MAX_PACKET_SIZE,
                max_queued_messages=limits.embedded_mqtt_max_queued_messages,
                max_queued_bytes=limits.embedded_mqtt_max_queued_bytes,
                plugin=plugin,
                dynsec=self.paths.mqtt_dynsec,
                log=self.paths.mqtt_log,
                pid=self.paths.mqtt_pid,
            )
        )

    def _init_dynsec(self) -> None:
        """Create the plugin's file with our service account (it reads and administers all)."""
        if self.paths.mqtt_dynsec.exists():
            return
        ctrl = require_binary(install.mosquitto_ctrl_binary(), "mosquitto_ctrl")
        subprocess.run(
            [
                str(ctrl),
                "dynsec",
                "init",
                str(self.paths.mqtt_dynsec),
                MQTT_SERVICE_USER,
                self.password,
            ],
            check=True,
            capture_output=True,
        )

    def pid(self) -> int | None:
        pid = read_pid(self.paths.mqtt_pid)
        return pid if pid is not None and pid_alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        if self.running():
            return
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: set PARKTWIN_EMBEDDED_MQTT_PORT")
        if port_open(self.service_port):
            raise RuntimeError(
                f"port {self.service_port} is taken: set PARKTWIN_EMBEDDED_MQTT_SERVICE_PORT"
            )
        if port_open(self.tls_port):
            raise RuntimeError(f"port {self.tls_port} is taken: set PARKTWIN_EMBEDDED_MQTTS_PORT")
        binary = require_binary(install.mosquitto_binary(), "Mosquitto")
        self.paths.mqtt.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.paths.mqtt.chmod(0o700)  # also for a state directory made by an older version
        self._write_config()
        self._init_dynsec()
        self.paths.mqtt_pid.unlink(missing_ok=True)
        chown_tree(self.paths.mqtt, SYSTEM_USER)
        check_traversable(self.paths.mqtt, SYSTEM_USER)
        limits = self.open_files_limit()
        subprocess.run(
            [str(binary), "-c", str(self.paths.mqtt_conf), "-d"],
            check=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limits),
        )
        try:
            wait_for(
                lambda: port_open(self.port) and port_open(self.service_port),
                self._start_timeout(),
                f"Mosquitto on ports {self.port} and {self.service_port}",
            )
        except TimeoutError as exc:
            tail = self.paths.mqtt_log.read_text()[-2000:] if self.paths.mqtt_log.exists() else ""
            raise RuntimeError(f"Mosquitto did not start:\n{tail}") from exc

    def _start_timeout(self) -> float:
        """Seconds to wait for the listeners: the plugin reads its whole file first (about
        8 s for 100,000 accounts, a 54 MB file, on the shared 2-core machine)."""
        size = self.paths.mqtt_dynsec.stat().st_size if self.paths.mqtt_dynsec.exists() else 0
        return 15 + size / 1e6

    def open_files_limit(self) -> tuple[int, int]:
        """The broker's (soft, hard) descriptor limit: one per connection, enough for every
        listener's ``max_connections``. Raised as far as this process may: a hard limit above
        the inherited one needs CAP_SYS_RESOURCE (root on a normal host, not in every
        container); ``max_connections`` beyond the result cannot be reached."""
        limit = self.settings.embedded_mqtt_max_connections
        wanted = OPEN_FILES_PER_LISTENER * limit if limit > 0 else 1 << 20
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        ceiling = int(Path("/proc/sys/fs/nr_open").read_text())
        raised = max(hard, min(wanted, ceiling))
        try:  # probe in this process, then undo: the child gets what worked
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, raised))
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            hard = raised
        except (ValueError, OSError):
            pass
        return min(max(soft, wanted), hard), hard

    def edit_accounts(self, edit: Callable[[DynsecFile], object]) -> None:
        """Change the dynamic-security file in bulk: stop the broker (it saves its queues),
        ``edit`` the file (app/broker/dynsec_file.py), start it again. Connected clients are
        dropped and reconnect; the ingestor's session and its queue survive (persistence)."""
        was_running = self.running()
        self.stop()
        self.paths.mqtt.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._init_dynsec()
        accounts = DynsecFile(self.paths.mqtt_dynsec)
        edit(accounts)
        accounts.save()
        if was_running:
            self.start()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the broker (SIGTERM saves the persistence file first) and wait until gone."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, sig)
        wait_for(lambda: not pid_alive(pid), 30, f"Mosquitto (pid {pid}) to exit")
        self.paths.mqtt_pid.unlink(missing_ok=True)
