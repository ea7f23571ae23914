"""Install what the embedded services need: PostgreSQL, TimescaleDB and Mosquitto.

``plan()`` lists the missing pieces as shell steps; ``ensure_installed()`` runs them when we are
root, one progress line per step, the commands' output in ``install.log`` of the state
directory, and otherwise prints them for the user to run. It installs only packages that are
not installed (``--no-install-recommends --no-upgrade``) and never upgrades the machine.

Debian 13 packages TimescaleDB (the Apache-licensed edition); Debian 12 does not, so there we
build Debian 13's source package against the local PostgreSQL, fetching the source through a
private apt configuration that touches none of the machine's own apt sources.
"""

from __future__ import annotations

import glob
import logging
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from app.reports.pdf import KNOWN_FONTS

logger = logging.getLogger(__name__)

TRIXIE_KEYRING = "/usr/share/keyrings/debian-archive-trixie-stable.gpg"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
CJK_FONT = "fonts-wqy-microhei"
PLUGIN_GLOBS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)
# Only what is missing, never an upgrade of what is there (see _apt_install).
APT_INSTALL = "apt-get install -y --no-install-recommends --no-upgrade"
BUILD_TOOLS = ("cmake", "gcc", "make", "libssl-dev", "dpkg-dev", "xz-utils")
TAIL_LINES = 20


class MissingDependencies(RuntimeError):
    """Binaries are missing and we may not install them (not root)."""


class InstallFailed(MissingDependencies):
    """A step of the installation failed: what it needs is still missing."""


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


def package_installed(name: str) -> bool:
    """Whether dpkg has the package ``name`` installed."""
    try:
        answer = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:  # not a Debian system
        return False
    return answer.returncode == 0 and answer.stdout.split()[-1:] == ["installed"]


def _apt_install(why: str, packages: Sequence[str]) -> Step | None:
    """Install the packages not yet installed, and nothing else: no recommends, and
    ``--no-upgrade`` so a package already there is never upgraded as a side effect. (apt
    upgrades a dependency only when a new package needs a newer version of it.)"""
    needed = [p for p in packages if not package_installed(p)]
    return Step(why, (f"{APT_INSTALL} {' '.join(needed)}",)) if needed else None


def _timescaledb_source_build(major: int, build_dir: Path) -> list[Step]:
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
    tools = _apt_install(
        "installing TimescaleDB's build tools",
        (f"postgresql-server-dev-{major}", *BUILD_TOOLS),
    )
    fetch = Step(
        "fetching TimescaleDB's source from Debian 13 (private apt configuration)",
        (
            f"mkdir -p {q(str(apt_dir))}/lists/partial {q(str(apt_dir))}/cache/archives/partial",
            f"echo {q(source_line)} > {q(str(apt_dir))}/sources.list",
            f"apt-get {opts} update",
            f"cd {q(str(build_dir))} && rm -rf timescaledb-*/ && apt-get {opts} source timescaledb",
        ),
    )
    build = Step(
        f"building TimescaleDB (Apache edition) for PostgreSQL {major}",
        (
            f"cd {q(str(build_dir))}/timescaledb-*/ && ./bootstrap {cmake_flags} "
            '&& cd build && make -j"$(nproc)" && make install',
        ),
    )
    return [s for s in (tools, fetch, build) if s is not None]


def cjk_font_installed() -> bool:
    """Whether a Chinese TrueType font the PDF reports can embed is on the machine."""
    return any(Path(font).exists() for font in KNOWN_FONTS)


def plan(build_dir: Path) -> list[Step]:
    """The steps still needed on this machine, in order (empty when all is there)."""
    bindir = pg_bindir()
    release = debian_major()
    major = pg_major(bindir) if bindir else {12: 15, 13: 17}.get(release or 0, 17)
    wanted: list[Step | None] = []
    if bindir is None:
        wanted.append(_apt_install(f"installing PostgreSQL {major}", ("postgresql",)))
    if mosquitto_binary() is None or dynsec_plugin() is None or mosquitto_ctrl_binary() is None:
        wanted.append(
            _apt_install(
                "installing Mosquitto, its dynamic-security plugin and mosquitto_ctrl",
                ("mosquitto", "mosquitto-clients"),
            )
        )
    if not cjk_font_installed():
        # the PDF reports' Chinese text (app/reports/pdf.py embeds a subset of it)
        wanted.append(_apt_install("installing a Chinese font for the PDF reports", (CJK_FONT,)))
    if not timescaledb_installed(major):
        if release is not None and release >= 13:
            package = f"postgresql-{major}-timescaledb"
            wanted.append(
                _apt_install(f"installing TimescaleDB for PostgreSQL {major}", (package,))
            )
        else:
            wanted.extend(_timescaledb_source_build(major, build_dir))
    steps = [s for s in wanted if s is not None]
    if not steps:
        return []
    return [Step("updating the package lists", ("apt-get update",)), *steps]


def ensure_installed(build_dir: Path, log_path: Path, out: TextIO | None = None) -> None:
    """Install whatever is missing (as root), or raise with the exact commands to run.

    One progress line per step goes to ``out`` (stdout by default); the commands' own output
    goes to ``log_path``."""
    steps = plan(build_dir)
    if not steps:
        return
    if os.geteuid() != 0:
        lines = [f"# {s.why}\n" + "\n".join(s.commands) for s in steps]
        raise MissingDependencies(
            "parktwin needs these installed; run as root:\n\n" + "\n\n".join(lines)
        )
    build_dir.mkdir(parents=True, exist_ok=True)
    run_steps(steps, build_dir, log_path, sys.stdout if out is None else out)


def run_steps(steps: Sequence[Step], cwd: Path, log_path: Path, out: TextIO) -> None:
    """Run the steps in order: ``[2/5] installing PostgreSQL 15 ... done (34 s)`` on ``out``,
    everything the commands print appended to ``log_path``. Raise ``InstallFailed`` (with the
    log's last lines) at the first command that fails."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"\n=== parktwin services install, {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
        for number, step in enumerate(steps, 1):
            out.write(f"[{number}/{len(steps)}] {step.why} ... ")
            out.flush()
            started = time.monotonic()
            failure = _run_step(step, cwd, env, log)
            seconds = f"({time.monotonic() - started:.0f} s)"
            out.write(f"{'failed' if failure else 'done'} {seconds}\n")
            out.flush()
            if failure:
                where = f"step {number}/{len(steps)} ({step.why})"
                raise InstallFailed(f"{where}: {failure}\n" + _log_tail(log_path))


def _run_step(step: Step, cwd: Path, env: dict[str, str], log: TextIO) -> str | None:
    """Run the step's commands; None when all succeed, else what failed."""
    for command in step.commands:
        logger.debug("running %s", command)
        log.write(f"$ {command}\n")
        log.flush()
        result = subprocess.run(
            ["bash", "-ec", command],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            check=False,
        )
        if result.returncode != 0:
            log.write(f"# exited with status {result.returncode}\n")
            log.flush()
            return f"`{command}` exited with status {result.returncode}"
    return None


def _log_tail(log_path: Path, lines: int = TAIL_LINES) -> str:
    with log_path.open("rb") as log:
        log.seek(0, os.SEEK_END)
        log.seek(max(0, log.tell() - 64 * 1024))
        tail = log.read().decode("utf-8", errors="replace").splitlines()[-lines:]
    heading = f"The full output is in {log_path.resolve()}; its last {len(tail)} lines:"
    return "\n".join((heading, *tail))
