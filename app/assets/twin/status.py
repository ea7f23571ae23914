"""Status roll-up, pure: an asset is as bad as the worst thing it contains.

Order, worst first: an open alarm by severity (critical > major > minor > warning), then
offline, then maintenance, then unknown (a device that has never reported: installed but not
heard from, worth a look), then normal. The things counted ("leaves") are devices, equipment
not watched by a device (a watched one is its device), and spaces under maintenance; an asset
with none is normal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from app.core.severity import SEVERITIES, Severity

Status = Severity | Literal["offline", "maintenance", "unknown", "normal"]
STATUSES: tuple[Status, ...] = (*SEVERITIES, "offline", "maintenance", "unknown", "normal")
RANK: dict[Status, int] = {s: i for i, s in enumerate(STATUSES)}


def worst(statuses: Iterable[str]) -> Status:
    """The worst of the statuses, or normal for none."""
    ranks = [RANK[s] for s in statuses]  # type: ignore[index]
    return STATUSES[min(ranks, default=RANK["normal"])]


@dataclass
class Rollup:
    """The counts per status of the leaves under one asset, and its status."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, status: str, n: int = 1) -> None:
        self.counts[status] += n

    @property
    def status(self) -> Status:
        return worst(s for s, n in self.counts.items() if n)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "counts": {s: self.counts[s] for s in STATUSES}}


def rollup(statuses: Iterable[str]) -> Rollup:
    result = Rollup()
    for status in statuses:
        result.add(status)
    return result
