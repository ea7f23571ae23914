"""The read API benchmark: ``.venv/bin/python -m bench.api`` (see docs/development.md, docs/benchmarks.md)."""
