"""Monthly reports submitted by the enterprises themselves: a workflow beside the park's own
figures.

- ``economy_report_submission``: the enterprise's report of one month as it goes through
  draft → submitted → returned (with the park's comment) → resubmitted → accepted (and back to
  returned when the park reopens an accepted one). Its figures count nowhere until accepted:
  acceptance copies them into ``economy_report`` (with its field revisions), which every
  calculation reads.
- ``economy_report_submission_event``: every change of a submission: what was done, by which
  key (and role), when, from which state to which, with the figures, explanations and comment
  of that moment. The park's audit trail.
- ``economy_report_reminder``: one row per enterprise, month and kind (``due``, ``overdue``), so
  the worker's reminder job emits each event once.
- ``economy_report_revision.source`` gains ``submission``: the field revisions written when
  the park accepts an enterprise's report.

Revision ID: 0031
Revises: 0029
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0031"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE economy_report_submission (
            park_id        text NOT NULL,
            enterprise_id  text NOT NULL,
            month          date NOT NULL CHECK (extract(day FROM month) = 1),
            state          text NOT NULL CHECK (state IN
                ('draft', 'submitted', 'returned', 'resubmitted', 'accepted')),
            figures        jsonb NOT NULL,
            explanations   jsonb NOT NULL DEFAULT '{}',
            comment        text,
            created_at     timestamptz NOT NULL DEFAULT now(),
            created_by     text,
            updated_at     timestamptz NOT NULL DEFAULT now(),
            updated_by     text,
            submitted_at   timestamptz,
            submitted_by   text,
            reviewed_at    timestamptz,
            reviewed_by    text,
            PRIMARY KEY (park_id, enterprise_id, month),
            FOREIGN KEY (park_id, enterprise_id) REFERENCES enterprise (park_id, id)
                ON DELETE CASCADE
        );
        CREATE INDEX economy_report_submission_state_idx
            ON economy_report_submission (park_id, state, month);
        COMMENT ON TABLE economy_report_submission IS
            'monthly report entered by the enterprise; counts only once accepted';

        CREATE TABLE economy_report_submission_event (
            id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            park_id        text NOT NULL,
            enterprise_id  text NOT NULL,
            month          date NOT NULL,
            action         text NOT NULL
                CHECK (action IN ('save', 'submit', 'return', 'accept', 'reopen')),
            from_state     text,
            to_state       text NOT NULL,
            figures        jsonb NOT NULL,
            explanations   jsonb NOT NULL DEFAULT '{}',
            comment        text,
            by_key         text,
            by_role        text,
            at             timestamptz NOT NULL DEFAULT clock_timestamp(),
            FOREIGN KEY (park_id, enterprise_id, month)
                REFERENCES economy_report_submission (park_id, enterprise_id, month)
                ON DELETE CASCADE
        );
        CREATE INDEX economy_report_submission_event_idx
            ON economy_report_submission_event (park_id, enterprise_id, month, id);

        CREATE TABLE economy_report_reminder (
            park_id        text NOT NULL,
            enterprise_id  text NOT NULL,
            month          date NOT NULL,
            kind           text NOT NULL CHECK (kind IN ('due', 'overdue')),
            sent_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (park_id, enterprise_id, month, kind),
            FOREIGN KEY (park_id, enterprise_id) REFERENCES enterprise (park_id, id)
                ON DELETE CASCADE
        );

        ALTER TABLE economy_report_revision DROP CONSTRAINT economy_report_revision_source_check,
            ADD CONSTRAINT economy_report_revision_source_check
                CHECK (source IN ('api', 'import', 'submission'));
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE economy_report_reminder;
        DROP TABLE economy_report_submission_event;
        DROP TABLE economy_report_submission;
        DELETE FROM economy_report_revision WHERE source = 'submission';
        ALTER TABLE economy_report_revision DROP CONSTRAINT economy_report_revision_source_check,
            ADD CONSTRAINT economy_report_revision_source_check
                CHECK (source IN ('api', 'import'));
        """
    )
