"""The BI views (migration 0027) as the read-only role: every Grafana panel's SQL in
deploy/grafana/ runs and answers its columns with the seeded rows, and the role can neither
read the base tables nor write anything.

Grafana's macros are expanded the simple way the Grafana PostgreSQL data source does for a
fixed dashboard range: ``$__timeFilter(col)`` → ``col BETWEEN 'from' AND 'to'``,
``$__timeFrom()`` / ``$__timeTo()`` → the quoted bounds, ``$park`` / ``${park}`` → the park id.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from app.core.migrate import upgrade_to_head
from app.core.statedir import DB_LOGINS, DB_OWNER
from app.embedded import install
from app.embedded.services import EmbeddedServices
from tests.conftest import ServiceEnv

GRAFANA = Path(__file__).resolve().parents[1] / "deploy" / "grafana"
FROM, TO = "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"
COLUMNS = {
    "负荷 Load (kW)": ["time", "负荷 kW"],
    "活动告警 Active alarms": ["severity", "alarms"],
    "告警趋势 Alarms raised": ["time", "severity", "alarms"],
    "最新值 Latest values": ["device_id", "metric", "value", "unit", "time"],
    "日用电量 Electricity per day (kWh)": ["time", "用电量 kWh"],
    "碳排放 Carbon, electricity (tCO₂, location-based)": ["time", "tCO₂"],
}


def expand(sql: str, park: str) -> str:
    """The panel's SQL as Grafana sends it for the range FROM..TO and park ``park``."""
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 BETWEEN '{FROM}' AND '{TO}'", sql)
    sql = sql.replace("$__timeFrom()", f"'{FROM}'").replace("$__timeTo()", f"'{TO}'")
    return sql.replace("${park}", park).replace("$park", park)


def panels() -> list[tuple[str, str]]:
    found = []
    for path in sorted(GRAFANA.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            found += [(panel["title"], t["rawSql"]) for t in panel["targets"]]
    return found


SEED = """
INSERT INTO park (id, name) VALUES (%(p)s, 'bi park');
INSERT INTO device (park_id, id, type, name) VALUES (%(p)s, 'm1', 'electricity_meter', 'main');
INSERT INTO series (park_id, device_id, metric) VALUES (%(p)s, 'm1', 'power_kw'),
    (%(p)s, 'm1', 'energy_kwh');
INSERT INTO rollup_hour (series_id, bucket, count, sum, min, max, first_time, first_value,
                         last_time, last_value, increase)
SELECT s.id, b, 60, 60 * 12.5, 10, 15, b, 12, b + interval '59 minutes', 13, 0
FROM series s, (VALUES (timestamptz '2026-11-20 00:00Z'), ('2026-11-20 01:00Z')) v(b)
WHERE s.park_id = %(p)s AND s.metric = 'power_kw';
INSERT INTO rollup_day (series_id, bucket, count, sum, min, max, first_time, first_value,
                        last_time, last_value, increase)
SELECT s.id, b, 1440, 0, f, f + 100, b, f, b + interval '1439 minutes', f + 100, 100
FROM series s,
     (VALUES (timestamptz '2026-11-19 16:00Z', 1000.0), ('2026-11-20 16:00Z', 1101.0)) v(b, f)
WHERE s.park_id = %(p)s AND s.metric = 'energy_kwh';
INSERT INTO rollup_month (series_id, bucket, count, sum, min, max, first_time, first_value,
                          last_time, last_value, increase)
SELECT s.id, b, 2880, 0, f, l, b, f, b + interval '20 days', l, i
FROM series s,
     (VALUES (timestamptz '2026-09-30 16:00Z', 900.0, 1000.0, 100.0),
             ('2026-10-31 16:00Z', 1010.0, 1101.0, 91.0)) v(b, f, l, i)
WHERE s.park_id = %(p)s AND s.metric = 'energy_kwh';
INSERT INTO latest_value (series_id, time, value)
SELECT id, '2026-11-20 01:59Z', 13 FROM series WHERE park_id = %(p)s;
INSERT INTO alarm (id, park_id, device_id, metric, type, severity, raised_at)
VALUES (gen_random_uuid(), %(p)s, 'm1', 'power_kw', 'threshold', 'major', '2026-11-20 01:00Z');
"""


@pytest.fixture(scope="module")
def bi_login(services: ServiceEnv, database_url: str) -> Iterator[tuple[str, str]]:
    """A login in the group role parktwin_bi that sees every park (as docs/bi.md has an
    operator make one) and a seeded park."""
    park, name = f"bi-{uuid.uuid4().hex[:8]}", f"bi_test_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE parktwin_bi")
        conn.execute("INSERT INTO bi_grant (login) VALUES (%s)", (name,))  # every park
        for statement in filter(str.strip, SEED.split(";")):
            conn.execute(statement, {"p": park})  # type: ignore[call-overload]
    parts = urlsplit(database_url)
    host = f"{name}:{password}@{parts.hostname}:{parts.port}"
    yield urlunsplit(parts._replace(netloc=host)), park
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM park WHERE id = %s", (park,))
        conn.execute("DELETE FROM bi_grant WHERE login = %s", (name,))
        conn.execute(f"DROP ROLE {name}")


