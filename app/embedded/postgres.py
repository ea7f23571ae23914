"""The embedded PostgreSQL cluster: initdb under the state directory, TimescaleDB preloaded,
listening on 127.0.0.1 only (no Unix socket, so long checkout paths never matter).

The initdb superuser (``parktwin``) only provisions: it creates the roles, the database (owned
by ``parktwin_owner``) and the TimescaleDB extension, which needs a superuser. The migrations
run as the owner, the processes as logins in the group roles migration 0016 grants to
(docs/security/database.md); each role's random password is kept under ``pg/``."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from app.core.statedir import (
    DB_BI_GROUP,
    DB_GROUPS,
    DB_LOGINS,
    DB_NAME,
    DB_OWNER,
    DB_USER,
    StatePaths,
    database_url,
    read_or_create_secret,
)
from app.embedded import install
from app.embedded.process import (
    as_user,
    check_traversable,
    chown_tree,
    pid_alive,
    port_open,
    read_pid,
    require_binary,
    wait_for,
)

logger = logging.getLogger(__name__)

SYSTEM_USER = "postgres"

# Sized for a 2-core, 24 GiB machine that also runs the broker, the API and the ingestor.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "shared_preload_libraries": "'timescaledb'",
    "timescaledb.telemetry_level": "off",
    "max_connections": "200",
    "shared_buffers": "1GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "effective_cache_size": "8GB",
    # At 20,000 readings/s the WAL grows about 6 MB/s: 4GB forced a checkpoint every ~6
    # minutes, and the full-page images after each one, compressed with pglz on the writers'
    # CPU, stalled ingest for 2-10 s (bench/park100k). Checkpoints by time (15 min) and lz4
    # (a forced checkpoint under that load: ingest lag p99 2.4 s with pglz, 0.75 s with lz4).
    "max_wal_size": "16GB",
    "checkpoint_timeout": "15min",
    "wal_compression": "lz4",
    "max_worker_processes": "16",
    "timescaledb.max_background_workers": "8",
    "log_min_messages": "warning",
    # JIT compiles a query whose estimated cost is high: a year of readings over many chunks
    # made a 0.3 s read take 14 s (bench/economy). Our reads are many and short: off.
    "jit": "off",
}


# The schemas' tables (hypertables pass the owner on to their chunks), views, standalone
# sequences (identity ones follow their table) and functions, except the extensions' own, to
# the owner (DB_OWNER, spelt out: this is SQL); ``public`` and the BI views' schema ``bi``.
ADOPT_OBJECTS = """
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT format('ALTER SCHEMA %I OWNER TO parktwin_owner', n.nspname) AS ddl
        FROM pg_namespace n
        WHERE n.nspname = 'bi' AND n.nspowner <> 'parktwin_owner'::regrole
        UNION ALL
        SELECT format('ALTER %s %s OWNER TO parktwin_owner',
                      CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                     WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                      c.oid::regclass) AS ddl
        FROM pg_class c
        WHERE c.relnamespace IN ('public'::regnamespace, to_regnamespace('bi'))
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND c.relowner <> 'parktwin_owner'::regrole
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))
        UNION ALL
        SELECT format('ALTER ROUTINE %s OWNER TO parktwin_owner', p.oid::regprocedure)
        FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> 'parktwin_owner'::regrole
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                          AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE r.ddl;
    END LOOP;
