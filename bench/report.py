"""docs/benchmarks.md: every benchmark rewrites its own section and leaves the others alone."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
PREAMBLE = "# Benchmarks\n\nLatest results of the one-command benchmarks in bench/.\n"


def replace_section(heading: str, section: str, path: Path = RESULTS) -> None:
    """Put ``section`` (which starts with ``heading``, a ``## `` line) in place of the old
    section under that heading, or at the end when there is none."""
    text = path.read_text() if path.exists() else PREAMBLE
    body = section.rstrip("\n") + "\n"
    start = text.find(heading + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        following = text.find("\n## ", start + len(heading))
        text = text[:start] + body + ("\n" + text[following + 1 :] if following != -1 else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
