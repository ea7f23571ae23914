"""Each service of a bench in a CPU group of its own, as a deployment runs them (``--cpu-groups``
of bench/park100k).

The shipped systemd units (deploy/systemd) run each process as a unit, so in a cgroup of its
own with the same CPU weight (``CPUWeight=100`` unless set), PostgreSQL's backends all in its
unit's group; Compose runs each in a container. A bench's processes instead share the bench's
session, and Linux's autogroup scheduler (``kernel.sched_autogroup_enabled``, on here) gives a
session one share of the CPU however many processes it holds, while every PostgreSQL backend
calls ``setsid()`` and so competes as a group of its own.

:class:`CpuGroups` makes the deployment's shape on a machine whose cgroup v1 ``cpu`` hierarchy
is writable (root, as here): a group per role of ``bench.common.Role`` at the weight asked
(systemd's ``CPUWeight`` scale, 100 by default: ``cpu.shares`` 1024), the roles in ``LOW`` at
the least weight (the devices are other machines: they run on what the services leave).
Elsewhere it places nothing and says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import Role, process_roles

CPU_V1 = Path("/sys/fs/cgroup/cpu")
DEFAULT_WEIGHT = 100  # systemd's CPUWeight default
SHARES_PER_WEIGHT = 1024 / DEFAULT_WEIGHT  # cgroup v1 cpu.shares default is 1024
LEAST_SHARES = 2
LOW = frozenset({"simulator"})
"""Roles that stand for machines outside the park's servers (the devices)."""


def parse_weights(spec: str | None) -> dict[str, int] | None:
    """``"database=400,ingestor=50"`` -> weights by role; ``"equal"`` -> {}; None -> None
    (no groups)."""
    if spec is None:
        return None
    weights: dict[str, int] = {}
    for pair in spec.split(","):
        if not pair.strip() or pair.strip() == "equal":
            continue
        role, _, weight = pair.partition("=")
        if not weight.strip().isdigit() or not 1 <= int(weight) <= 10_000:
            raise ValueError(f"--cpu-groups: {pair!r} is not role=WEIGHT (1..10000)")
        weights[role.strip()] = int(weight)
    return weights


@dataclass
class CpuGroups:
    """``place()`` moves every process of a role (and its descendants) into the role's group;
    call it again to catch processes started since (a PostgreSQL backend forked later is in
    its postmaster's group already). ``close()`` moves everything back and removes the groups."""

    roles: list[Role]
    weights: dict[str, int] = field(default_factory=dict)
    base: Path | None = None
    why: str = ""
    _made: list[Path] = field(default_factory=list)

    @classmethod
    def open(cls, roles: list[Role], weights: dict[str, int] | None) -> CpuGroups:
        if weights is None:
            return cls(roles, why="off: every process in the bench's session (autogroup)")
        base = CPU_V1 / f"parktwin-bench-{os.getpid()}"
        try:
            if not (CPU_V1 / "cgroup.procs").exists():
                raise OSError(f"no cgroup v1 cpu hierarchy at {CPU_V1}")
            base.mkdir()
        except OSError as exc:
            return cls(roles, why=f"not available ({exc}): every process in the bench's session")
        return cls(roles, weights, base, "", [base])

    def describe(self) -> str:
        if self.base is None:
            return f"CPU groups {self.why}"
        named = ", ".join(f"{role} {w}" for role, w in sorted(self.weights.items()))
        return (
            "each service in a CPU group of its own, as its systemd unit runs it (cgroup v1; "
            f"CPUWeight {DEFAULT_WEIGHT}{', ' + named if named else ''}); "
            f"{', '.join(sorted(LOW))} at the least weight (it runs on what the services leave)"
        )

    def _group(self, role: str) -> Path:
        assert self.base is not None
        path = self.base / role
        if not path.exists():
            path.mkdir()
            self._made.append(path)
            weight = self.weights.get(role, DEFAULT_WEIGHT)
            shares = LEAST_SHARES if role in LOW else round(weight * SHARES_PER_WEIGHT)
            (path / "cpu.shares").write_text(str(max(LEAST_SHARES, shares)))
        return path

    def place(self) -> dict[str, int]:
        """Processes moved per role (already placed ones count too)."""
        if self.base is None:
            return {}
        placed: dict[str, int] = {}
        for pid, role in process_roles(self.roles).items():
            if role == "other":
                continue
            try:
                (self._group(role) / "cgroup.procs").write_text(str(pid))
            except (ProcessLookupError, FileNotFoundError):
                continue  # exited meanwhile
            placed[role] = placed.get(role, 0) + 1
        return placed

    def close(self) -> None:
        if self.base is None:
            return
        for path in reversed(self._made):
            procs = path / "cgroup.procs"
            for pid in procs.read_text().split() if procs.exists() else []:
                try:
                    (CPU_V1 / "cgroup.procs").write_text(pid)
                except ProcessLookupError:
                    continue
            try:
                path.rmdir()
            except OSError:
                continue  # a process still moving out: left for the next reboot, harmless
        self.base = None