def test_every_dashboard_panel_is_checked() -> None:
    assert sorted(title for title, _sql in panels()) == sorted(COLUMNS)


@pytest.mark.parametrize(("title", "sql"), panels(), ids=[t for t, _ in panels()])
def test_panel_sql_runs_as_the_read_only_role(
    bi_login: tuple[str, str], title: str, sql: str
) -> None:
    url, park = bi_login
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(expand(sql, park))  # type: ignore[arg-type]
        assert [c.name for c in cur.description or []] == COLUMNS[title]
        assert cur.fetchall(), f"{title}: no rows for the seeded park"


def test_views_answer_the_seeded_figures(bi_login: tuple[str, str]) -> None:
    url, park = bi_login
    with psycopg.connect(url) as conn:
        energy = conn.execute(
            "SELECT day, consumption, unit FROM bi.energy_day WHERE park_id = %s ORDER BY day",
            (park,),
        ).fetchall()
        assert [(row[1], row[2]) for row in energy] == [(100.0, "kWh"), (101.0, "kWh")]
        hour = conn.execute(
            "SELECT avg, consumption FROM bi.rollup_hour WHERE park_id = %s LIMIT 1", (park,)
        ).fetchone()
        assert hour == (12.5, None)  # a gauge has no consumption
        months = conn.execute(
            "SELECT to_char(bucket AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'), consumption, unit"
            " FROM bi.rollup_month WHERE park_id = %s ORDER BY bucket",
            (park,),
        ).fetchall()
        # October: its increase, 100 kWh; November: 91 inside it + 1010 - 1000 from October's
        # last reading to its first = 101 kWh
        assert months == [("2026-10", 100.0, "kWh"), ("2026-11", 101.0, "kWh")]


PARK_VIEWS = ("park", "device", "latest_value", "rollup_hour", "rollup_day", "rollup_month",
              "alarm", "energy_day")  # fmt: skip
"""The views with rows of the seeded park (SEED): each must show a limited login its own."""


