"""Foundation: parks, device types, devices, series, the telemetry hypertable, latest values,
the ingest rejection log and API keys.

Telemetry is narrow, (time, series_id, value): one row per reading, a series being one
device x metric, named by a 4-byte integer so each row costs 8+4+8 bytes plus the unique index.

Chunk interval, 1 day. A busy park (2,000 devices, ~3 metrics, one reading a minute) writes
~9 M rows a day, about 1 GB with the (series_id, time) index; at the 20,000 readings/s
ingest ceiling a day is ~1.7 G rows. TimescaleDB advises that the newest chunks with their
indexes fit in about a quarter of memory: one day of a realistic park is far below that on a
24 GiB machine, and retention drops whole days, which match the daily rollups. The
default time index is not created: every read is by series, served by the unique index.

Compression needs the Timescale License (the Docker image has it; Debian's Apache build does
not), so it is enabled only when ``timescaledb.license`` says so.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

IDENT = "CHECK ({col} ~ '^[A-Za-z0-9_.-]{{1,64}}$')"

# The built-in catalogue (../shared/CONTRACT.md section 4): type, domain, reporting timeout
# in seconds (after which the device counts as offline), metrics (name, unit, kind).
CATALOGUE = [
    (
        "electricity_meter",
        "energy",
        900,
        [("energy_kwh", "kWh", "counter"), ("power_kw", "kW", "gauge")],
    ),
    ("pv_inverter", "energy", 900, [("energy_kwh", "kWh", "counter"), ("power_kw", "kW", "gauge")]),
    ("gas_meter", "energy", 900, [("volume_m3", "m³", "counter")]),
    ("water_meter", "energy", 900, [("volume_m3", "m³", "counter")]),
    ("steam_meter", "energy", 900, [("mass_t", "t", "counter")]),
    ("gas_detector", "safety", 300, [("gas_lel_pct", "%LEL", "gauge")]),
    ("toxic_gas_detector", "safety", 300, [("concentration_mg_m3", "mg/m³", "gauge")]),
    ("smoke_detector", "safety", 300, [("smoke", "", "state")]),
    (
        "temperature_sensor",
        "safety",
        600,
        [("temperature_c", "°C", "gauge"), ("humidity_pct", "%", "gauge")],
    ),
    (
        "equipment_monitor",
        "asset",
        600,
        [
            ("running", "", "state"),
            ("vibration_mm_s", "mm/s", "gauge"),
            ("temperature_c", "°C", "gauge"),
            ("runtime_h", "h", "counter"),
        ],
    ),
]

SCHEMA = f"""
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE park (
    id          text PRIMARY KEY {IDENT.format(col="id")},
    name        text NOT NULL,
    timezone    text NOT NULL DEFAULT 'Asia/Shanghai',
    boundary    jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE device_type (
    type                 text PRIMARY KEY {IDENT.format(col="type")},
    domain               text NOT NULL CHECK (domain IN ('energy', 'safety', 'asset', 'environment', 'other')),
    park_id              text REFERENCES park (id) ON DELETE CASCADE,
    reporting_timeout_s  integer NOT NULL DEFAULT 900 CHECK (reporting_timeout_s > 0),
    builtin              boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN device_type.park_id IS 'NULL for the built-in catalogue, else the park that added the type';

CREATE TABLE device_type_metric (
    device_type  text NOT NULL REFERENCES device_type (type) ON DELETE CASCADE,
    name         text NOT NULL {IDENT.format(col="name")},
    unit         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('gauge', 'counter', 'state')),
    PRIMARY KEY (device_type, name)
);

CREATE TABLE device (
    park_id            text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    id                 text NOT NULL {IDENT.format(col="id")},
    type               text NOT NULL REFERENCES device_type (type),
    name               text NOT NULL,
    lon                double precision CHECK (lon BETWEEN -180 AND 180),
    lat                double precision CHECK (lat BETWEEN -90 AND 90),
    building_id        text,
    enterprise_id      text,
    attributes         jsonb NOT NULL DEFAULT '{{}}',
    mqtt_username      text,
    status             text NOT NULL DEFAULT 'unknown' CHECK (status IN ('online', 'offline', 'unknown')),
    status_changed_at  timestamptz,
    last_seen_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, id),
    CHECK ((lon IS NULL) = (lat IS NULL))
);
CREATE INDEX device_type_idx ON device (park_id, type);

CREATE TABLE series (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id     text NOT NULL,
    device_id   text NOT NULL,
    metric      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (park_id, device_id, metric),
    FOREIGN KEY (park_id, device_id) REFERENCES device (park_id, id) ON DELETE CASCADE
);

CREATE TABLE telemetry (
    time       timestamptz NOT NULL,
    series_id  integer NOT NULL,
    value      double precision NOT NULL,
    CONSTRAINT telemetry_series_time_key UNIQUE (series_id, time)
);
SELECT create_hypertable('telemetry', by_range('time', INTERVAL '1 day'), create_default_indexes => false);

CREATE TABLE latest_value (
    series_id  integer PRIMARY KEY REFERENCES series (id) ON DELETE CASCADE,
    time       timestamptz NOT NULL,
    value      double precision NOT NULL
) WITH (fillfactor = 70);

CREATE TABLE ingest_rejection (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    park_id       text,
    device_id     text,
    topic         text NOT NULL,
    reason        text NOT NULL,
    detail        text NOT NULL,
    payload       bytea NOT NULL,
    payload_size  integer NOT NULL
);
CREATE INDEX ingest_rejection_received_idx ON ingest_rejection (received_at DESC, id DESC);
CREATE INDEX ingest_rejection_park_idx ON ingest_rejection (park_id, received_at DESC);
COMMENT ON COLUMN ingest_rejection.payload IS 'the first 64 KiB of the payload as received';

CREATE TABLE api_key (
    id            text PRIMARY KEY,
    secret_hash   bytea NOT NULL,
    role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    park_id       text REFERENCES park (id) ON DELETE CASCADE,
    name          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

DO $$
BEGIN
    IF current_setting('timescaledb.license', true) = 'timescale' THEN
        ALTER TABLE telemetry SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'series_id',
            timescaledb.compress_orderby = 'time'
        );
        PERFORM add_compression_policy('telemetry', INTERVAL '7 days');
    END IF;
END
$$;
"""


def _catalogue_sql() -> str:
    def lit(value: str | int) -> str:
        return str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"

    types = ",\n".join(f"({lit(t)}, {lit(d)}, {lit(s)}, true)" for t, d, s, _ in CATALOGUE)
    metrics = ",\n".join(
        f"({lit(t)}, {lit(n)}, {lit(u)}, {lit(k)})" for t, _, _, ms in CATALOGUE for n, u, k in ms
    )
    return (
        f"INSERT INTO device_type (type, domain, reporting_timeout_s, builtin) VALUES\n{types};\n"
        f"INSERT INTO device_type_metric (device_type, name, unit, kind) VALUES\n{metrics};\n"
    )


def upgrade() -> None:
    op.execute(SCHEMA)
    op.execute(_catalogue_sql())


def downgrade() -> None:
    op.execute(
        "DROP TABLE IF EXISTS api_key, ingest_rejection, latest_value, telemetry, series, device, "
        "device_type_metric, device_type, park CASCADE"
    )
