"""``parktwin apikey create | list | revoke | rotate``, key expiry, ``parktwin --version``, the
demo's key replacement (review L4, L5), each checked against the API."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.apikeys.cli import replace_demo_key
from app.core.config import Settings
from app.main import create_app
from tests.conftest import ServiceEnv

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def env(services: ServiceEnv, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PARKTWIN_DATABASE_URL": database_url,
        "PARKTWIN_MQTT_URL": services.mqtt_url,
    }


def parktwin(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def new_key(env: dict[str, str], *args: str) -> str:
    return parktwin(env, "apikey", "create", *args).stdout.splitlines()[-1]


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[TestClient]:
    """An API process without the positive key cache: a revocation shows at once."""
    uncached = settings.model_copy(update={"api_key_cache_ttl": timedelta(0)})
    with TestClient(create_app(uncached)) as client:
        yield client


def status(api: TestClient, token: str) -> int:
    return api.get("/api/v1/parks", headers={"Authorization": f"Bearer {token}"}).status_code


def key_id(token: str) -> str:
    return token.split("_")[1]


def test_version_is_the_package_version(env: dict[str, str]) -> None:
    assert parktwin(env, "--version").stdout.strip() == f"parktwin {version('parktwin')}"


def test_list_revoke_rotate(env: dict[str, str], api: TestClient) -> None:
    token = new_key(env, "--role", "viewer", "--name", "dashboard")
    assert status(api, token) == 200

    listing = parktwin(env, "apikey", "list").stdout
    header, *rows = listing.splitlines()
    assert header.split("\t")[:3] == ["id", "state", "role"]
    [row] = [r.split("\t") for r in rows if r.startswith(key_id(token))]
    assert row[1:3] == ["active", "viewer"] and "dashboard" in row and "cli" in row
    assert token.split("_", 2)[2] not in listing  # never a secret

    rotated = parktwin(env, "apikey", "rotate", key_id(token)).stdout.splitlines()[-1]
    assert key_id(rotated) == key_id(token) and rotated != token
    assert status(api, token) == 401  # the old secret stops working
    assert status(api, rotated) == 200

    assert parktwin(env, "apikey", "revoke", key_id(token)).returncode == 0
    assert status(api, rotated) == 401
    [row] = [
        r.split("\t")
        for r in parktwin(env, "apikey", "list").stdout.splitlines()
        if r.startswith(key_id(token))
    ]
    assert row[1] == "revoked"
    again = parktwin(env, "apikey", "rotate", key_id(token), ok=False)
    assert again.returncode == 1 and "not found" in again.stderr


def test_an_enterprise_key_needs_its_park_and_enterprise(
    env: dict[str, str], api: TestClient, database_url: str
) -> None:
    park = f"p-{os.urandom(4).hex()}"
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO park (id, name) VALUES (%s, 'p')", (park,))
        conn.execute(
            "INSERT INTO enterprise (park_id, id, name, credit_code) "
            "VALUES (%s, 'acme', 'Acme', '91350100M000100Y43')",
            (park,),
        )
    token = new_key(env, "--role", "enterprise", "--park", park, "--enterprise", "acme")
    answer = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (answer["role"], answer["park_id"], answer["enterprise_id"]) == (
        "enterprise",
        park,
        "acme",
    )
    [row] = [
        r.split("\t")
        for r in parktwin(env, "apikey", "list").stdout.splitlines()
        if r.startswith(key_id(token))
    ]
    assert row[2:5] == ["enterprise", park, "acme"]
    for args, says in (
        (["--role", "enterprise", "--park", park], "needs both"),
        (["--role", "enterprise", "--enterprise", "acme"], "needs both"),
        (["--role", "viewer", "--park", park, "--enterprise", "acme"], "only it"),
        (["--role", "enterprise", "--park", park, "--enterprise", "nobody"], "not found"),
    ):
        refused = parktwin(env, "apikey", "create", *args, ok=False)
        assert refused.returncode == 1 and says in refused.stderr, refused.stderr


def test_unknown_keys_are_refused(env: dict[str, str]) -> None:
    for action in ("revoke", "rotate"):
        result = parktwin(env, "apikey", action, "0123456789abcdef", ok=False)
        assert result.returncode == 1 and "not found" in result.stderr


def test_an_expired_key_is_401(env: dict[str, str], api: TestClient, database_url: str) -> None:
    token = new_key(env, "--role", "viewer", "--expires-in", "30d")
    assert status(api, token) == 200
    with psycopg.connect(database_url) as conn:
        expires = conn.execute(
            "SELECT expires_at - now() FROM api_key WHERE id = %s", (key_id(token),)
        ).fetchone()
        assert expires is not None and timedelta(days=29) < expires[0] <= timedelta(days=30)
        conn.execute(
            "UPDATE api_key SET expires_at = now() - interval '1 s' WHERE id = %s",
            (key_id(token),),
        )
    assert status(api, token) == 401
    rows = parktwin(env, "apikey", "list").stdout.splitlines()
    assert [r.split("\t")[1] for r in rows if r.startswith(key_id(token))] == ["expired"]


def test_an_expiry_in_the_past_or_malformed_is_refused(env: dict[str, str]) -> None:
    past = parktwin(
        env, "apikey", "create", "--role", "viewer", "--expires-at", "2020-01-01", ok=False
    )
    assert past.returncode == 1 and "not in the future" in past.stderr
    bad = parktwin(env, "apikey", "create", "--role", "viewer", "--expires-in", "soon", ok=False)
    assert bad.returncode == 2 and "--expires-in" in bad.stderr


def test_the_cache_keeps_a_key_no_longer_than_its_expiry(
    env: dict[str, str], settings: Settings, database_url: str
) -> None:
    """With the default cache (10 s), a key cached seconds before it expires is refused once
    it has expired: the cache keeps a key only until its expiry."""
    assert settings.api_key_cache_ttl == timedelta(seconds=10)
    token = new_key(env, "--role", "viewer", "--expires-in", "1h")
    with TestClient(create_app(settings)) as cached:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "UPDATE api_key SET expires_at = now() + interval '3 s' WHERE id = %s "
                "RETURNING expires_at - now()",
                (key_id(token),),
            ).fetchone()
        assert row is not None
        assert status(cached, token) == 200  # now cached
        time.sleep(row[0].total_seconds() + 0.2)
        assert status(cached, token) == 401


def test_demo_revokes_the_key_of_its_previous_run(settings: Settings, api: TestClient) -> None:
    first = asyncio.run(replace_demo_key(settings))
    assert status(api, first) == 200
    second = asyncio.run(replace_demo_key(settings))
    assert status(api, first) == 401 and status(api, second) == 200
