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
