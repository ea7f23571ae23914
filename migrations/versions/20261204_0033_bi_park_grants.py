"""BI logins see the parks they are granted: one park's BI tool sees that park only.

``bi_grant`` (login, park): a login sees the rows of its granted parks in every ``bi`` view, or
of every park with a grant of no park (``park_id`` null); with no grant it sees no park's rows.
Logins of ``parktwin_bi`` that exist when this runs get the every-park grant, so existing
dashboards keep working; a login made afterwards starts with nothing. Rows of no park
(built-in device types, the default emission factors) are everyone's. The login is
``session_user``: ``SET ROLE parktwin_bi`` inside a session changes ``current_user`` but not
it, so a login cannot widen what it sees.

The views are re-made (0027's queries, unchanged, inside the filter) as ``security_barrier``
views: a BI login may create functions in ``pg_temp``, and without the barrier the planner
could run such a function (one that raises a notice with its arguments) on rows before the
filter removes them. Comparisons a BI tool filters with (``park_id = ...``, time ranges) are
leakproof and still reach the indexes.

Only the schema owner writes ``bi_grant`` (docs/bi.md): the process roles, which get every new
table through 0016's default privileges, lose it here.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-04
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

TABLE = """
CREATE TABLE bi_grant (
    login       text NOT NULL CHECK (length(login) BETWEEN 1 AND 63),
    park_id     text REFERENCES park (id) ON DELETE CASCADE,  -- null: every park
    granted_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (login, park_id)
)
"""

# The logins of parktwin_bi as they are now keep what they saw: every park.
EXISTING_LOGINS = """
INSERT INTO bi_grant (login)
SELECT r.rolname FROM pg_roles r
WHERE r.rolcanlogin AND NOT r.rolsuper AND pg_has_role(r.oid, 'parktwin_bi', 'MEMBER')
"""

REVOKE_PROCESSES = """
DO $$
BEGIN
    REVOKE ALL ON bi_grant FROM parktwin_api, parktwin_worker, parktwin_ingest;
EXCEPTION WHEN undefined_object THEN NULL;
END
$$
"""


# The filter: the session's login has a grant of every park, or one of the row's park. PARK is
# replaced by a fixed column expression below, never by input.
SEES = (
    "(EXISTS (SELECT FROM public.bi_grant g"
    " WHERE g.login = session_user::text AND g.park_id IS NULL)"
    " OR PARK IN (SELECT g.park_id FROM public.bi_grant g WHERE g.login = session_user::text))"
)
OWN = SEES.replace("PARK", "v.park_id")
OWN_OR_EVERYONES = "(v.park_id IS NULL OR " + OWN + ")"

# view -> its filter; the two whose park may be null (rows of every park) keep those rows
FILTERS = {
    "park": OWN,
    "device": OWN,
    "metric": OWN_OR_EVERYONES,
    "latest_value": OWN,
    "rollup_hour": OWN,
    "rollup_day": OWN,
    "alarm": OWN,
    "energy_day": OWN,
    "carbon_factor": OWN_OR_EVERYONES,
    "economy_report": OWN,
}
WRAPPED = (
    "CREATE OR REPLACE VIEW bi.NAME WITH (security_barrier) AS SELECT v.* FROM (QUERY) v"
    " WHERE FILTER"
)

VIEW = re.compile(r"CREATE VIEW bi\.(\w+) AS\s+(.*)", re.DOTALL)


def _migration_0027() -> ModuleType:
    """0027's module, for its view queries (a migration is never edited once released)."""
    path = Path(__file__).with_name("20261203_0027_bi_views.py")
    spec = importlib.util.spec_from_file_location("parktwin_migration_0027", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def queries() -> dict[str, str]:
    """Each bi view's query as 0027 made it."""
    found = {}
    for statement in _migration_0027().VIEWS:
        match = VIEW.match(statement.strip())
        assert match is not None, statement[:60]
        found[match.group(1)] = match.group(2)
    assert set(found) == set(FILTERS), sorted(found)
    return found


def upgrade() -> None:
    op.execute(TABLE)
    op.execute("CREATE INDEX bi_grant_park_idx ON bi_grant (park_id)")  # the cascade's lookup
    op.execute(
        "COMMENT ON TABLE bi_grant IS 'the parks a BI login sees (park_id null: every park;"
        " docs/bi.md)'"
    )
    op.execute(EXISTING_LOGINS)
    op.execute(REVOKE_PROCESSES)
    for name, query in queries().items():
        wrapped = WRAPPED.replace("NAME", name).replace("FILTER", FILTERS[name])
        op.execute(wrapped.replace("QUERY", query))  # the query last: it holds no placeholder


def downgrade() -> None:
    for name, query in queries().items():
        op.execute("CREATE OR REPLACE VIEW bi.NAME AS ".replace("NAME", name) + query)
        op.execute(f"ALTER VIEW bi.{name} RESET (security_barrier)")
    op.execute("DROP TABLE bi_grant")
