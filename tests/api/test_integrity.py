"""A refused write becomes the right API error: the database's own refusals (a
duplicate, a reference to nothing, a failed check) wrapped as SQLAlchemy raises them."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

from app.core.errors import Conflict, Unprocessable
from app.core.integrity import integrity_error
from tests.api.conftest import create_park

BUILDING = (
    "INSERT INTO building (park_id, id, name, footprint, area_m2, parcel_id) "
    "VALUES (%s, %s, 'b', '{}'::jsonb, %s, %s)"
)


def refusal(database_url: str, statement: str, *args: object) -> IntegrityError:
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.IntegrityError) as caught:
        conn.execute(statement, args)  # type: ignore[arg-type]
    return IntegrityError(statement, args, caught.value)


def test_database_refusals_map_to_409_and_422(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin).id
    with psycopg.connect(database_url) as conn:
        conn.execute(BUILDING, (park, "b1", 1.0, None))
    duplicate = integrity_error(refusal(database_url, BUILDING, park, "b1", 1.0, None), "building")
    assert isinstance(duplicate, Conflict) and "already exists" in duplicate.detail
    dangling = integrity_error(
        refusal(database_url, BUILDING, park, "b2", 1.0, "no-such-parcel"), "building 'b2'"
    )
    assert isinstance(dangling, Unprocessable)
    assert dangling.detail == "building 'b2': parcel_id names nothing"
    negative = integrity_error(refusal(database_url, BUILDING, park, "b3", -1.0, None), "b3")
    assert isinstance(negative, Unprocessable) and "refused by the database" in negative.detail


def test_an_overlap_refused_by_an_exclusion_constraint_is_409(database_url: str) -> None:
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.IntegrityError) as caught:
        conn.execute(
            "CREATE TEMP TABLE booking (during int4range, "
            "CONSTRAINT booking_no_overlap EXCLUDE USING gist (during WITH &&))"
        )
        conn.execute("INSERT INTO booking VALUES ('[1,5)'), ('[3,8)')")
    overlap = integrity_error(IntegrityError("INSERT", None, caught.value), "booking [3,8)")
    assert isinstance(overlap, Conflict)
    assert overlap.detail == "booking [3,8) overlaps an existing one (booking_no_overlap)"
