"""The console script's surface."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import build_parser, main

COMMANDS = ("services", "migrate", "api", "ingest", "worker", "sim", "seed", "apikey", "demo")


def test_help_lists_every_contract_command() -> None:
    text = build_parser().format_help()
    for command in COMMANDS:
        assert command in text


def test_console_script_is_installed() -> None:
    script = shutil.which("parktwin", path=str(Path(sys.executable).parent))
    assert script is not None, "pip install -e . should put parktwin in the venv"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, check=True)
    assert "migrate" in result.stdout


def test_sim_dry_run_prints_count_lines(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    argv = ["sim", "--dry-run", "--count", "3", "--start", "2026-11-28T08:00:00+08:00"]
    assert main(argv) == 0
    lines = capsysbinary.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith(b"parks/demo/devices/") for line in lines)


def test_invalid_settings_are_named_one_a_line_without_their_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What an on-call engineer reads when a process refuses its settings: each setting by its
    variable's name and why, exit status 2, no traceback, and no secret repeated."""
    monkeypatch.setenv("PARKTWIN_RAW_RETENTION", "ninety-days")
    monkeypatch.setenv("PARKTWIN_NOTIFY_ACK_SECRET", "s3cret-but-short")
    monkeypatch.setenv("PARKTWIN_WEBHOOK_ALLOWED_PORTS", "443,8o8o")
    assert main(["worker"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "parktwin: 3 invalid setting(s), nothing started:",
        "  PARKTWIN_RAW_RETENTION: Input should be a valid timedelta, invalid digit in duration",
        "  PARKTWIN_WEBHOOK_ALLOWED_PORTS: '8o8o' is not a port or a range of ports (1-65535)",
        "  PARKTWIN_NOTIFY_ACK_SECRET: at least 32 characters",
    ]


def test_a_rule_between_settings_is_named_as_it_reads(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARKTWIN_RAW_RETENTION", "P30D")
    monkeypatch.setenv("PARKTWIN_HOURLY_ROLLUP_RETENTION", "P7D")
    assert main(["api"]) == 2
    assert capsys.readouterr().err.splitlines()[1] == (
        "  PARKTWIN_HOURLY_ROLLUP_RETENTION must be at least PARKTWIN_RAW_RETENTION "
        "(7 days < 30 days)"
    )
