"""Helpers of the economy tests: enterprises with valid credit codes, reports through the API."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.assets.credit_code import check_character


def credit_code() -> str:
    body = "91350100" + uuid.uuid4().hex[:9].upper().translate(str.maketrans("IOSVZ", "12345"))
    return body + check_character(body)


def make_enterprise(
    database_url: str,
    park_id: str,
    *,
    industry_code: str | None = "C3484",
    founded_on: str | None = "2010-01-01",
    enterprise_id: str | None = None,
) -> str:
    enterprise_id = enterprise_id or f"e-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO enterprise (park_id, id, name, credit_code, industry_code, founded_on) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (park_id, enterprise_id, f"企业 {enterprise_id}", credit_code(), industry_code,
             founded_on),
        )  # fmt: skip
    return enterprise_id


def report(**overrides: Any) -> dict[str, Any]:
    body = {
        "output_value": 100.0,
        "value_added": 30.0,
        "revenue": 90.0,
        "tax": 5.0,
        "employees": 10,
        "rd_spend": 2.0,
    }
    return {**body, **overrides}


def put_report(
    client: TestClient,
    admin: dict[str, str],
    park_id: str,
    enterprise_id: str,
    month: str,
    **overrides: Any,
) -> dict[str, Any]:
    response = client.put(
        f"/api/v1/parks/{park_id}/economy/reports/{enterprise_id}/{month}",
        json=report(**overrides),
        headers=admin,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
