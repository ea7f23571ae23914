"""Print the settings reference of docs/operations.md from ``app.core.config.Settings``.

    python scripts/settings_table.py          # print the markdown table
    python scripts/settings_table.py --write  # replace the table in docs/operations.md

The table sits between the two marker comments below in docs/operations.md;
tests/test_docs.py fails when it differs from what this script prints, so a setting added,
removed or redescribed in config.py shows up as a failing test until the page is regenerated.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.config import Settings  # noqa: E402

PAGE = ROOT / "docs" / "operations.md"
START = "<!-- settings-table:start (scripts/settings_table.py --write) -->"
END = "<!-- settings-table:end -->"


def iso_duration(value: timedelta) -> str:
    """An ISO 8601 duration in whole days, else hours, minutes and seconds (P7D, PT8H, PT90S)."""
    seconds = int(value.total_seconds())
    if seconds and seconds % 86400 == 0:
        return f"P{seconds // 86400}D"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n]
    return "PT" + ("".join(parts) or "0S")


def render_default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, timedelta):
        return iso_duration(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        items = [iso_duration(v) if isinstance(v, timedelta) else v for v in value]
        return json.dumps(items, separators=(",", ":"))
    return str(value)


def row(name: str, field: FieldInfo) -> str:
    meaning = (field.description or "").replace("|", "\\|")
    return f"| `PARKTWIN_{name.upper()}` | `{render_default(field.default)}` | {meaning} |"


def settings_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [row(name, field) for name, field in Settings.model_fields.items()]
    return "\n".join(lines)


def write(page: Path = PAGE) -> None:
    text = page.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    page.write_text(f"{head}{START}\n{settings_table()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        sys.stdout.write(settings_table() + "\n")