END
$$
"""


@dataclass
class EmbeddedPostgres:
    paths: StatePaths
    port: int

    @property
    def bindir(self) -> Path:
        return require_binary(install.pg_bindir(), "PostgreSQL")

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = as_user(SYSTEM_USER, [str(self.bindir / argv[0]), *argv[1:]])
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    @property
    def password(self) -> str:
        return read_or_create_secret(self.paths.pg_password)

    def admin_url(self, database: str = DB_NAME) -> str:
        """The superuser's URL: for provisioning (and tests that create databases) only."""
        return database_url(self.password, self.port, database)

    def role_url(self, role: str, database: str = DB_NAME) -> str:
        password = read_or_create_secret(self.paths.pg_role_password(role))
        return database_url(password, self.port, database, user=role)

    def url(self, database: str = DB_NAME) -> str:
        """The schema owner's URL: what `services up` prints, what migrations run as."""
        return self.role_url(DB_OWNER, database)

    def initialised(self) -> bool:
        return (self.paths.pg_data / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb with a generated superuser password and scram authentication."""
        self.paths.pg.mkdir(parents=True, exist_ok=True)
        self.password  # noqa: B018 - creates the password file before initdb reads it
        chown_tree(self.paths.pg, SYSTEM_USER)
        check_traversable(self.paths.pg, SYSTEM_USER)
        self._run(
            "initdb",
            "-D",
            str(self.paths.pg_data),
            "-U",
            DB_USER,
            "-E",
            "UTF8",
            "--no-locale",
            "--auth=scram-sha-256",
            f"--pwfile={self.paths.pg_password}",
        )
        conf = self.paths.pg_data / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write("\ninclude_if_exists = 'parktwin.conf'\n")

    def write_config(self) -> None:
        settings = {**SERVER_SETTINGS, "port": str(self.port)}
        text = "# written by `parktwin services up`; edits are overwritten\n" + "".join(
            f"{key} = {value}\n" for key, value in settings.items()
        )
        target = self.paths.pg_data / "parktwin.conf"
        target.write_text(text)
        chown_tree(target, SYSTEM_USER)

    def running(self) -> bool:
        if not self.initialised():
            return False
        return (
            self._run("pg_ctl", "status", "-D", str(self.paths.pg_data), check=False).returncode
            == 0
        )

    def serving_port(self) -> int | None:
        """The port the running postmaster listens on (``postmaster.pid``'s fourth line)."""
        try:
            lines = (self.paths.pg_data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def start(self) -> None:
        """Start the cluster (initialising it first when needed); a no-op when it runs."""
        if not self.initialised():
            self.init()
        if self.running():
            serving = self.serving_port()
            if serving in (None, self.port):
                return
            # started on another port (PARKTWIN_EMBEDDED_PG_PORT changed, or the default before
            # 15432): restart it where the URLs `services up` prints point
            logger.warning(
                "embedded PostgreSQL runs on port %s; restarting it on %s", serving, self.port
            )
            self.stop()
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: set PARKTWIN_EMBEDDED_PG_PORT")
        self.write_config()
        result = self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.paths.pg_data),
            "-l",
            str(self.paths.pg_log),
            check=False,
        )
        if result.returncode != 0:
            tail = self.paths.pg_log.read_text()[-2000:] if self.paths.pg_log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start:\n{result.stderr}\n{tail}")
        self.ensure_roles()
        self.ensure_database(DB_NAME)

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster and wait until the postmaster process itself has exited."""
        if not self.running():
            return
        pid = read_pid(self.paths.pg_data / "postmaster.pid")
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.paths.pg_data))
        if pid is not None:
            wait_for(lambda: not pid_alive(pid), 30, f"PostgreSQL (pid {pid}) to exit")

    def ensure_roles(self) -> None:
        """The owner, the processes' group roles and their logins, none of them superuser;
        passwords (re)set from the files under ``pg/``, so the two always agree."""
        logins: dict[str, str | None] = {DB_OWNER: None}
        logins.update({DB_LOGINS[p]: group for p, group in DB_GROUPS.items()})
        with psycopg.connect(self.admin_url("postgres"), autocommit=True) as conn:
            for group in (*DB_GROUPS.values(), DB_BI_GROUP):
                _create_role(conn, group, sql.SQL("NOLOGIN"))
            for role, member_of in logins.items():
                _create_role(conn, role, sql.SQL("LOGIN"))
                password = read_or_create_secret(self.paths.pg_role_password(role))
                conn.execute(
                    sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(password)
                    )
                )
                if member_of is not None:
                    grant = sql.SQL("GRANT {} TO {}")
                    conn.execute(grant.format(sql.Identifier(member_of), sql.Identifier(role)))

    def ensure_database(self, name: str) -> None:
        """The database, owned by the schema owner, with the TimescaleDB extension (which
        only a superuser may create)."""
        with psycopg.connect(self.admin_url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(DB_OWNER)
                    )
                )
        with psycopg.connect(self.admin_url(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            if not exists:
                return
            # A database of an older state directory, created and migrated by the superuser:
            # the owner takes it over, or its migrations would fail from now on.
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(name), sql.Identifier(DB_OWNER)
                )
            )
            conn.execute(ADOPT_OBJECTS)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _create_role(conn: psycopg.Connection[tuple[object, ...]], role: str, kind: sql.SQL) -> None:
    """CREATE ROLE unless it exists (roles are cluster-wide); never superuser."""
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
        return
    conn.execute(
        sql.SQL("CREATE ROLE {} {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION").format(
            sql.Identifier(role), kind
        )
    )
