"""Safety as the regulations count it: 险情 vs 生产安全事故, accident grade, the regulator's
reports (first, 续报, 补报), incident types as data with toxic-release zones, major hazard
sources (重大危险源, GB 18218-2018), drills and plan approvals.

- ``incident``: ``occurred_at`` / ``learned_at`` beside ``opened_at``; ``category`` (``hazard``
  险情 or ``accident`` 生产安全事故); casualties and direct loss; ``grade``; the unit
  (``enterprise_id``); the released ``chemical`` and ``spill_size``; ``response_due_at`` (the
  park-internal clock); ``report_due_at`` / ``report_warn_at`` become NULL for a 险情 (only an
  accident has a regulator deadline); ``accident_known_at``; ``supplement_due_at`` (a 补报 owed).
- ``incident_report``: every report sent (kind, recipient, time, who, content snapshot).
- ``incident_type_rule``: ``name_zh``, ``zone_model`` (``radial`` or ``toxic_corridor``),
  ``response_deadline_s``, ``supplement_window_days``, ``wind_speed_metric``,
  ``calm_wind_m_s``, ``day_from_h`` / ``day_until_h`` (ERG's day, park-local); new built-in
  types toxic_release, explosion, power_outage, flooding, road_traffic, other.
- ``toxic_zone_default``: initial isolation and protective action distances per chemical,
  spill size, day/night and wind band (ERG 2024 Tables 1 and 3).
- ``hazardous_chemical``: critical quantity Q and correction factor β (GB 18218-2018
  Tables 1, 3, 4); ``hazard_source`` and ``hazard_inventory``: installations and their q.
- ``response_plan``: ``approved_by``, ``approved_at``, ``review_due_on``;
  ``emergency_drill``: a drill of a plan with its findings.

Revision ID: 0021
Revises: 0022
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0022"
branch_labels = None
depends_on = None

INCIDENT = """
ALTER TABLE incident
    ADD COLUMN occurred_at timestamptz,
    ADD COLUMN learned_at timestamptz,
    ADD COLUMN category text NOT NULL DEFAULT 'hazard' CHECK (category IN ('hazard', 'accident')),
    ADD COLUMN deaths integer NOT NULL DEFAULT 0 CHECK (deaths >= 0),
    ADD COLUMN serious_injuries integer NOT NULL DEFAULT 0 CHECK (serious_injuries >= 0),
    ADD COLUMN minor_injuries integer NOT NULL DEFAULT 0 CHECK (minor_injuries >= 0),
    ADD COLUMN missing integer NOT NULL DEFAULT 0 CHECK (missing >= 0),
    ADD COLUMN direct_loss_yuan numeric(18, 2) NOT NULL DEFAULT 0 CHECK (direct_loss_yuan >= 0),
    ADD COLUMN grade text CHECK (grade IN ('especially_major', 'major', 'larger', 'general')),
    ADD COLUMN enterprise_id text,
    ADD COLUMN chemical text,
    ADD COLUMN spill_size text CHECK (spill_size IN ('small', 'large')),
    ADD COLUMN response_due_at timestamptz,
    ADD COLUMN accident_known_at timestamptz,
    ADD COLUMN supplement_due_at timestamptz,
    ADD COLUMN supplement_due_sent_at timestamptz;
UPDATE incident SET occurred_at = opened_at, learned_at = opened_at,
    response_due_at = opened_at + interval '30 minutes',
    report_due_at = NULL, report_warn_at = NULL;
ALTER TABLE incident ALTER COLUMN report_due_at DROP NOT NULL,
    ALTER COLUMN report_warn_at DROP NOT NULL,
    ALTER COLUMN occurred_at SET NOT NULL, ALTER COLUMN occurred_at SET DEFAULT now(),
    ALTER COLUMN learned_at SET NOT NULL, ALTER COLUMN learned_at SET DEFAULT now();

