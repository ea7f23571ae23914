"""The simulator's MQTT packets: lengths and packets parse back to what was built."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from sensors_sim.mqtt import Connection, connect_packet, encode_length, publish_packet, topic_field


def decode_length(data: bytes) -> tuple[int, int]:
    value, multiplier = 0, 1
    for used, byte in enumerate(data, start=1):
        value += (byte & 0x7F) * multiplier
        multiplier *= 128
        if not byte & 0x80:
            return value, used
    raise AssertionError("unterminated length")


@given(st.integers(0, 268_435_455))
def test_remaining_length_round_trips(n: int) -> None:
    encoded = encode_length(n)
    assert len(encoded) <= 4 and decode_length(encoded) == (n, len(encoded))


@settings(deadline=None)
@given(st.binary(max_size=70_000), st.sampled_from([0, 1]), st.integers(1, 65_535))
def test_publish_packets_parse_back(payload: bytes, qos: int, packet_id: int) -> None:
    topic = "parks/demo/devices/b07-gd0003/telemetry"
    packet = publish_packet(topic_field(topic), payload, qos, packet_id)
    assert packet[0] == 0x30 | qos << 1
    length, used = decode_length(packet[1:])
    body = packet[1 + used :]
    assert len(body) == length
    (topic_length,) = struct.unpack("!H", body[:2])
    assert body[2 : 2 + topic_length].decode() == topic
    rest = body[2 + topic_length :]
    if qos:
        assert struct.unpack("!H", rest[:2]) == (packet_id,)
        rest = rest[2:]
    assert rest == payload


def test_connection_parses_split_packets() -> None:
    conn = Connection(0, "c", "u", "p", "s")
    stream = b"\x20\x02\x00\x00" + b"\x40\x02\x00\x07" + b"\xd0\x00"
    packets = []
    for i in range(len(stream)):  # byte by byte, as TCP may deliver them
        conn.inbuf += stream[i : i + 1]
        packets += conn.parse()
    assert packets == [(0x20, b"\x00\x00"), (0x40, b"\x00\x07"), (0xD0, b"")]


def test_connect_packet_carries_the_will() -> None:
    packet = connect_packet("cid", "demo:d1", "secret", "parks/demo/devices/d1/status")
    assert packet[0] == 0x10
    flags = packet[packet.index(b"MQTT") + 5]
    assert flags == 0b1110_1110  # user, password, will retain, will QoS 1, will, clean session
    assert b"parks/demo/devices/d1/status" in packet and b"offline" in packet
