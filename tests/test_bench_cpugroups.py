"""bench/cpugroups.py: the deployment's CPU groups for a bench's processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cpugroups import CPU_V1, CpuGroups, parse_weights
from tests.ingest_support import wait_until


def test_weights_are_role_weight_pairs_on_systemds_scale() -> None:
    assert parse_weights(None) is None  # no groups at all
    assert parse_weights("equal") == {}
    assert parse_weights("database=400, ingestor=50") == {"database": 400, "ingestor": 50}
    for bad in ("database", "database=0", "database=fast", "database=10001"):
        with pytest.raises(ValueError, match="role=WEIGHT"):
            parse_weights(bad)


def test_without_groups_nothing_is_placed_and_the_report_says_so() -> None:
    groups = CpuGroups.open([("api", lambda _pid, _cmd: True)], None)
    assert groups.place() == {}
    assert groups.describe() == "CPU groups off: every process in the bench's session (autogroup)"
    groups.close()


def _cpu_group(pid: int) -> str:
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    return next(line.split(":", 2)[2] for line in lines if line.split(":")[1] == "cpu")


@pytest.mark.skipif(
    not (CPU_V1 / "cgroup.procs").exists() or not os.access(CPU_V1, os.W_OK),
    reason="no writable cgroup v1 cpu hierarchy here",
)
def test_each_role_and_its_children_get_a_group_at_their_weight_and_leave_it_after() -> None:
    # a "database" whose child forks after the placing, and a "simulator" (the least weight)
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; sys.stdin.readline(); "
         "subprocess.Popen(['sleep', '30']); time.sleep(30)"],
        stdin=subprocess.PIPE, text=True,
    )  # fmt: skip
    devices = subprocess.Popen(["sleep", "30"])
    roles = [
        ("database", lambda pid, _cmd: pid == parent.pid),
        ("simulator", lambda pid, _cmd: pid == devices.pid),
    ]
    groups = CpuGroups.open(roles, {"database": 400})
    child = 0
    try:
        assert groups.place() == {"database": 1, "simulator": 1}
        base = groups.base
        assert base is not None
        assert (base / "database" / "cpu.shares").read_text().strip() == "4096"  # 400 x 1024/100
        assert (base / "simulator" / "cpu.shares").read_text().strip() == "2"
        assert _cpu_group(parent.pid) == f"/{base.name}/database"
        assert _cpu_group(devices.pid) == f"/{base.name}/simulator"
        assert parent.stdin is not None
        parent.stdin.write("\n")
        parent.stdin.flush()
        children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
        wait_until(lambda: bool(children.read_text().split()), 10, "the late child")
        (child,) = (int(p) for p in children.read_text().split())
        assert _cpu_group(child) == f"/{base.name}/database"  # forked later: inherited
        assert "database 400" in groups.describe()
        groups.close()  # everything back where it was, the groups gone
        assert _cpu_group(devices.pid) == _cpu_group(child) == "/"
        assert not base.exists()
    finally:
        groups.close()  # again: a no-op
        if child:
            os.kill(child, signal.SIGKILL)  # an orphan once its parent is gone
        parent.kill()
        devices.kill()
        parent.wait()
        devices.wait()
        if parent.stdin is not None:
            parent.stdin.close()
