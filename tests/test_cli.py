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


@pytest.mark.parametrize(("argv", "issue"), [(["sim"], 7), (["seed", "demo"], 7)])
def test_unbuilt_commands_say_not_yet(
    argv: list[str], issue: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert f"not yet (see issue {issue})" in capsys.readouterr().err
