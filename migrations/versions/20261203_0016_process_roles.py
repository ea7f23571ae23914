"""Least privilege: a group role per process, with only the grants that process needs.

The processes no longer connect as the superuser or as the schema owner (review M8): each logs
in as a member of a NOLOGIN group role granted here. None of them may create, alter or drop
anything (PostgreSQL 15 gives PUBLIC no CREATE on ``public``), read ``pg_authid`` or run
``COPY ... PROGRAM``.

* ``parktwin_api``: reads and writes the park's data (assets, devices, alarms, webhooks, keys).
* ``parktwin_worker``: the same but the API keys; retention through ``parktwin_drop_expired``.
* ``parktwin_ingest``: reads the registry and the rules, writes telemetry, latest values, dirty
  hours, rejections, device status, alarms and their outbox events. Nothing else.

Retention drops hypertable chunks, which needs the table's owner: ``parktwin_drop_expired`` is
a SECURITY DEFINER function owned by whoever runs the migrations, with a fixed search path and
a fixed list of hypertables, executable by the worker only. TimescaleDB copies a hypertable's
grants to its chunks, present and future.

Roles are cluster-wide while grants are per database: the group roles are created here only
when missing (several databases of one cluster share them), which needs CREATEROLE; a
deployment whose migration role may not create roles creates them first
(docs/security/database.md). Tables created by later migrations get the API's and the worker's
grants through default privileges; a later table the ingestor needs gets its grant in its own
migration. The downgrade revokes everything but keeps the roles (other databases may use them).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

GROUPS = ("parktwin_api", "parktwin_ingest", "parktwin_worker")
ALL = ", ".join(GROUPS)
DML = "SELECT, INSERT, UPDATE, DELETE"
RETENTION_TABLES = ("telemetry", "rollup_hour", "rollup_day")

INGEST_GRANTS = {
    "SELECT": "park, device_type, device_type_metric, device, series, alarm_rule, alarm_state, "
    "alarm, telemetry, latest_value, telemetry_dirty",
    "INSERT": "telemetry, series, latest_value, telemetry_dirty, ingest_rejection, alarm_state, "
    "alarm, alarm_event, event_outbox",
    "UPDATE": "device, latest_value, telemetry_dirty, alarm_state, alarm",
    # the quarantine's crash marks and strikes (migration 0015)
    "SELECT, INSERT, UPDATE, DELETE": "ingest_inflight, ingest_suspect",
}

CREATE_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE {role} NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile by another database
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'role {role} is missing and % may not create roles', current_user
            USING HINT = 'create it first: CREATE ROLE {role} NOLOGIN (docs/security/database.md)';
END
$$
"""

DROP_EXPIRED = """
CREATE FUNCTION parktwin_drop_expired(p_table text, p_age interval) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF p_table NOT IN ('telemetry', 'rollup_hour', 'rollup_day') THEN
        RAISE EXCEPTION 'retention drops chunks of telemetry and the rollups only, not %', p_table;
    END IF;
    RETURN (SELECT count(*) FROM drop_chunks(p_table::regclass, older_than => p_age));
END
$$;
COMMENT ON FUNCTION parktwin_drop_expired(text, interval) IS
    'retention for the worker: drop_chunks needs the owner, the worker is not';
REVOKE ALL ON FUNCTION parktwin_drop_expired(text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION parktwin_drop_expired(text, interval) TO parktwin_worker;
"""


def upgrade() -> None:
    for role in GROUPS:
        op.execute(CREATE_ROLE.format(role=role))
    op.execute(f"GRANT USAGE ON SCHEMA public TO {ALL}")
    op.execute(f"GRANT {DML} ON ALL TABLES IN SCHEMA public TO parktwin_api, parktwin_worker")
    # Named again: TimescaleDB passes a grant on a hypertable itself on to its chunks.
    for table in RETENTION_TABLES:
        op.execute(f"GRANT {DML} ON {table} TO parktwin_api, parktwin_worker")
    op.execute("REVOKE ALL ON api_key FROM parktwin_worker")
    op.execute("REVOKE ALL ON alembic_version FROM parktwin_api, parktwin_worker")
    for privilege, tables in INGEST_GRANTS.items():
        op.execute(f"GRANT {privilege} ON {tables} TO parktwin_ingest")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ALL}")
    op.execute(DROP_EXPIRED)
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {DML} ON TABLES "
        "TO parktwin_api, parktwin_worker"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {ALL}"
    )


def downgrade() -> None:
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {ALL}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {ALL}")
    op.execute("DROP FUNCTION parktwin_drop_expired(text, interval)")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {ALL}")
    for table in RETENTION_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {ALL}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ALL}")
    op.execute(f"REVOKE ALL ON SCHEMA public FROM {ALL}")
