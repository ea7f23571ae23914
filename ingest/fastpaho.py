"""A paho client that reads the socket in large chunks.

Stock paho 2.x reads every packet with three ``recv()`` calls (command byte, length bytes,
body) and handles a single packet per ``select()`` round when no QoS 2 traffic is pending. With
thousands of small messages a second those system calls are most of a subscriber's cost. This
subclass serves paho's small reads from a 256 KiB buffer and keeps handling packets while the
buffer holds data, which doubles the receive rate on our benchmark machine (docs/benchmarks.md).

With manual acknowledgements, paho's ``ack()`` queues each PUBACK as a packet of its own and
wakes the network thread once per message (a write to its wake-up socket pair, then a
``send()`` per PUBACK). ``ack_many()`` queues a whole batch's PUBACKs as one write.

It overrides three methods of paho's private API (``_sock_recv``, ``loop_read``, ``reconnect``)
and calls a fourth (``_packet_queue``), so paho is pinned below 2.3 in pyproject.toml,
``check_paho()`` fails the import with a plain ImportError when an installed paho lacks any of
them, and tests/test_fastpaho.py checks the behaviour.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from ingest.internals import Internals

READ_CHUNK = 256 * 1024
PUBACK_PACKET = struct.Struct("!BBH")  # fixed header (type, remaining length 2), packet id
PAHO_PIN = ">=2.1,<2.3"  # as in pyproject.toml (tests/test_fastpaho.py compares them)
PAHO = Internals("ingest/fastpaho.py", "paho-mqtt", PAHO_PIN)


def check_paho(client: type = mqtt.Client) -> None:
    """Raise ImportError unless ``client`` has what BufferedClient overrides and calls."""
    PAHO.method(client, "_sock_recv", "self", "bufsize")
    PAHO.method(client, "loop_read", "self", "max_packets")
    PAHO.method(client, "reconnect", "self")
    PAHO.method(client, "_packet_queue", "self", "command", "packet", "mid", "qos")
    PAHO.uses(client, "_packet_read", "_sock_recv")  # paho still reads through _sock_recv
    PAHO.uses(client, "__init__", "_sock")


check_paho()


class BufferedClient(mqtt.Client):
    _rbuf: bytes = b""
    _rpos: int = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            self._rbuf = super()._sock_recv(READ_CHUNK)  # may raise BlockingIOError
            self._rpos = 0
            if not self._rbuf:
                return b""  # the peer closed the connection
        end = self._rpos + bufsize
        chunk = self._rbuf[self._rpos : end]
        self._rpos = min(end, len(self._rbuf))
        return chunk

    def _buffered(self) -> bool:
        return self._rpos < len(self._rbuf)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        # select() cannot see bytes already in our buffer: handle them all now.
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._buffered() and self._sock is not None:
            rc = super().loop_read(max_packets)
        return rc

    def reconnect(self) -> MQTTErrorCode:
        self._rbuf, self._rpos = b"", 0  # bytes of the old connection mean nothing now
        return super().reconnect()

    def ack_many(self, mids: Sequence[int]) -> None:
        """Acknowledge these QoS 1 messages (``manual_ack=True``) with one queued write."""
        if mids:
            puback = int(mqtt.PUBACK)
            packet = b"".join(PUBACK_PACKET.pack(puback, 2, mid) for mid in mids)
            self._packet_queue(puback, packet, 0, 1)
