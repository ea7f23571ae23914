"""Settings: environment variables with the prefix ``PARKTWIN_`` (and a ``.env`` file).

Every field here is listed in docs/operations.md with its default and description, by
``scripts/settings_table.py`` (tests/test_docs.py checks the page is up to date).
A settings object is built once at process start-up (``get_settings()`` in the CLI or the
app factory) and passed down; nothing reads the environment at import time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import (
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.mqtt import MqttTarget

DbProcess = Literal["api", "ingest", "worker", "migrate"]

ENV_PREFIX = "PARKTWIN_"


def parse_ports(spec: str) -> list[tuple[int, int]]:
    """``"80,443,9000-9100"`` as inclusive ranges; ValueError if malformed."""
    ranges = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        low, _, high = item.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            first, last = 0, -1
        if not 1 <= first <= last <= 65535:
            raise ValueError(f"{item!r} is not a port or a range of ports (1-65535)")
        ranges.append((first, last))
    return ranges


def parse_origins(spec: str) -> list[str]:
    """``"https://a.example, http://10.0.0.5:8080"`` as a list of origins; ValueError for
    anything that is not ``scheme://host[:port]`` (no path, no wildcard)."""
    origins = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        try:
            parts = urlsplit(item)
            origin = _origin(parts)
        except ValueError:  # urlsplit's own ("Invalid IPv6 URL"), or a port out of range
            origin = None
        if origin != item or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{item!r} is not an origin such as https://screen.example.cn")
        origins.append(item)
    return origins


def _origin(parts: SplitResult) -> str:
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


# who connects: the dynsec admin (`services up`, `broker setup`), the ingestor, the API
MqttRole = Literal["admin", "ingest", "api"]


