"""Notifications to people: DingTalk, WeCom and Feishu robots, email, Standard Webhooks.

- ``notify_channel``: per park, a robot (its webhook URL and signing secret), an SMTP mailbox
  list or a signed webhook; its language, its vendor's rate limit, its circuit breaker.
- ``notify_person``: people reached through channels (mobile for DingTalk @, WeCom user id,
  email), and named in the alarm's audit trail when they acknowledge.
- ``notify_route``: event types, lowest severity, building and device type to a channel and
  the people to @mention; quiet hours (park-local) for non-critical events.
- ``notify_escalation_step``: the on-call chain (值班升级), person and channel per position,
  how long to wait for that person's acknowledgement.
- ``notify_message``: the notification outbox, one row per (event or escalation step,
  channel): pending / sent / dead / duplicate, attempts, next attempt, the facts to render.
- ``notify_attempt``: one row per send (a digest carries several messages).
- ``notify_escalation``: the escalation timer of a critical alarm (database timer).
- ``notify_ack_use``: one-click acknowledge links already used (accepted once).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE notify_channel (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    park_id               text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind                  text NOT NULL
        CHECK (kind IN ('dingtalk', 'wecom', 'feishu', 'email', 'webhook')),
    url                   text,
    secret                text,
    recipients            text[] NOT NULL DEFAULT '{}',
    language              text NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    rate_per_min          integer NOT NULL CHECK (rate_per_min BETWEEN 1 AND 6000),
    active                boolean NOT NULL DEFAULT true,
    consecutive_failures  integer NOT NULL DEFAULT 0,
    circuit_open_until    timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'email') = (url IS NULL))
);
CREATE INDEX notify_channel_park_idx ON notify_channel (park_id);

CREATE TABLE notify_person (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    park_id       text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    mobile        text,
    email         text,
    wecom_userid  text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notify_person_park_idx ON notify_person (park_id);

CREATE TABLE notify_route (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id       text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    channel_id    uuid NOT NULL REFERENCES notify_channel (id) ON DELETE CASCADE,
    event_types   text[] NOT NULL,
    min_severity  text CHECK (min_severity IN ('critical', 'major', 'minor', 'warning')),
    building_id   text,
    device_type   text,
    person_ids    uuid[] NOT NULL DEFAULT '{}',
    quiet_start   time,
    quiet_end     time,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
);
CREATE INDEX notify_route_park_idx ON notify_route (park_id);

CREATE TABLE notify_escalation_step (
    park_id     text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position >= 1),
    person_id   uuid NOT NULL REFERENCES notify_person (id) ON DELETE CASCADE,
    channel_id  uuid NOT NULL REFERENCES notify_channel (id) ON DELETE CASCADE,
    wait_s      double precision NOT NULL CHECK (wait_s >= 30),
    PRIMARY KEY (park_id, position)
);

CREATE TABLE notify_attempt (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id     uuid NOT NULL REFERENCES notify_channel (id) ON DELETE CASCADE,
    started_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at    timestamptz,
    outcome        text NOT NULL DEFAULT 'in_flight'
        CHECK (outcome IN ('in_flight', 'succeeded', 'failed', 'abandoned')),
    messages       integer NOT NULL,
    status_code    integer,
    error          text,
    response_body  text
);
CREATE INDEX notify_attempt_channel_idx ON notify_attempt (channel_id, started_at DESC);

CREATE TABLE notify_message (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id          text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    channel_id       uuid NOT NULL REFERENCES notify_channel (id) ON DELETE CASCADE,
    event_id         uuid,
    alarm_id         uuid,
    kind             text NOT NULL CHECK (kind IN ('event', 'escalation', 'test')),
    type             text NOT NULL,
    severity         text,
    dedup_key        text,
    recipient        text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'dead', 'duplicate')),
    urgent           boolean NOT NULL DEFAULT false,
    context          jsonb NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    failures         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempt_id       bigint,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at          timestamptz
);
CREATE INDEX notify_message_due ON notify_message (channel_id, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX notify_message_dedup ON notify_message (channel_id, dedup_key, created_at DESC)
    WHERE status <> 'duplicate';
CREATE INDEX notify_message_park_idx ON notify_message (park_id, status, id DESC);
CREATE UNIQUE INDEX notify_message_event_key ON notify_message (event_id, channel_id)
    WHERE kind = 'event';

CREATE TABLE notify_escalation (
    alarm_id    uuid PRIMARY KEY REFERENCES alarm (id) ON DELETE CASCADE,
    park_id     text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    step        integer NOT NULL DEFAULT 0,
    due_at      timestamptz NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    ended_why   text
);
CREATE INDEX notify_escalation_due ON notify_escalation (due_at) WHERE ended_at IS NULL;

CREATE TABLE notify_ack_use (
    nonce      uuid PRIMARY KEY,
    alarm_id   uuid NOT NULL REFERENCES alarm (id) ON DELETE CASCADE,
    actor      text NOT NULL,
    used_at    timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION notify_message_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('parktwin_notify', '');
    RETURN NULL;
END $$;
CREATE TRIGGER notify_message_notify AFTER INSERT ON notify_message
    FOR EACH STATEMENT EXECUTE FUNCTION notify_message_notify();
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS notify_message_notify ON notify_message;
DROP FUNCTION IF EXISTS notify_message_notify();
DROP TABLE IF EXISTS notify_ack_use, notify_escalation, notify_message, notify_attempt,
    notify_escalation_step, notify_route, notify_person, notify_channel CASCADE;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
