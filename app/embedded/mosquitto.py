"""The embedded Mosquitto: its own port and config, persistence on, a deep per-client queue,
authentication through the dynamic-security plugin (accounts created at run time)."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass

from app.embedded import install
from app.embedded.process import (
    check_traversable,
    chown_tree,
    pid_alive,
    port_open,
    read_pid,
    require_binary,
    wait_for,
)
from app.embedded.state import MQTT_SERVICE_USER, StatePaths, mqtt_url, read_or_create_secret

SYSTEM_USER = "mosquitto"

# max_queued_messages: the default (1000) silently drops bursts for a slow or offline
# persistent-session subscriber such as a restarting ingestor; we keep a million and no byte cap.
# max_inflight_messages: with manual acks the ingestor holds a whole batch unacknowledged.
# persistent_client_expiration: MQTT 3.1.1 sessions (the ingestor's default) expire like the
# MQTT 5 session expiry would, so an abandoned session does not queue forever.
CONFIG_TEMPLATE = """\
# written by `parktwin services up`; edits are overwritten
per_listener_settings false
allow_anonymous false
listener {port} 127.0.0.1
persistence true
persistence_location {data}/
autosave_interval 30
max_queued_messages 1000000
max_queued_bytes 0
max_inflight_messages 10000
max_keepalive 600
persistent_client_expiration 7d
plugin {plugin}
plugin_opt_config_file {dynsec}
log_dest file {log}
log_type error
log_type warning
log_type notice
connection_messages false
pid_file {pid}
"""


@dataclass
class EmbeddedMosquitto:
    paths: StatePaths
    port: int

    @property
    def password(self) -> str:
        return read_or_create_secret(self.paths.mqtt_password)

    def url(self) -> str:
        return mqtt_url(self.password, self.port)

    def _write_config(self) -> None:
        plugin = require_binary(install.dynsec_plugin(), "the Mosquitto dynamic-security plugin")
        self.paths.mqtt_data.mkdir(parents=True, exist_ok=True)
        self.paths.mqtt_conf.write_text(
            CONFIG_TEMPLATE.format(
                port=self.port,
                data=self.paths.mqtt_data,
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
        binary = require_binary(install.mosquitto_binary(), "Mosquitto")
        self.paths.mqtt.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._init_dynsec()
        self.paths.mqtt_pid.unlink(missing_ok=True)
        chown_tree(self.paths.mqtt, SYSTEM_USER)
        check_traversable(self.paths.mqtt, SYSTEM_USER)
        subprocess.run([str(binary), "-c", str(self.paths.mqtt_conf), "-d"], check=True)
        try:
            wait_for(lambda: port_open(self.port), 15, f"Mosquitto on port {self.port}")
        except TimeoutError as exc:
            tail = self.paths.mqtt_log.read_text()[-2000:] if self.paths.mqtt_log.exists() else ""
            raise RuntimeError(f"Mosquitto did not start:\n{tail}") from exc

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the broker (SIGTERM saves the persistence file first) and wait until gone."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, sig)
        wait_for(lambda: not pid_alive(pid), 30, f"Mosquitto (pid {pid}) to exit")
        self.paths.mqtt_pid.unlink(missing_ok=True)