def _days(span: timedelta) -> str:
    return f"{span / timedelta(days=1):g} days"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str | None = Field(
        default=None,
        description="postgresql://user:pass@host:port/db; unset means the embedded cluster",
    )
    api_database_url: str | None = Field(
        default=None,
        description="the API's own database URL (a login of role parktwin_api); unset: "
        "PARKTWIN_DATABASE_URL, else the embedded cluster's API login",
    )
    ingest_database_url: str | None = Field(
        default=None,
        description="the ingestor's own database URL (role parktwin_ingest); unset: as above",
    )
    worker_database_url: str | None = Field(
        default=None,
        description="the worker's own database URL (role parktwin_worker); unset: as above",
    )
    database_read_url: str | None = Field(
        default=None,
        description="a streaming replica (or a pool of them behind haproxy) that the API's pure "
        "read routes use (docs/scale-out.md); unset: they read from the primary too",
    )
    migrate_database_url: str | None = Field(
        default=None,
        description="`parktwin migrate`'s URL (the schema owner); unset: PARKTWIN_DATABASE_URL, "
        "else the embedded cluster's owner",
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
    mqtt_credentials: Literal["dynsec", "rabbitmq", "none"] = Field(
        default="dynsec",
        description="how device MQTT accounts are managed: Mosquitto dynamic security, "
        "RabbitMQ users through PARKTWIN_RABBITMQ_API_URL, or none",
    )
    rabbitmq_api_url: str | None = Field(
        default=None,
        description="RabbitMQ management API as the API's account, comma-separated nodes "
        "(http://user:pass@host:15672,...); with PARKTWIN_MQTT_CREDENTIALS=rabbitmq",
    )
    state_dir: Path = Field(
        default=Path(".parktwin"), description="where the embedded services keep their state"
    )
    embedded_pg_port: int = Field(
        default=15432,
        description="port of the embedded PostgreSQL (127.0.0.1 only; below Linux's ephemeral "
        "range, so no outgoing connection holds it)",
    )
    embedded_rabbitmq_base_port: int = Field(
        default=27600,
        description="`parktwin cluster`: node i listens on base+i (AMQP), +100+i (MQTT), "
        "+200+i (management), +300+i (Erlang distribution); its epmd on base+399",
    )
    embedded_mqtt_port: int = Field(
        default=11883,
        description="the embedded Mosquitto's plain listener for devices (127.0.0.1 only; the "
        "broker uses each client's username as its client id); PARKTWIN_MQTT_URL's port",
    )
    embedded_mqtt_service_port: int = Field(
        default=11884,
        description="the embedded Mosquitto's listener for parktwin's own processes (127.0.0.1 "
        "only, client ids as sent; never expose it)",
    )
    embedded_mqtts_port: int = Field(
        default=18883, description="the embedded broker's TLS listener for devices"
    )
    embedded_mqtts_host: str = Field(
        default="127.0.0.1",
        description="where the TLS listener binds (0.0.0.0 to reach devices on the network); "
        "the plain device and services listeners always stay on 127.0.0.1",
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
    db_pool_size: int = Field(
        default=10, description="API connection pool size (and as many again in overflow)"
    )
    api_host: str = Field(default="127.0.0.1", description="`parktwin api` bind address")
    api_port: int = Field(default=8000, description="`parktwin api` port")
    log_level: str = Field(default="INFO", description="log level of every process")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="log lines of every process: text, or json (one object per line, with the "
        "API request's request_id)",
    )
    ingest_max_age: timedelta = Field(
        default=timedelta(days=7),
        description="oldest accepted reading; newer than 5 minutes ahead is refused too",
    )
    ingest_batch_max: int = Field(
        default=5000, ge=1, description="messages per transaction at most"
    )
    ingest_batch_wait_ms: int = Field(default=50, ge=0, description="longest wait to fill a batch")
    ingest_queue_size: int = Field(default=20000, ge=1, description="paho -> writer queue bound")
    ingest_queue_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024 * 1024,
        description="payload bytes the paho -> writer queue holds at most, half per lane",
    )
    ingest_rejection_payload_max: int = Field(
        default=64 * 1024,
        ge=0,
        le=64 * 1024,
        description="bytes of a rejected message's payload kept in the rejection log",
    )
    ingest_rejection_rate: int = Field(
        default=60,
        ge=0,
        description="rejections stored per device per minute; the rest are only counted",
    )
    ingest_rejection_bytes: int = Field(
        default=1024 * 1024,
        ge=0,
        description="payload bytes of one device's rejections stored per minute; past that its "
        "rejections are only counted",
    )
    ingest_quarantine_after: int = Field(
        default=2,
        ge=1,
        description="worker crashes a message may be in flight for before it is quarantined",
    )
    ingest_receive_maximum: int = Field(
        default=10000, ge=1, le=65535, description="unacknowledged QoS 1 messages in flight"
    )
    ingest_session_expiry: timedelta = Field(
        default=timedelta(days=7), description="how long the broker keeps an absent worker's queue"
    )
    ingest_client_id: str = Field(default="parktwin-ingest", description="worker i is '{id}-{i}'")
    ingest_fast_path: bool = Field(
        default=True,
        description="while behind, worker 0 also subscribes the watched devices' telemetry in a "
        "clean session ('{id}-0-fast') so that their readings overtake the backlog (MQTT only)",
    )
    ingest_fast_path_live: bool = Field(
        default=False,
        description="keep that fast path on while the ingestor keeps up too: a watched reading "
        "that could raise an alarm is evaluated at once instead of waiting for its batch in the "
        "urgent lane (where the watched devices send many messages: docs/operations.md, 100,000 "
        "devices); worker 0 parses those devices' readings twice",
    )
    ingest_mqtt_protocol: Literal["3.1.1", "5"] = Field(
        default="3.1.1", description="the ingestor's MQTT version (persistent session either way)"
    )
    ingest_source: Literal["mqtt", "amqp"] = Field(
        default="mqtt",
        description="where ingest reads: the MQTT broker, or a RabbitMQ quorum queue over AMQP",
    )
    amqp_url: str | None = Field(
        default=None,
        description="amqp://user:pass@host:5672/%2F of the ingest account, comma-separated nodes; "
        "with PARKTWIN_INGEST_SOURCE=amqp",
    )
    amqp_queue: str = Field(
        default="parktwin.telemetry", description="the quorum queue ingest workers consume"
    )
    amqp_prefetch: int = Field(
        default=2000, ge=1, description="unacknowledged AMQP deliveries per ingest worker"
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
    ingest_heartbeat_interval: timedelta = Field(
        default=timedelta(seconds=5),
        gt=timedelta(0),
        description="each ingest worker records in the database this often that it is up and "
        "subscribed; three missed beats end its coverage (offline detection counts silence "
        "only while ingest was listening)",
    )
    offline_grace: timedelta = Field(
        default=timedelta(minutes=2),
        ge=timedelta(0),
        description="after ingest starts listening (a restart, a broker or ingest outage), "
        "devices get their reporting timeout plus this long before they count as offline: "
        "the backlog drains and devices reconnect first",
    )
    ingest_metrics_host: str = Field(
        default="127.0.0.1", description="bind address of the ingestor's Prometheus endpoint"
    )
    ingest_metrics_port: int = Field(default=9464, description="0 disables the metrics endpoint")
    raw_retention: timedelta = Field(
        default=timedelta(days=90), description="raw telemetry kept this long (worker)"
    )
    rejection_retention: timedelta = Field(
        default=timedelta(days=30), description="ingest rejections kept this long (worker)"
    )
    hourly_rollup_retention: timedelta = Field(
        default=timedelta(days=730), description="hourly rollups kept this long (worker)"
    )
    daily_rollup_retention: timedelta = Field(
        default=timedelta(days=3650),
        description="daily and monthly rollups kept this long (worker)",
    )
    worker_interval: timedelta = Field(
        default=timedelta(seconds=5), description="pause of the worker loop when idle"
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="bind address of the worker's Prometheus endpoint"
    )
    worker_metrics_port: int = Field(
        default=9465, ge=0, le=65535, description="0 disables the worker's metrics endpoint"
    )
    rollup_batch: int = Field(default=2000, description="dirty hours recomputed per transaction")
    rollup_duty_cycle: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="share of the time the rollup job may work while hours wait: after a "
        "batch it rests (1 / share - 1) times as long as the batch took (1: back to back), but "
        "never so long that the hours due could not all be done within "
        "PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL; a pass of every open hour is spread out instead "
        "of taking a core from the ingestor",
    )
    rollup_open_hour_interval: timedelta = Field(
        default=timedelta(seconds=60),
        description="an hour still being written gets its hourly rollup recomputed at most "
        "this often, its park-local day's rollup once the hour has closed (reads stay exact: "
        "they make queued hours from raw readings, the days they touch from their hours); 0: "
        "every hour in full at once; "
        "PT1H or more: closed hours only (100,000 devices on two cores)",
    )
    webhook_allowed_networks: list[IPvAnyNetwork] = Field(
        default=[],
        description="non-public networks webhooks may go to besides public addresses, as CIDRs "
        '(JSON list, e.g. ["127.0.0.0/8", "10.20.0.0/16"]); empty: public addresses only',
    )
    webhook_allowed_ports: str = Field(
        default="80,443,8080,8443",
        description="ports a webhook URL may use: a comma list of ports and ranges "
        "(e.g. 80,443,9000-9100)",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="deprecated: true switches the address and port checks off (every network, "
        "every port), as before the allow-lists; use PARKTWIN_WEBHOOK_ALLOWED_NETWORKS and "
        "PARKTWIN_WEBHOOK_ALLOWED_PORTS instead",
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
    webhook_concurrency: int = Field(
        default=4, ge=1, description="deliveries in flight per webhook, over all workers"
    )
    webhook_breaker_threshold: int = Field(
        default=5,
        ge=1,
        description="consecutive failed attempts after which a webhook's circuit opens: its "
        "deliveries wait, without a slot, for the cool-down",
    )
    webhook_breaker_cooldown: timedelta = Field(
        default=timedelta(seconds=60),
        description="how long an open circuit waits before one probe attempt (half-open)",
    )
    webhook_test_limit: int = Field(
        default=10, ge=1, description="POST .../webhooks/{id}/test calls per park per minute"
    )
    webhook_max_per_park: int = Field(
        default=20, ge=1, description="webhooks a park may have (each may hold its concurrency)"
    )
    webhook_retention: timedelta = Field(
        default=timedelta(days=30), description="events and their delivery logs kept this long"
    )
    api_statement_timeout: timedelta = Field(
        default=timedelta(seconds=30),
        description="the API's longest SQL statement; a longer one is cancelled and answered 503",
    )
    api_lock_timeout: timedelta = Field(
        default=timedelta(seconds=10),
        description="the API's longest wait for a lock; a longer wait fails the statement",
    )
    ingest_statement_timeout: timedelta = Field(
        default=timedelta(seconds=30),
        description="the ingest writer's longest SQL statement; the batch is then retried",
    )
    ingest_lock_timeout: timedelta = Field(
        default=timedelta(seconds=5),
        description="the ingest writer's longest wait for a lock; the batch is then retried",
    )
    worker_statement_timeout: timedelta = Field(
        default=timedelta(seconds=120),
        description="the worker's longest SQL statement; the job then fails and runs again",
    )
    worker_lock_timeout: timedelta = Field(
        default=timedelta(seconds=10),
        description="the worker's longest wait for a lock; the job then fails and runs again",
    )
    db_keepalives_idle: timedelta = Field(
        default=timedelta(seconds=30),
        description="TCP keepalive: idle time before the first probe (API, ingest, worker)",
    )
    db_keepalives_interval: timedelta = Field(
        default=timedelta(seconds=10), description="TCP keepalive: time between probes"
    )
    db_keepalives_count: int = Field(
        default=3, ge=1, description="TCP keepalive: unanswered probes before the link is dead"
    )
    db_tcp_user_timeout: timedelta = Field(
        default=timedelta(seconds=30),
        description="longest time sent data may stay unacknowledged before the link is dead "
        "(0: the kernel's default)",
    )
    db_connect_timeout: timedelta = Field(
        default=timedelta(seconds=10),
        description="longest wait for a new database connection (API, ingest, worker)",
    )
    api_body_max: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body in bytes (413 above it, before the key is checked)",
    )
    api_import_body_max: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="largest request body in bytes of the asset and economy import endpoints",
    )
    import_max_rows: int = Field(
        default=50_000, ge=1, description="data rows (or features) of one CSV/XLSX/GeoJSON import"
    )
    import_max_columns: int = Field(
        default=200, ge=1, description="columns of one imported CSV or XLSX table"
    )
    import_max_cell_bytes: int = Field(
        default=32 * 1024, ge=64, description="largest cell of an imported table, in UTF-8 bytes"
    )
    import_xlsx_max_uncompressed: int = Field(
        default=128 * 1024 * 1024,
        ge=1024 * 1024,
        description="an imported XLSX workbook's total uncompressed size, in bytes",
    )
    import_xlsx_max_ratio: int = Field(
        default=100,
        ge=10,
        description="highest compression ratio of a part (over 1 MiB) of an imported XLSX",
    )
    economy_report_jump_ratio: float = Field(
        default=1.5,
        gt=1,
        le=100,
        description="an enterprise's monthly figure more than this many times, or less than "
        "its inverse, of the same figure of the previous month or of the same month a year "
        "before (the accepted reports) needs a written explanation to be submitted (1.5: "
        "+50 % or -33 %, the kind of swing the statistics offices' 核实性审核 asks firms to "
        "explain; verify against the local 统计局's rules)",
    )
    economy_report_deadline_day: int = Field(
        default=16,
        ge=1,
        le=28,
        description="a month's enterprise report is due at 12:00 park-local time on this day "
        "of the following month (NBS 联网直报 practice: the monthly 工业企业财务状况 by "
        "月后16日12时; set the park's own, earlier day here)",
    )
    economy_report_remind_days: int = Field(
        default=3,
        ge=0,
        le=27,
        description="economy.report_due is sent this many days before the report deadline to "
        "each enterprise that has not yet submitted (0: no reminder)",
    )
    pdf_font: str = Field(
        default="",
        description="a TrueType font file (.ttf/.ttc) with Chinese glyphs, embedded (subset) in "
        "the PDF reports; empty: the first of the well-known system fonts found (WenQuanYi, "
        "AR PL, SimHei), else reportlab's CID font STSong-Light, which is not embedded (the "
        "reader must supply it: Acrobat does, poppler without a CJK font shows boxes)",
    )
    latest_cache_ttl: timedelta = Field(
        default=timedelta(seconds=1),
        description="identical bulk-latest reads within this long share one answer (per API "
        "process); 0 turns it off",
    )
    twin_cache_ttl: timedelta = Field(
        default=timedelta(seconds=5),
        description="identical twin roll-up and map reads within this long share one answer "
        "(per API process; the `max-age` the answers carry), and every new event (an outbox "
        "notification: alarm, incident, device status) clears them at once; 0 computes each",
    )
    api_events_max_streams: int = Field(
        default=200,
        ge=1,
        description="server-sent event streams (`/api/v1/parks/{park_id}/events`) one API "
        "process holds open at once; one more is refused with 429",
    )
    api_events_max_streams_per_key: int = Field(
        default=8,
        ge=1,
        description="event streams one API key may hold open at once in one API process; one "
        "more is refused with 429",
    )
    api_events_heartbeat: timedelta = Field(
        default=timedelta(seconds=15),
        description="an event stream sends the comment `: ping` this often, so proxies keep it "
        "open and a dead client is found",
    )
    api_events_poll_interval: timedelta = Field(
        default=timedelta(seconds=2),
        description="an event stream reads the outbox at least this often, even without a "
        "NOTIFY (the fallback if a notification is lost)",
    )
    api_events_send_timeout: timedelta = Field(
        default=timedelta(seconds=30),
        description="an event stream whose client takes longer than this to accept one write "
        "(a slow consumer) is closed; the client resumes from Last-Event-ID",
    )
    api_cors_origins: str = Field(
        default="",
        description="origins (comma-separated, e.g. `https://screen.example.cn,http://10.0.0.5:"
        "8080`) whose browser pages may call the API (CORS); empty: CORS off",
    )
    api_tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) for HTTPS: with PARKTWIN_API_TLS_KEY, `parktwin api` "
        "serves HTTPS instead of HTTP",
    )
    api_tls_key: Path | None = Field(
        default=None, description="PEM private key of PARKTWIN_API_TLS_CERT"
    )
    api_key_cache_ttl: timedelta = Field(
        default=timedelta(seconds=10),
        description="each API process remembers a valid key this long, so a key revoked or "
        "rotated by another process (the CLI) still works there for at most this long; 0 turns "
        "the cache off",
    )
    idempotency_retention: timedelta = Field(
        default=timedelta(hours=24),
        description="how long an Idempotency-Key and its answer are kept for replay",
    )
    export_max_range: timedelta = Field(
        default=timedelta(days=366),
        gt=timedelta(0),
        description="the longest range (from/to) of one export of readings or rollups; split "
        "longer ones (each export resumes by range)",
    )
    export_chunk_rows: int = Field(
        default=50_000,
        ge=100,
        le=1_000_000,
        description="readings an export reads per query and puts in one Parquet row group: "
        "the API process holds about one chunk per running export",
    )
    alarm_shelve_max: timedelta = Field(
        default=timedelta(hours=8), description="the longest an operator may shelve an alarm"
    )
    calibration_reminder_days: int = Field(
        default=30,
        ge=0,
        le=366,
        description="a detector's calibration_due reminder (warning) is raised this many days "
        "before its calibration-due date; after the date it is minor",
    )
    alarm_flood_threshold: int = Field(
        default=10,
        ge=1,
        description="a chattering device: more alarm raises than this from one device within "
        "the flood window; its repeat raises are then held back (ISA-18.2: 10 in 10 minutes)",
    )
    alarm_flood_window: timedelta = Field(
        default=timedelta(minutes=10),
        description="the window in which a device's alarm raises are counted",
    )

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="the address people reach `parktwin api` at (scheme, host, port, no trailing "
        "slash): notification messages link to the cockpit (`{url}/#park=..&alarm=..`) and to "
        "the acknowledge page from it",
    )
    notify_ack_secret: SecretStr | None = Field(
        default=None,
        description="server secret that signs the one-click acknowledge links in notifications "
        "(at least 32 characters; the same in every API and worker process); unset: messages "
        "carry no acknowledge link",
    )
    notify_ack_ttl: timedelta = Field(
        default=timedelta(hours=1),
        description="how long a one-click acknowledge link is valid after it was sent",
    )
    notify_dedup_window: timedelta = Field(
        default=timedelta(minutes=10),
        description="a repeat of the same notification (event type, device, metric, alarm type "
        "and severity) to the same channel within this long is recorded as a duplicate, not sent",
    )
    notify_digest_max: int = Field(
        default=30,
        ge=1,
        le=200,
        description="most notifications merged into one digest message to a channel",
    )
    smtp_host: str = Field(default="", description="SMTP server for email notifications")
    smtp_port: int = Field(default=587, description="SMTP submission port (STARTTLS)")
    smtp_username: str = Field(default="", description="SMTP login; empty: no login")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password")
    smtp_from: str = Field(
        default="parktwin@localhost", description="the From address of email notifications"
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="PEM CA bundle the SMTP server's certificate is checked against; unset: "
        "the system's CAs",
    )
    smtp_timeout: timedelta = Field(
        default=timedelta(seconds=15), description="timeout of one SMTP session"
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or value.rstrip("/") != value:
            raise ValueError("an http(s) URL without a trailing slash")
        return value

    @field_validator("notify_ack_secret")
    @classmethod
    def _ack_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("at least 32 characters")
        return value

    @field_validator("api_cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        parse_origins(value)
        return value

    @field_validator("webhook_allowed_ports")
    @classmethod
    def _ports(cls, value: str) -> str:
        if not parse_ports(value):
            raise ValueError("at least one port")
        return value

    @model_validator(mode="after")
    def _retentions(self) -> Settings:
        """The rollups outlive the raw readings they are made from: a day still queued for the
        rollup job is made from its clean hours' rows (app/telemetry/consumption.py), and a
        month from its daily rows, the first of which is up to a month older than the newest."""
        if self.hourly_rollup_retention < self.raw_retention:
            raise ValueError(
                "PARKTWIN_HOURLY_ROLLUP_RETENTION must be at least PARKTWIN_RAW_RETENTION "
                f"({_days(self.hourly_rollup_retention)} < {_days(self.raw_retention)})"
            )
        if self.daily_rollup_retention < self.raw_retention + timedelta(days=31):
            raise ValueError(
                "PARKTWIN_DAILY_ROLLUP_RETENTION must be at least PARKTWIN_RAW_RETENTION and "
                f"a month ({_days(self.daily_rollup_retention)} < {_days(self.raw_retention)} "
                "+ 31 days)"
            )
        return self

    def resolved_database_url(self) -> str:
        """The database URL in force: the explicit one, else the embedded cluster's."""
        if self.database_url:
            return self.database_url
        from app.core.statedir import embedded_database_url

        return embedded_database_url(self)

    @property
    def ingest_heartbeat_stale(self) -> timedelta:
        """An ingest worker whose heartbeat is older than this (three missed beats) is away."""
        return self.ingest_heartbeat_interval * 3

    def database_url_for(self, process: DbProcess) -> str:
        """The database URL of one process: its own setting, else PARKTWIN_DATABASE_URL, else
        the embedded cluster's login for it; for the API, ingest and the worker with their
        statement and lock timeouts and TCP keepalives (docs/security/database.md)."""
        url = getattr(self, f"{process}_database_url") or self.database_url
        if not url:
            from app.core.statedir import embedded_database_url

            url = embedded_database_url(self, process)
        if process == "migrate":
            return url
        from app.core.db import SessionLimits, with_session_limits

        statement, lock = {
            "api": (self.api_statement_timeout, self.api_lock_timeout),
            "ingest": (self.ingest_statement_timeout, self.ingest_lock_timeout),
            "worker": (self.worker_statement_timeout, self.worker_lock_timeout),
        }[process]
        limits = SessionLimits(
            statement,
            lock,
            self.db_keepalives_idle,
            self.db_keepalives_interval,
            self.db_keepalives_count,
            self.db_tcp_user_timeout,
            self.db_connect_timeout,
        )
        return with_session_limits(url, limits)

    def api_read_url(self) -> str:
        """The URL of the API's read-only pool: PARKTWIN_DATABASE_READ_URL with the API's limits,
        else the API's own (primary) URL."""
        if not self.database_read_url:
            return self.database_url_for("api")
        replica = self.model_copy(update={"api_database_url": self.database_read_url})
        return replica.database_url_for("api")

    def for_process(self, process: DbProcess) -> Settings:
        """These settings with ``database_url`` set to :meth:`database_url_for` the process,
        so everything the process opens (pools, LISTEN connections) uses its role and limits."""
        return self.model_copy(update={"database_url": self.database_url_for(process)})

    def resolved_mqtt_url(self, role: MqttRole = "admin") -> str:
        """The MQTT URL in force for ``role``: its own setting, else PARKTWIN_MQTT_URL, else the
        embedded broker's account for that role. A URL of the embedded broker's device
        listener is turned into its services listener (same account): parktwin's processes
        choose their own client ids and may share an account between connections."""
        from app.core.statedir import embedded_mqtt_url, via_service_listener

        own = {"admin": None, "ingest": self.ingest_mqtt_url, "api": self.api_mqtt_url}[role]
        if own or self.mqtt_url:
            return via_service_listener(self, own or str(self.mqtt_url))
        return embedded_mqtt_url(self, role)

    def device_mqtt_url(self) -> str:
        """Where devices (the simulator) connect: PARKTWIN_MQTT_URL as set, else the embedded
        broker's device listener (only its host and port matter: devices bring their own
        accounts)."""
        if self.mqtt_url:
            return self.mqtt_url
        from app.core.statedir import embedded_mqtt_url

        return embedded_mqtt_url(self, listener="device")

    def mqtt_target(self, role: MqttRole = "admin") -> MqttTarget:
        """Where and as whom ``role`` connects, with the CA that verifies an mqtts:// broker."""
        return MqttTarget.from_url(self.resolved_mqtt_url(role), ca_file=self.mqtt_ca_file)


def get_settings() -> Settings:
    return Settings()


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per invalid setting, named as it is set (``PARKTWIN_RAW_RETENTION: ...``),
    for a process that refuses to start. Pydantic's copy of the value is left out (a setting
    may hold a password); the lists' own checks name their malformed item (a port, an
    origin)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in error["loc"])
        lines.append(f"{ENV_PREFIX}{field.upper()}: {message}" if field else message)
    return lines
