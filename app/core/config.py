"""Settings: environment variables with the prefix ``PARKTWIN_`` (and a ``.env`` file).

Every field here is documented in the README's configuration table with its default.
A settings object is built once at process start-up (``get_settings()`` in the CLI or the
app factory) and passed down; nothing reads the environment at import time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.mqtt import MqttTarget

# who connects: the dynsec admin (`services up`, `broker setup`), the ingestor, the API
MqttRole = Literal["admin", "ingest", "api"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PARKTWIN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str | None = Field(
        default=None,
        description="postgresql://user:pass@host:port/db; unset means the embedded cluster",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="mqtt://user:pass@host:port; unset means the embedded Mosquitto",
    )
    ingest_mqtt_url: str | None = Field(
        default=None,
        description="the ingestor's own broker account (subscribe to telemetry and status only); "
        "unset: PARKTWIN_MQTT_URL, else the embedded broker's ingest account",
    )
    api_mqtt_url: str | None = Field(
        default=None,
        description="the API's own broker account (the dynamic-security control topic only), also "
        "used by `seed` and imports; unset: PARKTWIN_MQTT_URL, else the embedded api account",
    )
    mqtt_ca_file: Path | None = Field(
        default=None,
        description="CA bundle that verifies an mqtts:// broker; unset: the system's CAs",
    )
    mqtt_credentials: Literal["dynsec", "none"] = Field(
        default="dynsec",
        description="how device MQTT accounts are managed: Mosquitto dynamic security, or none",
    )
    state_dir: Path = Field(
        default=Path(".parktwin"), description="where the embedded services keep their state"
    )
    embedded_pg_port: int = 55432
    embedded_mqtt_port: int = 11883
    embedded_mqtts_port: int = Field(
        default=18883, description="the embedded broker's TLS listener for devices"
    )
    embedded_mqtts_host: str = Field(
        default="127.0.0.1",
        description="where the TLS listener binds (0.0.0.0 to reach devices on the network); "
        "the plain listener always stays on 127.0.0.1",
    )
    embedded_mqtts_certfile: Path | None = Field(
        default=None,
        description="server certificate (PEM chain) for the TLS listener; unset: one issued by a "
        "local CA generated under the state directory",
    )
    embedded_mqtts_keyfile: Path | None = Field(
        default=None, description="its private key (PEM); set together with the certificate"
    )
    embedded_mqtt_max_queued_messages: int = Field(
        default=1_000_000,
        ge=0,
        description="QoS 1 messages the broker queues per absent or slow client (the ingestor's "
        "backlog across a restart)",
    )
    embedded_mqtt_max_queued_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=0,
        description="payload bytes the broker queues per client; the first limit reached wins",
    )
    embedded_mqtt_max_connections: int = Field(
        default=20000, ge=-1, description="connections per listener (-1: unlimited)"
    )
    db_pool_size: int = 10
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    log_level: str = "INFO"
    ingest_max_age: timedelta = Field(default=timedelta(days=7))
    ingest_batch_max: int = Field(
        default=5000, ge=1, description="messages per transaction at most"
    )
    ingest_batch_wait_ms: int = Field(default=50, ge=0, description="longest wait to fill a batch")
    ingest_queue_size: int = Field(default=20000, ge=1, description="paho -> writer queue bound")
    ingest_receive_maximum: int = Field(
        default=10000, ge=1, le=65535, description="unacknowledged QoS 1 messages in flight"
    )
    ingest_session_expiry: timedelta = Field(
        default=timedelta(days=7), description="how long the broker keeps an absent worker's queue"
    )
    ingest_client_id: str = Field(default="parktwin-ingest", description="worker i is '{id}-{i}'")
    ingest_mqtt_protocol: Literal["3.1.1", "5"] = Field(
        default="3.1.1", description="the ingestor's MQTT version (persistent session either way)"
    )
    ingest_share_group: str = Field(
        default="parktwin", description="the workers' shared subscription: $share/{group}/..."
    )
    ingest_retire_ids: int = Field(
        default=8, ge=0, description="worker ids past the last one whose sessions are retired"
    )
    ingest_last_seen_resolution: timedelta = Field(
        default=timedelta(seconds=10),
        description="device last_seen_at is written at most this often",
    )
    ingest_metrics_host: str = "127.0.0.1"
    ingest_metrics_port: int = Field(default=9464, description="0 disables the metrics endpoint")
    raw_retention: timedelta = Field(default=timedelta(days=90))
    hourly_rollup_retention: timedelta = Field(
        default=timedelta(days=730), description="hourly rollups kept this long (worker)"
    )
    daily_rollup_retention: timedelta = Field(
        default=timedelta(days=3650), description="daily rollups kept this long (worker)"
    )
    worker_interval: timedelta = Field(
        default=timedelta(seconds=5), description="pause of the worker loop when idle"
    )
    rollup_batch: int = Field(default=2000, description="dirty hours recomputed per transaction")
    rollup_open_hour_interval: timedelta = Field(
        default=timedelta(seconds=60),
        description="an hour still being written is recomputed at most this often",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="allow webhook URLs whose host resolves to private or loopback addresses",
    )
    webhook_timeout: timedelta = Field(
        default=timedelta(seconds=10), description="longest wait for a webhook receiver's answer"
    )
    webhook_retry_schedule: list[timedelta] = Field(
        default=[
            timedelta(seconds=s)
            for s in (5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
        ],
        min_length=1,
        description="waits before each retry of a failed delivery; after the last: dead",
    )
    webhook_lease: timedelta = Field(
        default=timedelta(seconds=60),
        description="an attempt in flight is retried after this long if its worker vanished",
    )
    webhook_batch: int = Field(default=100, ge=1, description="deliveries in flight per worker")
    webhook_retention: timedelta = Field(
        default=timedelta(days=30), description="events and their delivery logs kept this long"
    )
    api_statement_timeout: timedelta = Field(
        default=timedelta(seconds=30),
        description="the API's longest SQL statement; a longer one is cancelled and answered 503",
    )
    latest_cache_ttl: timedelta = Field(
        default=timedelta(seconds=1),
        description="identical bulk-latest reads within this long share one answer (per API "
        "process); 0 turns it off",
    )
    alarm_shelve_max: timedelta = Field(
        default=timedelta(hours=8), description="the longest an operator may shelve an alarm"
    )
    alarm_flood_threshold: int = Field(
        default=10,
        ge=1,
        description="an alarm flood: more raises than this in one park within the flood window "
        "(ISA-18.2: 10 in 10 minutes)",
    )
    alarm_flood_window: timedelta = Field(
        default=timedelta(minutes=10), description="the alarm flood window"
    )

    def resolved_database_url(self) -> str:
        """The database URL in force: the explicit one, else the embedded cluster's."""
        if self.database_url:
            return self.database_url
        from app.embedded.state import embedded_database_url

        return embedded_database_url(self)

    def resolved_mqtt_url(self, role: MqttRole = "admin") -> str:
        """The MQTT URL in force for ``role``: its own setting, else PARKTWIN_MQTT_URL, else the
        embedded broker's account for that role."""
        own = {"admin": None, "ingest": self.ingest_mqtt_url, "api": self.api_mqtt_url}[role]
        if own or self.mqtt_url:
            return own or str(self.mqtt_url)
        from app.embedded.state import embedded_mqtt_url

        return embedded_mqtt_url(self, role)

    def mqtt_target(self, role: MqttRole = "admin") -> MqttTarget:
        """Where and as whom ``role`` connects, with the CA that verifies an mqtts:// broker."""
        return MqttTarget.from_url(self.resolved_mqtt_url(role), ca_file=self.mqtt_ca_file)


def get_settings() -> Settings:
    return Settings()
