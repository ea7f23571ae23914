"""The import contracts of pyproject.toml ([tool.importlinter]) hold, and they do bite: core
at the bottom, domains above, entry points on top, ingest through the alarms entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports() -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_the_layer_contracts_are_kept() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def test_the_contracts_cover_the_layers_and_the_back_edges() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contracts = {c["id"]: c for c in config["contracts"]}
    layers = contracts["layers"]["layers"]
    assert layers[0] == "app.cli" and layers[-1] == "app.core"
    domains = set(layers[2].split(" : "))
    assert {"app.apikeys", "app.embedded", "app.devices", "app.assets", "app.webhooks"} <= domains
    assert set(layers[1].split(" | ")) == {"app.main", "app.worker", "ingest", "sensors_sim"}
    assert contracts["devices-below-assets"]["forbidden_modules"] == ["app.assets", "app.telemetry"]
    assert "app.telemetry" in contracts["ingest-edge"]["forbidden_modules"]