CREATE TABLE incident_report (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id    uuid NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('first', 'follow_up', 'supplement')),
    recipient      text NOT NULL,
    sent_at        timestamptz NOT NULL,
    sent_by        text NOT NULL,
    recorded_by    text,
    due_at         timestamptz,
    late           boolean,
    content        jsonb NOT NULL CHECK (jsonb_typeof(content) = 'object'),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_report_incident_idx ON incident_report (incident_id, sent_at, id);
"""

TYPES = """
ALTER TABLE incident_type_rule
    ADD COLUMN name_zh text,
    ADD COLUMN zone_model text NOT NULL DEFAULT 'radial'
        CHECK (zone_model IN ('radial', 'toxic_corridor')),
    ADD COLUMN response_deadline_s double precision NOT NULL DEFAULT 1800
        CHECK (response_deadline_s > 0),
    ADD COLUMN supplement_window_days integer NOT NULL DEFAULT 30
        CHECK (supplement_window_days BETWEEN 1 AND 366),
    ADD COLUMN wind_speed_metric text NOT NULL DEFAULT 'wind_speed_m_s',
    ADD COLUMN calm_wind_m_s double precision NOT NULL DEFAULT 0.5 CHECK (calm_wind_m_s >= 0),
    ADD COLUMN day_from_h integer NOT NULL DEFAULT 6 CHECK (day_from_h BETWEEN 0 AND 23),
    ADD COLUMN day_until_h integer NOT NULL DEFAULT 18 CHECK (day_until_h BETWEEN 1 AND 24);

UPDATE incident_type_rule SET name_zh = '可燃气体泄漏',
    source = 'isolation 100 m: ERG 2024 Guide 115 (flammable gases), isolate at least 100 m in '
             'all directions; 300 m and x2 downwind: park setting; trigger: GB/T 50493-2019 '
             '§5.5.2 level 2'
    WHERE park_id IS NULL AND incident_type = 'gas_leak';
UPDATE incident_type_rule SET name_zh = '火灾', supplement_window_days = 7,
    source = '50 m / 150 m, x1.5 downwind: park setting; 补报 window 7 days: 条例 Art. 13'
    WHERE park_id IS NULL AND incident_type = 'fire';

INSERT INTO incident_type_rule (incident_type, name_zh, valid_from, trigger_device_type,
    trigger_metric, radii_m, downwind_stretch, zone_model, default_level,
    supplement_window_days, source) VALUES
    ('toxic_release', '有毒气体泄漏', '2000-01-01', 'toxic_gas_detector', 'concentration_mg_m3',
     '{100, 800}', 1.0, 'toxic_corridor', 'red', 30,
     'with a known chemical: initial isolation circle and protective action square downwind, '
     'ERG 2024 Tables 1 and 3 (toxic_zone_default); unknown chemical: 100 m isolation '
     '(ERG 2024 Guide 123, toxic gases) and 800 m (ERG 2024 Guide 123, large spill: consider '
     'initial downwind evacuation for at least 800 m)'),
    ('explosion', '爆炸', '2000-01-01', NULL, NULL, '{500, 1600}', 1.0, 'radial', 'red', 30,
     'ERG 2024 Guide 112 (explosives): initial evacuation 500 m in all directions; 1600 m if a '
     'tank or trailer is involved in a fire'),
    ('power_outage', '停电', '2000-01-01', NULL, NULL, '{50}', 1.0, 'radial', 'yellow', 30,
     'park setting: the affected site only'),
    ('flooding', '内涝/洪水', '2000-01-01', NULL, NULL, '{200}', 1.0, 'radial', 'yellow', 30,
     'park setting: no standard radius; draw the flooded area in the plan'),
    ('road_traffic', '道路交通事故', '2000-01-01', NULL, NULL, '{50, 100}', 1.0, 'radial',
     'yellow', 7, 'park setting; 补报 window 7 days: 条例 Art. 13'),
    ('other', '其他', '2000-01-01', NULL, NULL, '{100}', 1.0, 'radial', 'yellow', 30,
     'park setting');

