"""Webhooks: the transactional outbox, subscriptions, the delivery queue and its attempt log.

``event_outbox`` is written by whoever makes an event (alarm evaluation, the ingestor, API
services), in the same transaction as the change it reports, with plain SQL::

    INSERT INTO event_outbox (id, park_id, type, severity, data)
    VALUES (gen_random_uuid(), %s, %s, %s, %s::jsonb)

A statement-level trigger sends ``NOTIFY parktwin_outbox`` so that ``parktwin worker`` wakes at
once (the notification is delivered when the writer commits, never before). The worker fans each
new event out (``fanned_out_at``) into one ``webhook_delivery`` row per matching subscription;
a delivery is ``pending`` (with ``next_attempt_at``: due time, or the lease of an attempt in
flight), ``delivered`` or ``dead``. ``webhook_attempt`` logs every attempt, including one whose
worker died before an answer came (``abandoned``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SEVERITY = "('critical', 'major', 'minor', 'warning')"

UPGRADE = f"""
CREATE TABLE event_outbox (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    park_id        text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    type           text NOT NULL,
    severity       text NULL CHECK (severity IN {SEVERITY}),
    created_at     timestamptz NOT NULL DEFAULT now(),
    data           jsonb NOT NULL,
    fanned_out_at  timestamptz NULL DEFAULT NULL
);
CREATE INDEX event_outbox_new ON event_outbox (created_at) WHERE fanned_out_at IS NULL;
CREATE INDEX event_outbox_park_created ON event_outbox (park_id, created_at);

CREATE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('parktwin_outbox', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER event_outbox_notify AFTER INSERT ON event_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox();

CREATE TABLE webhook (
    id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    park_id                     text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    url                         text NOT NULL,
    event_types                 text[] NOT NULL,
    min_severity                text NULL CHECK (min_severity IN {SEVERITY}),
    description                 text NULL,
    secret                      text NOT NULL,
    previous_secret             text NULL,
    previous_secret_expires_at  timestamptz NULL,
    active                      boolean NOT NULL DEFAULT true,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_park ON webhook (park_id) WHERE active;

CREATE TABLE webhook_delivery (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL REFERENCES event_outbox (id) ON DELETE CASCADE,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    failures         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_delivery_due ON webhook_delivery (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_delivery_event ON webhook_delivery (event_id);

CREATE TABLE webhook_attempt (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id    bigint NOT NULL REFERENCES webhook_delivery (id) ON DELETE CASCADE,
    webhook_id     uuid NOT NULL,
    event_id       uuid NOT NULL,
    attempt        integer NOT NULL,
    outcome        text NOT NULL DEFAULT 'in_flight'
                   CHECK (outcome IN ('in_flight', 'succeeded', 'failed', 'abandoned')),
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz NULL,
    duration_ms    double precision NULL,
    status_code    integer NULL,
    error          text NULL,
    response_body  text NULL
);
CREATE INDEX webhook_attempt_webhook ON webhook_attempt (webhook_id, id);
CREATE INDEX webhook_attempt_delivery ON webhook_attempt (delivery_id);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS webhook_attempt;
DROP TABLE IF EXISTS webhook_delivery;
DROP TABLE IF EXISTS webhook;
DROP TABLE IF EXISTS event_outbox;
DROP FUNCTION IF EXISTS notify_outbox();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
