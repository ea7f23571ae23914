"""``observe_many`` leaves a histogram exactly as ``observe`` per value would."""

from __future__ import annotations

import math
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

from ingest.metrics import LAG_BUCKETS, PROMETHEUS, check_prometheus, observe_many

# bucket bounds themselves, values between them, zero, negatives and past the last bound
values = st.lists(
    st.one_of(
        st.sampled_from([*LAG_BUCKETS, 0.0]),
        st.floats(min_value=-1.0, max_value=120.0, allow_nan=False),
    ),
    max_size=200,
)


def _histogram() -> tuple[CollectorRegistry, Histogram]:
    registry = CollectorRegistry()
    return registry, Histogram("lag_seconds", "lag", buckets=LAG_BUCKETS, registry=registry)


@given(values, values)
def test_observe_many_matches_observe(first: list[float], second: list[float]) -> None:
    one_by_one, expected = _histogram()
    many, actual = _histogram()
    for batch in (first, second):
        for value in batch:
            expected.observe(value)
        observe_many(actual, batch)
    got, want = _samples(many), _samples(one_by_one)
    assert {k: v for k, v in got.items() if k != "sum"} == {
        k: v for k, v in want.items() if k != "sum"
    }
    assert math.isclose(got["sum"], want["sum"], rel_tol=1e-9, abs_tol=1e-9)


def _samples(registry: CollectorRegistry) -> dict[str, float]:
    """Bucket counts, count and sum (not ``_created``, a time)."""
    out: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                out[f"le={sample.labels['le']}"] = sample.value
            elif sample.name.endswith(("_count", "_sum")):
                out[sample.name.rsplit("_", 1)[1]] = sample.value
    return out


def test_the_installed_prometheus_client_has_what_observe_many_uses() -> None:
    check_prometheus()  # also ran at import
    root = Path(__file__).resolve().parent.parent
    with (root / "pyproject.toml").open("rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    assert f"prometheus-client{PROMETHEUS.pin}" in dependencies


def test_a_histogram_without_the_internals_is_refused_clearly() -> None:
    class Rewritten(Histogram):  # observe no longer goes through _buckets
        def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
            self._counts[0] += amount  # type: ignore[attr-defined]

    with pytest.raises(ImportError) as excinfo:
        check_prometheus(Rewritten)
    message = str(excinfo.value)
    assert "_upper_bounds in Rewritten.observe() is missing" in message
    assert f"prometheus-client {version('prometheus-client')}" in message
    assert "prometheus-client>=0.20" in message and "ingest/metrics.py" in message
