"""The distribution the Dockerfile installs carries the migrations and the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_migrations_and_entry_point(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("parktwin-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "migrations/env.py" in names
    assert "migrations/script.py.mako" in names
    assert any(n.startswith("migrations/versions/") and n.endswith("_foundation.py") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "parktwin = app.cli:main" in text
    assert not any(n.startswith("tests/") for n in names)
    cockpit = {  # the page works from an installed package, with no Node and no internet
        "app/cockpit/static/index.html",
        "app/cockpit/static/cockpit.css",
        "app/cockpit/static/js/main.js",
        "app/cockpit/static/js/panels/map.js",
        "app/cockpit/static/vendor/echarts.esm.min.js",
    }
    assert cockpit <= names
