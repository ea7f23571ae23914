"""Small helpers the benchmarks share."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from app.core.auth import generate_key
from app.embedded.services import EmbeddedServices


def bench_database(services: EmbeddedServices, name: str) -> str:
    """The schema owner's URL of database ``name`` on the embedded server, created if it is
    missing: only the superuser may create databases, and it hands them to the owner, as
    ``services up`` does for the main one (app/embedded/postgres.py)."""
    services.postgres.ensure_database(name)
    return services.postgres.url(name)


def viewer_key(url: str) -> str:
    """A new viewer API key in the database at ``url`` (stored hashed, as the CLI does)."""
    key = generate_key()
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO api_key (id, secret_hash, role, name) VALUES (%s, %s, 'viewer', 'bench')",
            (key.id, key.secret_hash),
        )
    return key.token


# -- CPU by role (Linux /proc) --------------------------------------------------------------

Role = tuple[str, Callable[[int, str], bool]]  # (label, test on a process's pid and cmdline)


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command line, CPU seconds used so far), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        table[int(entry.name)] = (
            int(fields[1]),
            cmdline,
            (int(fields[11]) + int(fields[12])) / tick,
        )
    return table


def _role_of(pid: int, table: dict[int, tuple[int, str, float]], roles: list[Role]) -> str:
    """The first role that matches the process or its nearest matching ancestor (a PostgreSQL
    backend is its postmaster's, a multiprocessing child its parent's), else "other"."""
    label, walk = "other", pid
    while walk in table and label == "other":
        label = next((name for name, test in roles if test(walk, table[walk][1])), "other")
        walk = table[walk][0]
    return label


def process_roles(roles: list[Role]) -> dict[int, str]:
    """pid -> role (``_role_of``) of every running process."""
    table = _processes()
    return {pid: _role_of(pid, table, roles) for pid in table}


def cpu_by_role(roles: list[Role]) -> dict[str, float]:
    """CPU seconds used so far per role (``_role_of``); the rest is "other". Processes that
    have exited are not counted, so compare two readings of processes that live through both."""
    table = _processes()
    totals: dict[str, float] = {label: 0.0 for label, _test in roles} | {"other": 0.0}
    for pid, (_parent, _cmdline, seconds) in table.items():
        totals[_role_of(pid, table, roles)] += seconds
    return totals


# -- bulk loading ---------------------------------------------------------------------------


def run_bulk(url: str, statement: str, params: dict[str, object]) -> None:
    """One data-loading statement on a connection of its own, tuned for bulk writes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET jit = off")
        conn.execute("SET work_mem = '256MB'")
        conn.execute(statement, params)


def run_bulk_parallel(url: str, statement: str, params: list[dict[str, object]]) -> None:
    """``run_bulk`` for each parameter set, two at a time (the machine has two cores)."""
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda p: run_bulk(url, statement, p), params))
