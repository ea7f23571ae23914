"""The alarm as the contract shows it (../shared/CONTRACT.md section 3), from a database row.

Shared by the API and the ingestor's webhook events, so both say exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.core.severity import COLORS

# Chinese warning levels (一级 red ... 四级 blue), for people who read the standards' terms.
LEVELS_ZH = {"critical": "一级", "major": "二级", "minor": "三级", "warning": "四级"}


def rfc3339(moment: datetime | None) -> str | None:
    """UTC with a ``Z``, as every time the API gives out."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alarm_document(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "park_id": row["park_id"],
        "device_id": row["device_id"],
        "metric": row["metric"] or None,
        "type": row["type"],
        "severity": row["severity"],
        "color": COLORS[row["severity"]],
        "active": row["active"],
        "acknowledged": row["acknowledged"],
        "raised_at": rfc3339(row["raised_at"]),
        "cleared_at": rfc3339(row["cleared_at"]),
        "acknowledged_at": rfc3339(row["acknowledged_at"]),
        "value": row["value"],
        "peak_value": row["peak_value"],
        "threshold": row["threshold"],
        "count": row["count"],
        "latched": row["latched"],
        "shelved_until": rfc3339(row["shelved_until"]),
        "suppressed": row.get("suppressed"),
    }
