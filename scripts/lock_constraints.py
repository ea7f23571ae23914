"""Pin parktwin's runtime dependencies for reproducible images: constraints.txt.

Every package the service needs at run time (pyproject.toml's ``[project] dependencies``, their
extras and theirs, for this platform and Python) pinned ``==`` to the version installed in this
venv, the one the tests ran against. The Dockerfile installs with
``pip install -c constraints.txt .``. After changing a dependency:

    .venv/bin/python scripts/lock_constraints.py --write

``tests/test_packaging.py`` fails while the file and the venv disagree.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
HEADER = (
    "# parktwin's runtime dependencies pinned to the versions tested.\n"
    "# Written by scripts/lock_constraints.py; the Dockerfile installs with it.\n"
)


def _wanted(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in {"", *extras})


def closure(requirements: list[str]) -> dict[str, str]:
    """Installed name -> version of ``requirements`` and everything they need."""
    pinned: dict[str, str] = {}
    extras_seen: dict[str, set[str]] = {}
    todo = [(Requirement(r), set[str]()) for r in requirements]
    while todo:
        requirement, parent_extras = todo.pop()
        if not _wanted(requirement, parent_extras):
            continue
        name = canonicalize_name(requirement.name)
        new_extras = set(requirement.extras) - extras_seen.get(name, set())
        if name in pinned and not new_extras:
            continue
        distribution = metadata.distribution(name)  # PackageNotFoundError: not installed
        pinned[name] = distribution.version
        extras_seen[name] = extras_seen.get(name, set()) | set(requirement.extras)
        todo += [(Requirement(r), extras_seen[name]) for r in distribution.requires or []]
    return pinned


def render() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = closure(project["dependencies"])
    return HEADER + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite constraints.txt")
    args = parser.parse_args()
    text = render()
    if args.write:
        CONSTRAINTS.write_text(text)
        return 0
    current = CONSTRAINTS.read_text() if CONSTRAINTS.exists() else ""
    if current != text:
        sys.stderr.write(
            "constraints.txt is out of date: run scripts/lock_constraints.py --write\n"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
