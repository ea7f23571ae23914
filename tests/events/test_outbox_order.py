"""``event_outbox.seq`` follows commit order (migration 0023), which the stream's resume needs."""

from __future__ import annotations

import uuid

import psycopg

from app.webhooks.outbox import enqueue_sync


def _park(database_url: str) -> str:
    park_id = f"seq-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO park (id, name) VALUES (%s, 'seq')", (park_id,))
    return park_id


def _seq(database_url: str, *event_ids: uuid.UUID) -> list[int | None]:
    with psycopg.connect(database_url) as conn:
        rows = dict(
            conn.execute(
                "SELECT id, seq FROM event_outbox WHERE id = ANY(%s)", (list(event_ids),)
            ).fetchall()
        )
    return [rows[i] for i in event_ids]


def test_an_event_inserted_first_but_committed_last_is_numbered_last(database_url: str) -> None:
    park_id = _park(database_url)
    with psycopg.connect(database_url) as slow, psycopg.connect(database_url) as fast:
        early = enqueue_sync(slow, park_id=park_id, type="alarm.raised", severity=None, data={})
        late = enqueue_sync(fast, park_id=park_id, type="alarm.cleared", severity=None, data={})
        fast.commit()
        assert _seq(database_url, late)[0] is not None  # committed: numbered
        slow.commit()
    early_seq, late_seq = _seq(database_url, early, late)
    assert early_seq is not None and late_seq is not None
    assert early_seq > late_seq


def test_events_of_one_transaction_keep_their_order(database_url: str) -> None:
    park_id = _park(database_url)
    with psycopg.connect(database_url) as conn:
        ids = [
            enqueue_sync(conn, park_id=park_id, type=f"t.{n}", severity=None, data={})
            for n in range(3)
        ]
    seqs = _seq(database_url, *ids)
    assert seqs == sorted(seqs) and len(set(seqs)) == 3  # type: ignore[type-var]


def test_a_rolled_back_event_takes_no_number(database_url: str) -> None:
    park_id = _park(database_url)
    with psycopg.connect(database_url) as conn:
        enqueue_sync(conn, park_id=park_id, type="alarm.raised", severity=None, data={})
        conn.rollback()
        kept = enqueue_sync(conn, park_id=park_id, type="alarm.cleared", severity=None, data={})
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id FROM event_outbox WHERE park_id = %s AND seq IS NOT NULL", (park_id,)
        ).fetchall()
    assert rows == [(kept,)]
