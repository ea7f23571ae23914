"""Small helpers the benchmarks share."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from app.core.auth import generate_key


def bench_database(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``admin_url``, created if it is missing."""
    url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url


def viewer_key(url: str) -> str:
    """A new viewer API key in the database at ``url`` (stored hashed, as the CLI does)."""
    key = generate_key()
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO api_key (id, secret_hash, role, name) VALUES (%s, %s, 'viewer', 'bench')",
            (key.id, key.secret_hash),
        )
    return key.token
