"""Install what the embedded services need: PostgreSQL, TimescaleDB and Mosquitto.

``plan()`` lists the missing pieces as shell steps; ``ensure_installed()`` runs them when we are
root and otherwise prints them for the user to run. Debian 13 packages TimescaleDB (the
Apache-licensed edition); Debian 12 does not, so there we build Debian 13's source package
against the local PostgreSQL, fetching the source through a private apt configuration that
touches none of the machine's own apt sources.
"""

from __future__ import annotations

import glob
import logging
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

TRIXIE_KEYRING = "/usr/share/keyrings/debian-archive-trixie-stable.gpg"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
PLUGIN_GLOBS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)


class MissingDependencies(RuntimeError):
    """Binaries are missing and we may not install them (not root)."""


@dataclass(frozen=True)
class Step:
    why: str
    commands: tuple[str, ...]


def debian_major() -> int | None:
    try:
        text = Path("/etc/debian_version").read_text().strip()
    except OSError:
        return None
    head = text.split(".")[0]
    if head.isdigit():
        return int(head)
    return 13 if text.startswith("trixie") else None


def pg_bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian layout), if any."""
    candidates = [
        Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "initdb").exists()
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def pg_major(bindir: Path) -> int:
    return int(bindir.parent.name)


def timescaledb_installed(major: int) -> bool:
    share = Path(f"/usr/share/postgresql/{major}/extension/timescaledb.control")
    lib = Path(f"/usr/lib/postgresql/{major}/lib/timescaledb.so")
    return share.exists() and lib.exists()


def dynsec_plugin() -> Path | None:
    for pattern in PLUGIN_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[0])
    return None


def mosquitto_binary() -> Path | None:
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if Path(candidate).exists():
            return Path(candidate)
    return None


def mosquitto_ctrl_binary() -> Path | None:
    for candidate in ("/usr/bin/mosquitto_ctrl", "/usr/local/bin/mosquitto_ctrl"):
        if Path(candidate).exists():
            return Path(candidate)
    return None


def _timescaledb_source_build(major: int, build_dir: Path) -> Step:
    apt_dir = build_dir / "apt"
    opts = " ".join(
        f"-o {o}"
        for o in (
            f"Dir::Etc::SourceList={apt_dir}/sources.list",
            "Dir::Etc::SourceParts=/dev/null",
            f"Dir::State::Lists={apt_dir}/lists",
            f"Dir::Cache={apt_dir}/cache",
        )
    )
    source_line = f"deb-src [signed-by={TRIXIE_KEYRING}] {DEBIAN_MIRROR} trixie main"
    cmake_flags = " ".join(
        (
            "-DAPACHE_ONLY=1",
            "-DREGRESS_CHECKS=OFF",
            "-DTAP_CHECKS=OFF",
            "-DWARNINGS_AS_ERRORS=OFF",
            "-DSEND_TELEMETRY_DEFAULT=OFF",
            "-DUSE_TELEMETRY=OFF",
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DPG_CONFIG=/usr/lib/postgresql/{major}/bin/pg_config",
        )
    )
    q = shlex.quote
    return Step(
        why=f"TimescaleDB (Apache edition) for PostgreSQL {major}, built from Debian 13's source",
        commands=(
            "apt-get install -y --no-install-recommends "
            f"postgresql-server-dev-{major} cmake gcc make libssl-dev dpkg-dev xz-utils",
            f"mkdir -p {q(str(apt_dir))}/lists/partial {q(str(apt_dir))}/cache/archives/partial",
            f"echo {q(source_line)} > {q(str(apt_dir))}/sources.list",
            f"apt-get {opts} update",
            f"cd {q(str(build_dir))} && rm -rf timescaledb-*/ && apt-get {opts} source timescaledb",
            f"cd {q(str(build_dir))}/timescaledb-*/ && ./bootstrap {cmake_flags} "
            '&& cd build && make -j"$(nproc)" && make install',
        ),
    )


def plan(build_dir: Path) -> list[Step]:
    """The steps still needed on this machine, in order (empty when all is there)."""
    steps: list[Step] = []
    apt_updated = False

    def apt(why: str, packages: str) -> None:
        nonlocal apt_updated
        cmds = () if apt_updated else ("apt-get update",)
        apt_updated = True
        steps.append(Step(why, (*cmds, f"apt-get install -y --no-install-recommends {packages}")))

    bindir = pg_bindir()
    if bindir is None:
        apt("PostgreSQL server", "postgresql")
    if mosquitto_binary() is None or dynsec_plugin() is None or mosquitto_ctrl_binary() is None:
        apt(
            "Mosquitto broker, its dynamic-security plugin and mosquitto_ctrl",
            "mosquitto mosquitto-clients",
        )
    release = debian_major()
    major = pg_major(bindir) if bindir else {12: 15, 13: 17}.get(release or 0, 17)
    if not timescaledb_installed(major):
        if release is not None and release >= 13:
            apt(f"TimescaleDB for PostgreSQL {major}", f"postgresql-{major}-timescaledb")
        else:
            if not apt_updated:
                steps.append(Step("package lists", ("apt-get update",)))
                apt_updated = True
            steps.append(_timescaledb_source_build(major, build_dir))
    return steps


def ensure_installed(build_dir: Path) -> None:
    """Install whatever is missing (as root), or raise with the exact commands to run."""
    steps = plan(build_dir)
    if not steps:
        return
    if os.geteuid() != 0:
        lines = [f"# {s.why}\n" + "\n".join(s.commands) for s in steps]
        raise MissingDependencies(
            "parktwin needs these installed; run as root:\n\n" + "\n\n".join(lines)
        )
    build_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in steps:
        print(f"installing: {step.why}", file=sys.stderr)
        for command in step.commands:
            logger.info("running %s", command)
            subprocess.run(["bash", "-ec", command], check=True, env=env, cwd=build_dir)
