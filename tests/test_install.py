"""Provisioning plans: what is missing, and what a non-root user is told to run."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.embedded import install


def test_this_machine_has_everything_after_make_test() -> None:
    assert install.plan(Path("/tmp/unused")) == []


def test_debian_12_builds_timescaledb_from_trixie_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "debian_major", lambda: 12)
    monkeypatch.setattr(install, "timescaledb_installed", lambda major: False)
    steps = install.plan(Path("/srv/b"))
    text = "\n".join(c for s in steps for c in s.commands)
    assert "trixie main" in text
    assert "apt-get -o Dir::Etc::SourceList=/srv/b/apt/sources.list" in text
    assert "source timescaledb" in text
    assert "-DAPACHE_ONLY=1" in text and "make install" in text


def test_debian_13_installs_the_packaged_timescaledb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "debian_major", lambda: 13)
    monkeypatch.setattr(install, "pg_bindir", lambda: Path("/usr/lib/postgresql/17/bin"))
    monkeypatch.setattr(install, "timescaledb_installed", lambda major: False)
    steps = install.plan(Path("/srv/b"))
    assert any("postgresql-17-timescaledb" in c for s in steps for c in s.commands)


def test_non_root_gets_the_exact_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "mosquitto_binary", lambda: None)
    monkeypatch.setattr(install.os, "geteuid", lambda: 1000)
    with pytest.raises(install.MissingDependencies) as excinfo:
        install.ensure_installed(Path("/srv/b"))
    assert "apt-get install -y --no-install-recommends mosquitto mosquitto-clients" in str(
        excinfo.value
    )
