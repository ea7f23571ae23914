"""Detector and alarm states, two-sided and gas-keyed rules, and the ingestor's coverage.

- ``ingest_coverage``: one row per ingest worker (its MQTT client id): ``heartbeat_at`` written
  every few seconds while it runs, ``covered_since`` when its current unbroken subscription
  began (NULL while it is not subscribed). The offline job counts a device's silence only from
  the later of its ``last_seen_at`` and the start of that coverage (plus a grace period): a gap
  the platform caused (ingest or broker down) is never a device's outage.
- ``detector_state``: a detector's service state (``in_service``, ``maintenance``,
  ``calibration``: out of service; ``fault``), set through the API, with its calibration-due
  date; ``detector_state_event`` keeps every change (ISA-18.2 out-of-service, audited).
- ``alarm.suppressed``: why an alarm was raised without being announced: its detector was out
  of service (``out_of_service``) or its rule's suppression condition held (``by_design``,
  e.g. a vibration alarm while the machine is not running). It is recorded, listed and
  audited; its webhook events are held back (``event_outbox.held_back = 'suppressed'``).
- ``alarm_rule.low_levels``: a two-sided rule (``levels`` the high limits, ``low_levels`` the
  low ones: oxygen 19.5 / 23.5 %VOL); ``alarm_rule.gas``: the rule applies to detectors whose
  ``attributes.gas`` is that gas; ``alarm_rule.suppress_when``: the by-design condition;
  rule type ``detector_fault`` (a device-reported fault metric).
- ``toxic_gas``: molar masses and the GB/T 50493-2019 example settings (mg/m³), from which the
  ppm defaults are computed here: ppm = mg/m³ × 24.45 / M (25 °C, 101.325 kPa).
- The catalogue gains ``oxygen_detector`` (``oxygen_pct_vol``), ``concentration_ppm`` on
  ``toxic_gas_detector`` and a ``fault`` state metric on the detectors.

Revision ID: 0022
Revises: 0026
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0026"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE ingest_coverage (
    client_id      text PRIMARY KEY,
    covered_since  timestamptz,
    heartbeat_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN ingest_coverage.covered_since IS
    'subscribed without a break since then; NULL while not subscribed';

CREATE TABLE detector_state (
    park_id             text NOT NULL,
    device_id           text NOT NULL,
    state               text NOT NULL DEFAULT 'in_service'
                        CHECK (state IN ('in_service', 'maintenance', 'calibration', 'fault')),
    since               timestamptz NOT NULL DEFAULT now(),
    comment             text,
    set_by              text,
    calibration_due_on  date,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, device_id),
    FOREIGN KEY (park_id, device_id) REFERENCES device (park_id, id) ON DELETE CASCADE
);
CREATE INDEX detector_state_out_idx ON detector_state (park_id) WHERE state <> 'in_service';
CREATE INDEX detector_state_due_idx ON detector_state (calibration_due_on)
    WHERE calibration_due_on IS NOT NULL;

CREATE TABLE detector_state_event (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id             text NOT NULL,
    device_id           text NOT NULL,
    at                  timestamptz NOT NULL DEFAULT now(),
    state               text NOT NULL,
    calibration_due_on  date,
    actor               text,
    comment             text,
    FOREIGN KEY (park_id, device_id) REFERENCES device (park_id, id) ON DELETE CASCADE
);
CREATE INDEX detector_state_event_idx ON detector_state_event (park_id, device_id, id);

ALTER TABLE alarm ADD COLUMN suppressed text CHECK (suppressed IN ('out_of_service', 'by_design'));
CREATE INDEX alarm_suppressed_idx ON alarm (park_id) WHERE suppressed IS NOT NULL
    AND closed_at IS NULL;
ALTER TABLE event_outbox DROP CONSTRAINT event_outbox_held_back_check;
ALTER TABLE event_outbox ADD CONSTRAINT event_outbox_held_back_check
    CHECK (held_back IN ('shelved', 'flood', 'suppressed'));

ALTER TABLE alarm_rule DROP CONSTRAINT alarm_rule_type_check;
ALTER TABLE alarm_rule ADD CONSTRAINT alarm_rule_type_check
    CHECK (type IN ('threshold', 'state', 'rate_of_change', 'detector_fault'));
ALTER TABLE alarm_rule
    ADD COLUMN low_levels jsonb CHECK (low_levels IS NULL OR (jsonb_typeof(low_levels) = 'array'
        AND jsonb_array_length(low_levels) BETWEEN 1 AND 2)),
    ADD COLUMN gas text CHECK (gas ~ '^[A-Za-z0-9_.-]{1,32}$'),
    ADD COLUMN suppress_when jsonb;
DROP INDEX alarm_rule_scope_key;
CREATE UNIQUE INDEX alarm_rule_scope_key ON alarm_rule
    (coalesce(park_id, ''), device_type, coalesce(device_id, ''), metric, type, coalesce(gas, ''));

-- a device's gas (attributes) picks its toxic-gas rules: the rule books reload on a change
CREATE TRIGGER device_attributes_registry_notify AFTER UPDATE OF attributes ON device
    FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_change();

CREATE TABLE toxic_gas (
    gas               text PRIMARY KEY,
    name_zh           text NOT NULL,
    molar_mass        double precision NOT NULL CHECK (molar_mass > 0),
    level1_mg_m3      double precision NOT NULL CHECK (level1_mg_m3 > 0),
    level2_mg_m3      double precision NOT NULL CHECK (level2_mg_m3 > level1_mg_m3),
    valid_from        date NOT NULL DEFAULT DATE '2020-01-01',
    source            text NOT NULL
);
INSERT INTO toxic_gas (gas, name_zh, molar_mass, level1_mg_m3, level2_mg_m3, source)
SELECT g.*, 'GB/T 50493-2019 §5.5.2 (level 1 <= 100% OEL, level 2 <= 200% OEL; GBZ 2.1-2019); '
            'molar mass: IUPAC 2021 standard atomic weights'
FROM (VALUES
    -- GB/T 50493-2019 §5.5.2 example settings in mg/m³ (level 1 / level 2, from the GBZ 2.1-2019
    -- occupational exposure limits; DOMAIN.md); molar masses in g/mol from the IUPAC 2021
    -- standard atomic weights
    ('H2S', '硫化氢', 34.08, 10, 20),
    ('CO', '一氧化碳', 28.01, 20, 40),
    ('NH3', '氨', 17.03, 20, 40),
    ('Cl2', '氯气', 70.90, 1, 2),
    ('SO2', '二氧化硫', 64.06, 5, 10)
) AS g(gas, name_zh, molar_mass, level1_mg_m3, level2_mg_m3);

INSERT INTO device_type (type, domain, reporting_timeout_s, builtin)
VALUES ('oxygen_detector', 'safety', 300, true);
INSERT INTO device_type_metric (device_type, name, unit, kind) VALUES
    ('oxygen_detector', 'oxygen_pct_vol', '%VOL', 'gauge'),
    ('toxic_gas_detector', 'concentration_ppm', 'ppm', 'gauge');
INSERT INTO device_type_metric (device_type, name, unit, kind)
SELECT type, 'fault', '', 'state' FROM device_type WHERE type IN ('gas_detector', 'toxic_gas_detector', 'smoke_detector', 'oxygen_detector');

INSERT INTO alarm_rule (device_type, metric, type, levels, low_levels, deadband, latch, source)
VALUES ('oxygen_detector', 'oxygen_pct_vol', 'threshold',
        '[{"severity": "major", "threshold": 23.5}]', '[{"severity": "major", "threshold": 19.5}]',
        0.2, true, 'GB/T 50493-2019 §5.5.2: oxygen high 23.5 %VOL, low 19.5 %VOL');

INSERT INTO alarm_rule (device_type, metric, type, gas, levels, latch, source)
SELECT 'toxic_gas_detector', 'concentration_mg_m3', 'threshold', gas,
       jsonb_build_array(jsonb_build_object('severity', 'major', 'threshold', level1_mg_m3),
                         jsonb_build_object('severity', 'critical', 'threshold', level2_mg_m3)),
       true, 'GB/T 50493-2019 §5.5.2: toxic gas level 1 <= 100% OEL, level 2 <= 200% OEL '
             '(GBZ 2.1-2019); example settings for ' || gas
FROM toxic_gas;

INSERT INTO alarm_rule (device_type, metric, type, gas, levels, latch, source)
SELECT 'toxic_gas_detector', 'concentration_ppm', 'threshold', gas,
       jsonb_build_array(
           jsonb_build_object('severity', 'major',
                              'threshold', round((level1_mg_m3 * 24.45 / molar_mass)::numeric, 3)),
           jsonb_build_object('severity', 'critical',
                              'threshold', round((level2_mg_m3 * 24.45 / molar_mass)::numeric, 3))),
       true, 'GB/T 50493-2019 §5.5.2 settings for ' || gas || ' in mg/m³, converted: '
             'ppm = mg/m³ × 24.45 / ' || molar_mass || ' (molar volume 24.45 L/mol at 25 °C, '
             '101.325 kPa)'
FROM toxic_gas;

INSERT INTO alarm_rule (device_type, metric, type, levels, latch, source)
SELECT type, 'fault', 'detector_fault', '[{"severity": "minor", "threshold": 0.5}]', false,
       'the detector reports a fault: yellow fault signal (GB 16808-2008, GB 15322.1-2019)'
FROM device_type WHERE type IN ('gas_detector', 'toxic_gas_detector', 'smoke_detector', 'oxygen_detector');

GRANT SELECT ON detector_state, toxic_gas TO parktwin_ingest;
GRANT SELECT, INSERT, UPDATE ON ingest_coverage TO parktwin_ingest;
"""

