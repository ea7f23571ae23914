"""Idempotency keys for the creating POSTs, and API-key expiry and provenance (review L17, L4).

``idempotency_key`` keeps, per API key, route (method and path) and ``Idempotency-Key``, the
fingerprint of the first request and its answer (status and body; no body when the answer
carried a secret shown once, such as a device's MQTT password), written in the same
transaction as what the request created; the worker deletes rows past ``expires_at``.
``api_key`` gains ``expires_at`` (NULL: never; past it the key answers 401) and
``created_by`` (who made it: ``cli``, ``demo``); the keys earlier demo runs made (admin, every
park, named ``demo``) are marked ``demo`` so that the next ``parktwin demo`` revokes them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE api_key ADD COLUMN expires_at timestamptz, ADD COLUMN created_by text;
        COMMENT ON COLUMN api_key.expires_at IS 'NULL: never; past it the key answers 401';
        -- the admin keys earlier `parktwin demo` runs made: the next run revokes them
        UPDATE api_key SET created_by = 'demo'
        WHERE name = 'demo' AND role = 'admin' AND park_id IS NULL;

        CREATE TABLE idempotency_key (
            api_key_id   text NOT NULL REFERENCES api_key (id) ON DELETE CASCADE,
            scope        text NOT NULL,
            key          text NOT NULL,
            fingerprint  bytea NOT NULL,
            status       smallint NOT NULL,
            content_type text,
            body         bytea,
            resource_id  text,
            created_at   timestamptz NOT NULL DEFAULT now(),
            expires_at   timestamptz NOT NULL,
            PRIMARY KEY (api_key_id, scope, key)
        );
        CREATE INDEX idempotency_key_expires_idx ON idempotency_key (expires_at);
        COMMENT ON COLUMN idempotency_key.scope IS 'the route: method and path';
        COMMENT ON COLUMN idempotency_key.fingerprint IS
            'SHA-256 of the query string and the canonical JSON body of the first request';
        COMMENT ON COLUMN idempotency_key.body IS
            'the first answer, replayed; NULL when it held a secret shown once';
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE idempotency_key; "
        "ALTER TABLE api_key DROP COLUMN expires_at, DROP COLUMN created_by"
    )
