"""Emergency management (安全应急, issue 10): incidents, their alarms, timeline and tasks;
resources on the map; response plans, the on-duty roster; the per-type settings.

- ``incident_type_rule``: per incident type (``park_id`` NULL: the built-in default; a park's
  own row wins), versioned by ``valid_from`` (the newest row not in the future is in force):
  the alarm trigger (device type + metric whose critical alarms open it), the zone radii, the
  downwind stretch, the grouping window and distance, the default warning level, the report
  deadline and how long before it ``incident.report_due`` is sent, the wind metric.
- ``incident``: lifecycle reported -> responding -> contained -> closed, warning level
  red/orange/yellow/blue, drill flag, the source point, the regulator report deadline.
- ``incident_alarm``: which alarm belongs to which incident (an alarm to at most one: the
  primary key), so the worker never takes an alarm twice, across restarts too.
- ``incident_event``: the timeline (every action, who, when, details).
- ``incident_task``: the plan's checklist copied at opening, assigned and ticked off.
- ``emergency_resource``: shelters, hydrants, AEDs, teams, supplies as points.
- ``response_plan``: 应急预案 per type and level (NULL: any level), versioned.
- ``duty_roster``: who is on duty when, with contacts.
- Indexes on others' tables: open critical alarms (the worker's queue) and series by park and
  metric (the newest wind reading of a park, without scanning its every series).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE incident_type_rule (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id            text REFERENCES park (id) ON DELETE CASCADE,
    incident_type      text NOT NULL CHECK (incident_type ~ '^[A-Za-z0-9_.-]{1,64}$'),
    valid_from         timestamptz NOT NULL DEFAULT now(),
    trigger_device_type text,
    trigger_metric     text,
    radii_m            double precision[] NOT NULL
        CHECK (cardinality(radii_m) BETWEEN 1 AND 5 AND 0 < ALL (radii_m)),
    downwind_stretch   double precision NOT NULL DEFAULT 1 CHECK (downwind_stretch >= 1),
    group_window_s     double precision NOT NULL DEFAULT 600 CHECK (group_window_s >= 0),
    group_distance_m   double precision NOT NULL DEFAULT 200 CHECK (group_distance_m >= 0),
    default_level      text NOT NULL DEFAULT 'orange'
        CHECK (default_level IN ('red', 'orange', 'yellow', 'blue')),
    report_deadline_s  double precision NOT NULL DEFAULT 3600 CHECK (report_deadline_s > 0),
    report_warn_s      double precision NOT NULL DEFAULT 900 CHECK (report_warn_s >= 0),
    wind_metric        text NOT NULL DEFAULT 'wind_direction_deg',
    wind_max_age_s     double precision NOT NULL DEFAULT 900 CHECK (wind_max_age_s > 0),
    source             text,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX incident_type_rule_key
    ON incident_type_rule (coalesce(park_id, ''), incident_type, valid_from);

CREATE TABLE incident (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    park_id              text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    type                 text NOT NULL,
    status               text NOT NULL DEFAULT 'reported'
        CHECK (status IN ('reported', 'responding', 'contained', 'closed')),
    level                text NOT NULL CHECK (level IN ('red', 'orange', 'yellow', 'blue')),
    drill                boolean NOT NULL DEFAULT false,
    source               text NOT NULL CHECK (source IN ('alarm', 'operator')),
    lon                  double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat                  double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    description          text,
    opened_by            text,
    opened_at            timestamptz NOT NULL DEFAULT now(),
    last_alarm_at        timestamptz NOT NULL DEFAULT now(),
    responding_at        timestamptz,
    contained_at         timestamptz,
    closed_at            timestamptz,
    closed_by            text,
    forced_close         boolean NOT NULL DEFAULT false,
    report_due_at        timestamptz NOT NULL,
    report_warn_at       timestamptz NOT NULL,
    report_due_sent_at   timestamptz,
    reported_at          timestamptz,
    reported_by          text,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_park_idx ON incident (park_id, drill, opened_at DESC);
CREATE INDEX incident_open_idx ON incident (park_id, type) WHERE closed_at IS NULL;
CREATE INDEX incident_report_due_idx ON incident (report_warn_at)
    WHERE reported_at IS NULL AND report_due_sent_at IS NULL AND closed_at IS NULL;

CREATE TABLE incident_alarm (
    alarm_id     uuid PRIMARY KEY REFERENCES alarm (id) ON DELETE CASCADE,
    incident_id  uuid NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
    linked_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_alarm_incident_idx ON incident_alarm (incident_id);
CREATE INDEX alarm_critical_open_idx ON alarm (raised_at)
    WHERE severity = 'critical' AND closed_at IS NULL;
CREATE INDEX series_park_metric_idx ON series (park_id, metric);

CREATE TABLE incident_event (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id  uuid NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    action       text NOT NULL,
    actor        text,
    detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_event_incident_idx ON incident_event (incident_id, id);

CREATE TABLE incident_task (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id  uuid NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
    position     integer NOT NULL DEFAULT 0,
    title        text NOT NULL,
    critical     boolean NOT NULL DEFAULT false,
    assignee     text,
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    done_at      timestamptz,
    done_by      text,
    plan_id      bigint
);
CREATE INDEX incident_task_incident_idx ON incident_task (incident_id, position, id);

CREATE TABLE emergency_resource (
    park_id     text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    id          text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    kind        text NOT NULL CHECK (kind IN ('shelter', 'hydrant', 'aed', 'team', 'supplies')),
    name        text NOT NULL,
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    capacity    integer CHECK (capacity >= 0),
    contact     text,
    attributes  jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, id)
);

CREATE TABLE response_plan (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id        text REFERENCES park (id) ON DELETE CASCADE,
    incident_type  text NOT NULL,
    level          text CHECK (level IN ('red', 'orange', 'yellow', 'blue')),
    name           text NOT NULL,
    tasks          jsonb NOT NULL CHECK (jsonb_typeof(tasks) = 'array'),
    valid_from     timestamptz NOT NULL DEFAULT now(),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX response_plan_idx ON response_plan (incident_type, park_id, valid_from DESC);

CREATE TABLE duty_roster (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id     text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    name        text NOT NULL,
    role        text NOT NULL,
    phone       text,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX duty_roster_idx ON duty_roster (park_id, starts_at, ends_at);

INSERT INTO incident_type_rule (incident_type, valid_from, trigger_device_type, trigger_metric,
    radii_m, downwind_stretch, group_window_s, group_distance_m, default_level, source) VALUES
    ('gas_leak', '2000-01-01', 'gas_detector', 'gas_lel_pct', '{100, 300}', 2.0, 600, 200,
     'orange', 'default (verify): isolation 100 m, protective 300 m; GB/T 50493-2019 level 2'),
    ('fire', '2000-01-01', 'smoke_detector', 'smoke', '{50, 150}', 1.5, 600, 100,
     'orange', 'default (verify): smoke detected');

INSERT INTO response_plan (incident_type, level, name, tasks, valid_from) VALUES
    ('gas_leak', NULL, '可燃气体泄漏应急预案 (default)',
     '[{"title": "Confirm the leak on site", "critical": true},
       {"title": "Cut off the gas supply to the area", "critical": true},
       {"title": "Evacuate the inner zone", "critical": true},
       {"title": "Ban ignition sources in the zones", "critical": false},
       {"title": "Report to the regulator within 1 hour", "critical": true}]', '2000-01-01'),
    ('fire', NULL, '火灾应急预案 (default)',
     '[{"title": "Confirm the fire on site", "critical": true},
       {"title": "Call 119", "critical": true},
       {"title": "Evacuate the building", "critical": true},
       {"title": "Deploy the nearest hydrants", "critical": false},
       {"title": "Report to the regulator within 1 hour", "critical": true}]', '2000-01-01');
"""

DOWNGRADE = """
DROP INDEX IF EXISTS alarm_critical_open_idx, series_park_metric_idx;
DROP TABLE IF EXISTS duty_roster, response_plan, emergency_resource, incident_task,
    incident_event, incident_alarm, incident, incident_type_rule CASCADE;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
