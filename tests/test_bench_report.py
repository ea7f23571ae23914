"""Benchmarks share docs/benchmarks.md: each rewrites its own section only."""

from __future__ import annotations

from pathlib import Path

from bench.report import replace_section


def test_a_section_is_added_then_replaced_and_the_others_stay(tmp_path: Path) -> None:
    path = tmp_path / "docs" / "benchmarks.md"
    replace_section("## API (bench/api)", "## API (bench/api)\n\nold numbers\n", path)
    replace_section("## Spatial", "## Spatial\n\nspatial numbers", path)
    replace_section("## API (bench/api)", "## API (bench/api)\n\nnew numbers\n", path)
    text = path.read_text()
    assert text.startswith("# Benchmarks\n")
    assert "old numbers" not in text and text.count("## API (bench/api)") == 1
    assert text.index("new numbers") < text.index("## Spatial")  # kept in its place
    assert text.endswith("## Spatial\n\nspatial numbers\n")


def test_a_heading_that_prefixes_another_is_not_confused_with_it(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    replace_section("## Ingest (bench/ingest)", "## Ingest (bench/ingest)\n\ningest", path)
    replace_section("## Ingest", "## Ingest\n\nother", path)
    text = path.read_text()
    assert "## Ingest (bench/ingest)\n\ningest" in text and text.endswith("## Ingest\n\nother\n")
