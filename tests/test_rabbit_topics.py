"""RabbitMQ's MQTT plugin routes ``/`` as ``.``: the ingest side reads the topic back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.broker.rabbit import device_write_pattern, to_routing_key
from ingest.amqp import to_topic

ids = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True).filter(
    lambda s: ".devices." not in f".{s}."
)


@given(ids, ids, st.sampled_from(["telemetry", "status"]))
def test_a_device_topic_survives_the_routing_key(park: str, device: str, kind: str) -> None:
    topic = f"parks/{park}/devices/{device}/{kind}"
    assert to_topic(to_routing_key(topic)) == topic


def test_dots_in_ids_stay_dots() -> None:
    assert to_routing_key("parks/p.1/devices/d.2/telemetry") == "parks.p.1.devices.d.2.telemetry"


def test_a_device_may_write_only_its_own_keys() -> None:
    import re

    pattern = re.compile(device_write_pattern("p.1", "d.2"))
    assert pattern.match("parks.p.1.devices.d.2.telemetry")
    assert pattern.match("parks.p.1.devices.d.2.status")
    assert not pattern.match("parks.p.1.devices.dx2.telemetry")  # '.' is not a wildcard
    assert not pattern.match("parks.p.1.devices.d.2.telemetry.x")
    assert not pattern.match("parks.p.1.devices.other.telemetry")