DOWNGRADE = """
DELETE FROM alarm_rule WHERE type = 'detector_fault' OR gas IS NOT NULL
    OR device_type = 'oxygen_detector';
DELETE FROM device_type_metric WHERE name = 'fault' AND device_type IN ('gas_detector', 'toxic_gas_detector', 'smoke_detector', 'oxygen_detector');
DELETE FROM device_type_metric WHERE device_type = 'toxic_gas_detector'
    AND name = 'concentration_ppm';
DELETE FROM series s USING device d WHERE d.park_id = s.park_id AND d.id = s.device_id
    AND ((s.metric = 'fault' AND d.type IN ('gas_detector', 'toxic_gas_detector', 'smoke_detector', 'oxygen_detector'))
         OR (s.metric = 'concentration_ppm' AND d.type = 'toxic_gas_detector'));
DELETE FROM device WHERE type = 'oxygen_detector';
DELETE FROM device_type WHERE type = 'oxygen_detector';
DROP TABLE IF EXISTS toxic_gas;
DROP TRIGGER IF EXISTS device_attributes_registry_notify ON device;
DROP INDEX IF EXISTS alarm_rule_scope_key;
ALTER TABLE alarm_rule DROP COLUMN IF EXISTS low_levels, DROP COLUMN IF EXISTS gas,
    DROP COLUMN IF EXISTS suppress_when;
CREATE UNIQUE INDEX alarm_rule_scope_key
    ON alarm_rule (coalesce(park_id, ''), device_type, coalesce(device_id, ''), metric, type);
ALTER TABLE alarm_rule DROP CONSTRAINT alarm_rule_type_check;
ALTER TABLE alarm_rule ADD CONSTRAINT alarm_rule_type_check
    CHECK (type IN ('threshold', 'state', 'rate_of_change'));
UPDATE event_outbox SET held_back = 'shelved' WHERE held_back = 'suppressed';
ALTER TABLE event_outbox DROP CONSTRAINT event_outbox_held_back_check;
ALTER TABLE event_outbox ADD CONSTRAINT event_outbox_held_back_check
    CHECK (held_back IN ('shelved', 'flood'));
DROP INDEX IF EXISTS alarm_suppressed_idx;
ALTER TABLE alarm DROP COLUMN IF EXISTS suppressed;
DROP TABLE IF EXISTS detector_state_event, detector_state, ingest_coverage;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
