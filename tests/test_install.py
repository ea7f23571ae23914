"""Provisioning plans: what is missing, what a non-root user is told to run, that apt is only
ever asked to install what is missing (never to upgrade), and how steps report progress and
failures (with fake steps: no real apt run here)."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest

from app.embedded import install

EVERYTHING_MISSING = {
    "pg_bindir": lambda: None,
    "mosquitto_binary": lambda: None,
    "timescaledb_installed": lambda major: False,
    "package_installed": lambda name: False,
}


@pytest.fixture(autouse=True)
def font_present(monkeypatch: pytest.MonkeyPatch) -> None:
    """The steps below are about the services; the font step has its own test."""
    monkeypatch.setattr(install, "cjk_font_installed", lambda: True)


def test_a_missing_chinese_font_is_installed_for_the_pdf_reports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(install, "pg_bindir", lambda: Path("/usr/lib/postgresql/15/bin"))
    monkeypatch.setattr(install, "debian_major", lambda: 13)
    monkeypatch.setattr(install, "timescaledb_installed", lambda major: True)
    monkeypatch.setattr(install, "package_installed", lambda name: name != install.CJK_FONT)
    monkeypatch.setattr(install, "cjk_font_installed", lambda: False)
    for present in ("mosquitto_binary", "dynsec_plugin", "mosquitto_ctrl_binary"):
        monkeypatch.setattr(install, present, lambda: Path("/usr/sbin/there"))
    steps = install.plan(Path("/tmp/unused"))
    assert [s.why for s in steps] == [
        "updating the package lists",
        "installing a Chinese font for the PDF reports",
    ]
    assert "fonts-wqy-microhei" in steps[1].commands[-1]
    assert "--no-upgrade" in steps[1].commands[-1]


def missing_everything(monkeypatch: pytest.MonkeyPatch, release: int) -> None:
    for name, fake in EVERYTHING_MISSING.items():
        monkeypatch.setattr(install, name, fake)
    monkeypatch.setattr(install, "debian_major", lambda: release)


def apt_invocations(steps: list[install.Step]) -> list[list[str]]:
    """Every apt-get command line of the plan, as words."""
    words = [shlex.split(part) for s in steps for c in s.commands for part in c.split("&&")]
    return [w[w.index("apt-get") :] for w in words if "apt-get" in w]


def test_this_machine_has_everything_after_make_test() -> None:
    assert install.plan(Path("/tmp/unused")) == []


def test_debian_12_builds_timescaledb_from_trixie_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "debian_major", lambda: 12)
    monkeypatch.setattr(install, "timescaledb_installed", lambda major: False)
    steps = install.plan(Path("/srv/b"))
    text = "\n".join(c for s in steps for c in s.commands)
    assert "trixie main" in text
    assert "apt-get -o Dir::Etc::SourceList=/srv/b/apt/sources.list" in text
    assert "source timescaledb" in text
    assert "-DAPACHE_ONLY=1" in text and "make install" in text


def test_debian_13_installs_the_packaged_timescaledb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "debian_major", lambda: 13)
    monkeypatch.setattr(install, "pg_bindir", lambda: Path("/usr/lib/postgresql/17/bin"))
    monkeypatch.setattr(install, "timescaledb_installed", lambda major: False)
    monkeypatch.setattr(install, "package_installed", lambda name: False)
    steps = install.plan(Path("/srv/b"))
    assert apt_invocations(steps)[-1][-1] == "postgresql-17-timescaledb"


@pytest.mark.parametrize("release", [12, 13])
def test_apt_installs_only_and_never_upgrades(
    monkeypatch: pytest.MonkeyPatch, release: int
) -> None:
    missing_everything(monkeypatch, release)
    steps = install.plan(Path("/srv/b"))
    assert steps[0].commands == ("apt-get update",)
    invocations = apt_invocations(steps)
    installs = [w for w in invocations if w[1] == "install"]
    assert installs
    for words in invocations:
        assert "upgrade" not in words and "dist-upgrade" not in words
        assert "full-upgrade" not in words and "--only-upgrade" not in words
    for words in installs:
        assert words[:3] == ["apt-get", "install", "-y"]
        assert "--no-install-recommends" in words and "--no-upgrade" in words


def test_packages_already_installed_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    missing_everything(monkeypatch, 12)
    monkeypatch.setattr(install, "pg_bindir", lambda: Path("/usr/lib/postgresql/15/bin"))
    there = {"mosquitto", "cmake", "gcc", "make"}
    monkeypatch.setattr(install, "package_installed", lambda name: name in there)
    steps = install.plan(Path("/srv/b"))
    installs = [w for w in apt_invocations(steps) if w[1] == "install"]
    packages = [p for w in installs for p in w[2:] if not p.startswith("-")]
    assert packages == [
        "mosquitto-clients",
        "postgresql-server-dev-15",
        "libssl-dev",
        "dpkg-dev",
        "xz-utils",
    ]


def test_nothing_to_install_needs_no_package_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """A binary missing while its package is installed: apt could not help, so no step."""
    monkeypatch.setattr(install, "mosquitto_binary", lambda: None)
    monkeypatch.setattr(install, "package_installed", lambda name: True)
    assert install.plan(Path("/srv/b")) == []


def test_package_installed_asks_dpkg() -> None:
    assert install.package_installed("dpkg")
    assert not install.package_installed("parktwin-no-such-package")


def test_non_root_gets_the_exact_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "mosquitto_binary", lambda: None)
    monkeypatch.setattr(install, "package_installed", lambda name: False)
    monkeypatch.setattr(install.os, "geteuid", lambda: 1000)
    with pytest.raises(install.MissingDependencies) as excinfo:
        install.ensure_installed(Path("/srv/b"), Path("/srv/install.log"))
    message = str(excinfo.value)
    assert "apt-get update" in message
    assert (
        "apt-get install -y --no-install-recommends --no-upgrade mosquitto mosquitto-clients"
        in message
    )


def test_steps_print_one_line_each_and_log_their_output(tmp_path: Path) -> None:
    steps = [
        install.Step("saying hello", ("echo hello-from-step-one",)),
        install.Step("saying goodbye", ("echo goodbye >&2", "echo second-command")),
    ]
    out = io.StringIO()
    log = tmp_path / "state" / "install.log"
    install.run_steps(steps, tmp_path, log, out)
    printed = out.getvalue().splitlines()
    assert len(printed) == 2
    assert re.fullmatch(r"\[1/2\] saying hello \.\.\. done \(\d+ s\)", printed[0])
    assert re.fullmatch(r"\[2/2\] saying goodbye \.\.\. done \(\d+ s\)", printed[1])
    assert "hello-from-step-one" not in out.getvalue()
    logged = log.read_text()
    assert "$ echo hello-from-step-one\nhello-from-step-one\n" in logged
    assert "goodbye\n" in logged and "second-command\n" in logged


def test_a_failed_step_names_the_log_and_shows_its_tail(tmp_path: Path) -> None:
    noisy = "for i in $(seq 1 30); do echo line-$i; done; false"
    steps = [
        install.Step("warming up", ("echo ok",)),
        install.Step("breaking", (noisy, "echo never-run")),
        install.Step("never reached", ("echo unreachable",)),
    ]
    out = io.StringIO()
    log = tmp_path / "install.log"
    with pytest.raises(install.InstallFailed) as excinfo:
        install.run_steps(steps, tmp_path, log, out)
    printed = out.getvalue().splitlines()
    assert len(printed) == 2
    assert re.fullmatch(r"\[2/3\] breaking \.\.\. failed \(\d+ s\)", printed[1])
    message = str(excinfo.value)
    assert "step 2/3 (breaking)" in message and "exited with status 1" in message
    assert str(log.resolve()) in message
    tail = message.split("lines:\n", 1)[1].splitlines()
    assert len(tail) == 20
    assert tail[-2:] == ["line-30", "# exited with status 1"]
    assert tail[0] == "line-12"  # the last 20 lines: 19 of the output and the status
    assert "never-run" not in log.read_text() and "unreachable" not in log.read_text()
    assert isinstance(excinfo.value, install.MissingDependencies)  # the CLI reports it
