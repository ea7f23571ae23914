"""Import-time checks of the private parts of a library that a module of ours relies on.

ingest/fastpaho.py overrides paho's private methods and ingest/metrics.py updates
prometheus_client's histogram internals. Both libraries are pinned in pyproject.toml, but an
install outside the pin (or a patched library) would otherwise fail later and obscurely, in the
middle of ingest; these checks fail the import instead, with an ImportError naming what is
missing, the installed version and the pin.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version


@dataclass(frozen=True)
class Internals:
    """What ``user`` needs of the distribution ``package`` (tested with ``pin``)."""

    user: str
    package: str
    pin: str

    def method(self, owner: type, name: str, *params: str) -> None:
        """``owner.name`` is a function whose parameters start with ``params``."""
        found = inspect.getattr_static(owner, name, None)
        if not inspect.isfunction(found):
            raise self.missing(f"{owner.__name__}.{name}()")
        actual = tuple(inspect.signature(found).parameters)[: len(params)]
        if actual != params:
            raise self.missing(
                f"{owner.__name__}.{name}({', '.join(params)}) "
                f"(found {owner.__name__}.{name}({', '.join(actual)}))"
            )

    def uses(self, owner: type, method: str, *names: str) -> None:
        """``owner.method`` exists and its code reads or sets each of ``names`` (attribute or
        method names; cheap: the compiled code's name table, no source needed)."""
        self.method(owner, method)
        code = inspect.getattr_static(owner, method).__code__
        for name in names:
            if name not in code.co_names:
                raise self.missing(f"{name} in {owner.__name__}.{method}()")

    def missing(self, what: str) -> ImportError:
        return ImportError(
            f"{self.user} relies on internals of {self.package} that this install lacks: "
            f"{what} is missing in {self.package} {installed_version(self.package)}. "
            f"It is written for {self.package}{self.pin} (pyproject.toml): install a version "
            f"within that pin, or update {self.user}."
        )


def installed_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "(version unknown)"