CREATE TABLE toxic_zone_default (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id        text REFERENCES park (id) ON DELETE CASCADE,
    chemical       text NOT NULL,
    spill_size     text NOT NULL CHECK (spill_size IN ('small', 'large')),
    period         text NOT NULL CHECK (period IN ('day', 'night')),
    wind_band      text NOT NULL CHECK (wind_band IN ('any', 'low', 'moderate', 'high')),
    isolation_m    double precision NOT NULL CHECK (isolation_m > 0),
    protective_m   double precision NOT NULL CHECK (protective_m > 0),
    source         text NOT NULL,
    valid_from     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX toxic_zone_default_key ON toxic_zone_default
    (coalesce(park_id, ''), chemical, spill_size, period, wind_band, valid_from);

INSERT INTO toxic_zone_default (chemical, spill_size, period, wind_band, isolation_m,
    protective_m, source, valid_from)
SELECT c, s, p, b, i, d, src, '2000-01-01' FROM (VALUES
    ('hydrogen_sulfide', 'small', 'day', 'any', 30, 100, 'ERG 2024 Table 1, UN1053 (verify)'),
    ('hydrogen_sulfide', 'small', 'night', 'any', 30, 400, 'ERG 2024 Table 1, UN1053 (verify)'),
    ('hydrogen_sulfide', 'large', 'day', 'any', 300, 1900, 'ERG 2024 Table 1, UN1053 (verify)'),
    ('hydrogen_sulfide', 'large', 'night', 'any', 300, 5400, 'ERG 2024 Table 1, UN1053 (verify)'),
    ('carbon_monoxide', 'small', 'day', 'any', 30, 100, 'ERG 2024 Table 1, UN1016 (verify)'),
    ('carbon_monoxide', 'small', 'night', 'any', 30, 200, 'ERG 2024 Table 1, UN1016 (verify)'),
    ('carbon_monoxide', 'large', 'day', 'any', 200, 1200, 'ERG 2024 Table 1, UN1016 (verify)'),
    ('carbon_monoxide', 'large', 'night', 'any', 200, 4400, 'ERG 2024 Table 1, UN1016 (verify)'),
    ('sulfur_dioxide', 'small', 'day', 'any', 100, 700, 'ERG 2024 Table 1, UN1079 (verify)'),
    ('sulfur_dioxide', 'small', 'night', 'any', 100, 2200, 'ERG 2024 Table 1, UN1079 (verify)'),
    ('ammonia', 'small', 'day', 'any', 30, 100, 'ERG 2024 Table 1, UN1005 (verify)'),
    ('ammonia', 'small', 'night', 'any', 30, 200, 'ERG 2024 Table 1, UN1005 (verify)'),
    ('ammonia', 'large', 'day', 'low', 300, 1700, 'ERG 2024 Table 3, UN1005, rail tank car (verify)'),
    ('ammonia', 'large', 'day', 'moderate', 300, 1300, 'ERG 2024 Table 3, UN1005, rail tank car (verify)'),
    ('ammonia', 'large', 'day', 'high', 300, 1000, 'ERG 2024 Table 3, UN1005, rail tank car (verify)'),
    ('ammonia', 'large', 'night', 'low', 300, 5000, 'ERG 2024 Table 3, UN1005, rail tank car (verify)'),
    ('ammonia', 'large', 'night', 'moderate', 300, 2400, 'ERG 2024 Table 3, UN1005, rail tank car (verify)'),
    ('ammonia', 'large', 'night', 'high', 300, 1300, 'ERG 2024 Table 3, UN1005, rail tank car (verify)'),
    ('chlorine', 'small', 'day', 'any', 60, 300, 'ERG 2024 Table 1, UN1017 (verify)'),
    ('chlorine', 'small', 'night', 'any', 60, 1100, 'ERG 2024 Table 1, UN1017 (verify)'),
    ('chlorine', 'large', 'day', 'low', 1000, 9900, 'ERG 2024 Table 3, UN1017, rail tank car (verify)'),
    ('chlorine', 'large', 'day', 'moderate', 1000, 6400, 'ERG 2024 Table 3, UN1017, rail tank car (verify)'),
    ('chlorine', 'large', 'day', 'high', 1000, 5100, 'ERG 2024 Table 3, UN1017, rail tank car (verify)'),
    ('chlorine', 'large', 'night', 'low', 1000, 11000, 'ERG 2024 Table 3, UN1017, rail tank car (verify)'),
    ('chlorine', 'large', 'night', 'moderate', 1000, 9000, 'ERG 2024 Table 3, UN1017, rail tank car (verify)'),
    ('chlorine', 'large', 'night', 'high', 1000, 6700, 'ERG 2024 Table 3, UN1017, rail tank car (verify)')
) AS t(c, s, p, b, i, d, src);
"""

HAZARDS = """
CREATE TABLE hazardous_chemical (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id       text REFERENCES park (id) ON DELETE CASCADE,
    chemical      text NOT NULL CHECK (chemical ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name_zh       text NOT NULL,
    cas           text,
    critical_t    double precision NOT NULL CHECK (critical_t > 0),
    beta          double precision NOT NULL CHECK (beta > 0),
    source        text NOT NULL,
    valid_from    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX hazardous_chemical_key
    ON hazardous_chemical (coalesce(park_id, ''), chemical, valid_from);

INSERT INTO hazardous_chemical (chemical, name_zh, cas, critical_t, beta, source, valid_from)
SELECT c, n, cas, q, b, src, '2000-01-01' FROM (VALUES
    ('chlorine', '氯', '7782-50-5', 5, 4, 'GB 18218-2018 Table 1 (Q), Table 3 (β)'),
    ('ammonia', '氨', '7664-41-7', 10, 2, 'GB 18218-2018 Table 1 (Q), Table 3 (β)'),
    ('hydrogen_sulfide', '硫化氢', '7783-06-4', 5, 5, 'GB 18218-2018 Table 1 (Q), Table 3 (β)'),
    ('carbon_monoxide', '一氧化碳', '630-08-0', 10, 2, 'GB 18218-2018 Table 1 (Q), Table 3 (β)'),
    ('sulfur_dioxide', '二氧化硫', '7446-09-5', 20, 2, 'GB 18218-2018 Table 1 (Q), Table 3 (β)'),
    ('ethylene_oxide', '环氧乙烷', '75-21-8', 10, 2, 'GB 18218-2018 Table 1 (Q), Table 3 (β)'),
    ('hydrogen_cyanide', '氰化氢', '74-90-8', 1, 10, 'GB 18218-2018 Table 1 (Q), Table 3 (β) (verify)'),
    ('phosgene', '碳酰氯(光气)', '75-44-5', 0.3, 20, 'GB 18218-2018 Table 1 (Q), Table 3 (β)'),
    ('hydrogen', '氢', '1333-74-0', 5, 1.5, 'GB 18218-2018 Table 1 (Q), Table 4 W2 flammable gas (β)'),
    ('lpg', '液化石油气', '68476-85-7', 50, 1.5, 'GB 18218-2018 Table 1 (Q), Table 4 W2 flammable gas (β)'),
    ('natural_gas', '天然气', '8006-14-2', 50, 1.5, 'GB 18218-2018 Table 1 (Q), Table 4 W2 flammable gas (β)'),
    ('acetylene', '乙炔', '74-86-2', 1, 1.5, 'GB 18218-2018 Table 1 (Q), Table 4 W2 flammable gas (β)'),
    ('gasoline', '汽油', '86290-81-5', 200, 1, 'GB 18218-2018 Table 1 (Q), Table 4 W5 flammable liquid (β) (verify)'),
    ('benzene', '苯', '71-43-2', 50, 1, 'GB 18218-2018 Table 1 (Q), Table 4 W5 flammable liquid (β) (verify)'),
    ('methanol', '甲醇', '67-56-1', 500, 1, 'GB 18218-2018 Table 1 (Q), Table 4 W5 flammable liquid (β) (verify)')
) AS t(c, n, cas, q, b, src);

CREATE TABLE hazard_source (
    park_id              text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    id                   text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name                 text NOT NULL,
    unit_kind            text NOT NULL CHECK (unit_kind IN ('production', 'storage')),
    enterprise_id        text,
    lon                  double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat                  double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    exposed_population   integer NOT NULL CHECK (exposed_population >= 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, id)
);

CREATE TABLE hazard_inventory (
    park_id          text NOT NULL,
    hazard_source_id text NOT NULL,
    chemical         text NOT NULL CHECK (chemical ~ '^[A-Za-z0-9_.-]{1,64}$'),
    quantity_t       double precision NOT NULL CHECK (quantity_t >= 0),
    critical_t       double precision CHECK (critical_t > 0),
    beta             double precision CHECK (beta > 0),
    basis            text,
    PRIMARY KEY (park_id, hazard_source_id, chemical),
    FOREIGN KEY (park_id, hazard_source_id) REFERENCES hazard_source (park_id, id)
        ON DELETE CASCADE
);
"""

DRILLS = """
ALTER TABLE response_plan
    ADD COLUMN approved_by text,
    ADD COLUMN approved_at date,
    ADD COLUMN review_due_on date;

CREATE TABLE emergency_drill (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id        text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    plan_id        bigint NOT NULL REFERENCES response_plan (id),
    incident_id    uuid REFERENCES incident (id) ON DELETE SET NULL,
    held_at        timestamptz NOT NULL,
    scenario       text NOT NULL,
    participants   integer CHECK (participants >= 0),
    findings       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(findings) = 'array'),
    recorded_by    text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX emergency_drill_park_idx ON emergency_drill (park_id, held_at DESC, id DESC);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS emergency_drill, hazard_inventory, hazard_source, hazardous_chemical,
    toxic_zone_default, incident_report CASCADE;
ALTER TABLE response_plan DROP COLUMN approved_by, DROP COLUMN approved_at,
    DROP COLUMN review_due_on;
DELETE FROM incident_type_rule WHERE park_id IS NULL AND incident_type IN
    ('toxic_release', 'explosion', 'power_outage', 'flooding', 'road_traffic', 'other');
UPDATE incident_type_rule SET
    source = 'default (verify): isolation 100 m, protective 300 m; GB/T 50493-2019 level 2'
    WHERE park_id IS NULL AND incident_type = 'gas_leak';
UPDATE incident_type_rule SET source = 'default (verify): smoke detected'
    WHERE park_id IS NULL AND incident_type = 'fire';
ALTER TABLE incident_type_rule DROP COLUMN name_zh, DROP COLUMN zone_model,
    DROP COLUMN response_deadline_s, DROP COLUMN supplement_window_days,
    DROP COLUMN wind_speed_metric, DROP COLUMN calm_wind_m_s, DROP COLUMN day_from_h,
    DROP COLUMN day_until_h;
UPDATE incident SET report_due_at = coalesce(report_due_at, opened_at + interval '1 hour'),
    report_warn_at = coalesce(report_warn_at, opened_at + interval '45 minutes');
ALTER TABLE incident ALTER COLUMN report_due_at SET NOT NULL,
    ALTER COLUMN report_warn_at SET NOT NULL,
    DROP COLUMN occurred_at, DROP COLUMN learned_at, DROP COLUMN category, DROP COLUMN deaths,
    DROP COLUMN serious_injuries, DROP COLUMN minor_injuries, DROP COLUMN missing,
    DROP COLUMN direct_loss_yuan, DROP COLUMN grade, DROP COLUMN enterprise_id,
    DROP COLUMN chemical, DROP COLUMN spill_size, DROP COLUMN response_due_at,
    DROP COLUMN accident_known_at, DROP COLUMN supplement_due_at,
    DROP COLUMN supplement_due_sent_at;
"""


def upgrade() -> None:
    for block in (INCIDENT, TYPES, HAZARDS, DRILLS):
        op.execute(block)


def downgrade() -> None:
    op.execute(DOWNGRADE)
