"""Read-only SQL views for BI tools (Grafana, Superset, Excel) and their group role.

Schema ``bi`` holds plain views over the rollups, latest values, alarms, the registry and the
module figures that a view can state plainly (daily energy use of the root meters, emission
factors, the enterprises' monthly reports); docs/bi.md lists each column with its unit.
``parktwin_bi`` (NOLOGIN, like the process roles of migration 0016) may use the schema and
SELECT from its views, nothing else: the views read the base tables with their owner's rights,
so the role needs no grant on them and cannot reach them directly. An operator gives it a login
(deploy/db-roles.sql with ``-v bi_password=...``, or ``CREATE ROLE ... LOGIN IN ROLE
parktwin_bi``). A BI login sees every park of the database.

Rollup views carry ``consumption`` for counters: the bucket's own increase plus the step from
the previous bucket's last reading to its first (the rule of app/telemetry/consumption.py,
stated again here because a migration must not change when the application does); hours still
queued for the rollup worker appear once it has passed.

Revision ID: 0027
Revises: 0028
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0028"
branch_labels = None
depends_on = None

ROLE = "parktwin_bi"
CREATE_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
        CREATE ROLE {ROLE} NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'role {ROLE} is missing and % may not create roles', current_user
            USING HINT = 'create it first: CREATE ROLE {ROLE} NOLOGIN (docs/bi.md)';
END
$$
"""

# The view of one rollup table; ROLLUP_TABLE is replaced by one of the module's two fixed
# table names (rollup_hour, rollup_day), never by input. The consumption step: from the
# previous bucket's last reading to this bucket's first (a counter reset counts in full).
ROLLUP = """
CREATE VIEW bi.ROLLUP_TABLE AS
SELECT s.park_id, s.device_id, s.metric, m.unit, m.kind, r.bucket, r.count,
       r.sum / r.count AS avg, r.min, r.max, r.first_value, r.last_value,
       CASE WHEN m.kind = 'counter' THEN r.increase + CASE WHEN prev.last_value IS NULL THEN 0
            WHEN r.first_value >= prev.last_value THEN r.first_value - prev.last_value
            ELSE r.first_value END END AS consumption
FROM ROLLUP_TABLE r
JOIN series s ON s.id = r.series_id
JOIN device d ON d.park_id = s.park_id AND d.id = s.device_id
JOIN device_type_metric m ON m.device_type = d.type AND m.name = s.metric
LEFT JOIN LATERAL (
    SELECT p.last_value FROM ROLLUP_TABLE p
    WHERE p.series_id = r.series_id AND p.bucket < r.bucket ORDER BY p.bucket DESC LIMIT 1
) prev ON m.kind = 'counter'
"""

VIEWS = [
    """CREATE VIEW bi.park AS SELECT id AS park_id, name, timezone FROM park""",
    """CREATE VIEW bi.device AS
SELECT d.park_id, d.id AS device_id, d.type AS device_type, t.domain, d.name, d.building_id,
       d.enterprise_id, d.parent_meter_id, d.status, d.last_seen_at
FROM device d JOIN device_type t ON t.type = d.type""",
    """CREATE VIEW bi.metric AS
SELECT m.device_type, t.domain, t.park_id, m.name AS metric, m.unit, m.kind
FROM device_type_metric m JOIN device_type t ON t.type = m.device_type""",
    """CREATE VIEW bi.latest_value AS
SELECT s.park_id, s.device_id, s.metric, m.unit, m.kind, lv.time, lv.value
FROM latest_value lv
JOIN series s ON s.id = lv.series_id
JOIN device d ON d.park_id = s.park_id AND d.id = s.device_id
JOIN device_type_metric m ON m.device_type = d.type AND m.name = s.metric""",
    ROLLUP.replace("ROLLUP_TABLE", "rollup_hour"),
    ROLLUP.replace("ROLLUP_TABLE", "rollup_day"),
    """CREATE VIEW bi.alarm AS
SELECT park_id, id AS alarm_id, device_id, nullif(metric, '') AS metric, type, severity,
       CASE severity WHEN 'critical' THEN 'red' WHEN 'major' THEN 'orange'
                     WHEN 'minor' THEN 'yellow' ELSE 'blue' END AS color,
       active, acknowledged, raised_at, cleared_at, acknowledged_at, value, peak_value,
       threshold, count
FROM alarm""",
    """CREATE VIEW bi.energy_day AS
SELECT r.park_id, r.device_id, d.type AS device_type, d.building_id, d.enterprise_id,
       r.metric, r.unit, r.bucket AS day, r.consumption
FROM bi.rollup_day r
JOIN device d ON d.park_id = r.park_id AND d.id = r.device_id
JOIN device_type t ON t.type = d.type
WHERE r.kind = 'counter' AND t.domain = 'energy' AND d.parent_meter_id IS NULL""",
    """CREATE VIEW bi.carbon_factor AS
SELECT f.park_id, f.carrier, c.unit, f.method, f.region, f.valid_from,
       CAST(f.value AS double precision) AS kgco2_per_unit, f.source
FROM carbon_factor f JOIN carbon_carrier c ON c.carrier = f.carrier""",
    """CREATE VIEW bi.economy_report AS
SELECT park_id, enterprise_id, month, output_value, value_added, revenue, tax, employees,
       rd_spend, emissions, energy_tce
FROM economy_report""",
]

COMMENTS = {
    "park": "parks and their timezones",
    "device": "devices with their type, domain, place and status",
    "metric": "the device type catalogue: the unit and kind of each metric",
    "latest_value": "the newest reading of each series",
    "rollup_hour": "per series and UTC hour: count, avg, min, max, first, last, consumption",
    "rollup_day": "per series and park-local day: as rollup_hour",
    "alarm": "alarms, open and closed",
    "energy_day": "daily consumption of the root energy meters (sub-meters left out)",
    "carbon_factor": "emission factors in kgCO2 per unit of the carrier, with sources",
    "economy_report": "monthly enterprise reports in 10^4 yuan (employees: people)",
}


def upgrade() -> None:
    op.execute(CREATE_ROLE)
    op.execute("CREATE SCHEMA bi")
    op.execute("COMMENT ON SCHEMA bi IS 'read-only views for BI tools (docs/bi.md)'")
    for view in VIEWS:
        op.execute(view)
    for name, comment in COMMENTS.items():
        op.execute(f"COMMENT ON VIEW bi.{name} IS '{comment}'")
    op.execute("REVOKE ALL ON SCHEMA bi FROM PUBLIC")
    op.execute(f"GRANT USAGE ON SCHEMA bi TO {ROLE}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA bi TO {ROLE}")


def downgrade() -> None:
    op.execute("DROP SCHEMA bi CASCADE")  # the role stays: other databases may use it
