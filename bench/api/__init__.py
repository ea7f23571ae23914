"""The read API benchmark: ``.venv/bin/python -m bench.api`` (see README, docs/benchmarks.md)."""