@pytest.fixture
def two_parks(database_url: str) -> Iterator[tuple[str, str, str, str]]:
    """Two seeded parks, a login granted the first only and one granted nothing (docs/bi.md):
    their URLs, the first park, the other park."""
    mine, theirs = (f"bi-{uuid.uuid4().hex[:8]}" for _ in range(2))
    names = [f"bi_park_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    password = uuid.uuid4().hex
    with psycopg.connect(database_url, autocommit=True) as conn:
        for park in (mine, theirs):
            for statement in filter(str.strip, SEED.split(";")):
                conn.execute(statement, {"p": park})  # type: ignore[call-overload]
        for name in names:
            conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE parktwin_bi")
        conn.execute("INSERT INTO bi_grant (login, park_id) VALUES (%s, %s)", (names[0], mine))
    parts = urlsplit(database_url)
    one, none = (
        urlunsplit(parts._replace(netloc=f"{name}:{password}@{parts.hostname}:{parts.port}"))
        for name in names
    )
    yield one, none, mine, theirs
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM park WHERE id = ANY(%s)", ([mine, theirs],))
        for name in names:
            conn.execute(f"DROP ROLE {name}")


@pytest.mark.parametrize("view", PARK_VIEWS)
def test_a_login_sees_the_parks_it_is_granted(
    two_parks: tuple[str, str, str, str], bi_login: tuple[str, str], view: str
) -> None:
    one, none, mine, theirs = two_parks
    sql = f"SELECT DISTINCT park_id FROM bi.{view} WHERE park_id = ANY(%s)"
    parks = ([mine, theirs],)
    with psycopg.connect(one) as conn:
        assert conn.execute(sql, parks).fetchall() == [(mine,)]  # type: ignore[call-overload]
        conn.execute("SET ROLE parktwin_bi")  # the group role: still the login's parks
        assert conn.execute(sql, parks).fetchall() == [(mine,)]  # type: ignore[call-overload]
    with psycopg.connect(none) as conn:  # no grant: no park
        assert conn.execute(sql, parks).fetchall() == []  # type: ignore[call-overload]
    with psycopg.connect(bi_login[0]) as conn:  # the every-park grant
        seen = conn.execute(sql, parks).fetchall()  # type: ignore[call-overload]
        assert sorted(seen) == sorted([(mine,), (theirs,)])


def test_rows_of_no_park_are_everyones(two_parks: tuple[str, str, str, str]) -> None:
    with psycopg.connect(two_parks[1]) as conn:  # even a login granted nothing
        built_in = conn.execute("SELECT count(*) FROM bi.metric WHERE park_id IS NULL").fetchone()
        factors = conn.execute("SELECT count(*) FROM bi.carbon_factor WHERE park_id IS NULL")
        assert built_in != (0,) and factors.fetchone() != (0,)


def test_a_function_of_the_login_never_sees_the_rows_the_filter_removes(
    two_parks: tuple[str, str, str, str],
) -> None:
    """A cheap function in pg_temp that raises a notice with its argument, as an attacker
    writes it to read rows before the filter drops them: the views are security barriers."""
    url, _none, mine, theirs = two_parks
    notices: list[str] = []
    with psycopg.connect(url) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute(
            "CREATE FUNCTION pg_temp.peek(text) RETURNS boolean LANGUAGE plpgsql COST 0.0001"
            " AS $$ BEGIN RAISE NOTICE 'saw %', $1; RETURN true; END $$"
        )
        for view in PARK_VIEWS:
            conn.execute(f"SELECT * FROM bi.{view} WHERE pg_temp.peek(park_id)").fetchall()  # type: ignore[call-overload]
    assert notices and set(notices) == {f"saw {mine}"}, sorted(set(notices))[:5]
    assert theirs not in " ".join(notices)


FORBIDDEN = (
    "SELECT * FROM telemetry LIMIT 1",
    "SELECT * FROM public.rollup_hour LIMIT 1",
    "SELECT * FROM api_key",
    "SELECT * FROM device",
    "INSERT INTO bi.economy_report (park_id) VALUES ('x')",
    "DELETE FROM bi.alarm",
    "UPDATE bi.park SET name = 'x'",
    "CREATE TABLE bi.evil (x int)",
    "CREATE VIEW bi.evil AS SELECT 1",
    "DROP VIEW bi.alarm",
    "SELECT parktwin_drop_expired('telemetry', interval '1 day')",
    "SELECT * FROM bi_grant",
    "INSERT INTO bi_grant (login, park_id) VALUES (current_user, 'x')",
)


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_the_role_cannot_read_base_tables_or_write(
    bi_login: tuple[str, str], statement: str
) -> None:
    # a write to a view that is not a plain one-table view (the filtered ones, migration 0033)
    # is refused as not updatable before its privileges are looked at: refused either way
    refused = (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState)
    with psycopg.connect(bi_login[0]) as conn, pytest.raises(refused):
        conn.execute(statement)  # type: ignore[arg-type]


def test_the_operators_script_makes_a_bi_login(embedded: EmbeddedServices) -> None:
    """deploy/db-roles.sql with ``-v bi_password=...`` (docs/bi.md): the login reads the views
    of a database the owner migrated, with a statement timeout, and nothing else."""
    name = f"parktwin_bi_{uuid.uuid4().hex[:8]}"
    embedded.postgres.ensure_database(name)
    roles = (("owner", DB_OWNER), *((p, DB_LOGINS[p]) for p in ("api", "ingest", "worker")))
    passwords = {k: urlsplit(embedded.postgres.role_url(r)).password for k, r in roles}
    passwords["bi"] = uuid.uuid4().hex
    psql = [str(install.pg_bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    psql += [f"-v{kind}_password={password}" for kind, password in passwords.items()]
    script = str(GRAFANA.parents[1] / "deploy" / "db-roles.sql")
    try:
        done = subprocess.run([*psql, "-d", embedded.postgres.admin_url(name), "-f", script],
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        upgrade_to_head(embedded.postgres.url(name))
        parts = urlsplit(embedded.postgres.url(name))
        netloc = f"parktwin_bi_login:{passwords['bi']}@{parts.hostname}:{parts.port}"
        with psycopg.connect(urlunsplit(parts._replace(netloc=netloc))) as conn:
            assert conn.execute("SELECT count(*) FROM bi.metric").fetchone() != (0,)
            assert conn.execute("SHOW statement_timeout").fetchone() == ("1min",)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT count(*) FROM device_type_metric")
    finally:
        embedded.postgres.drop_database(name)
