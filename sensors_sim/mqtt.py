"""A minimal MQTT 3.1.1 device client for the simulator: many connections, one thread.

Each simulated device is a TCP connection of its own, logged in with its own account and a last
will (``offline``, retained, QoS 1, on its status topic). Packets are built as bytes and
written in batches through non-blocking sockets watched by one ``selectors`` loop, which is
what lets one Python process drive thousands of devices at tens of thousands of messages a
second (paho's per-client threads and per-message bookkeeping would not). Only what a
publishing device needs is spoken: CONNECT/CONNACK, PUBLISH (QoS 0 and 1)/PUBACK,
PINGREQ/PINGRESP and DISCONNECT.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import struct
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

CONNACK, PUBACK, PINGRESP = 0x20, 0x40, 0xD0
PINGREQ, DISCONNECT = b"\xc0\x00", b"\xe0\x00"
MAX_BUFFER = 4 << 20  # bytes queued on one connection before the publisher waits


def encode_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def connect_packet(
    client_id: str,
    username: str,
    password: str,
    will_topic: str,
    will_payload: bytes = b"offline",
    keepalive: int = 60,
) -> bytes:
    """CONNECT with a clean session, credentials and a retained QoS 1 last will."""
    flags = 0x80 | 0x40 | 0x20 | (1 << 3) | 0x04 | 0x02
    body = (
        _string(b"MQTT")
        + bytes([4, flags])
        + struct.pack("!H", keepalive)
        + _string(client_id.encode())
        + _string(will_topic.encode())
        + _string(will_payload)
        + _string(username.encode())
        + _string(password.encode())
    )
    return b"\x10" + encode_length(len(body)) + body


def publish_packet(
    topic: bytes, payload: bytes, qos: int = 0, packet_id: int = 0, retain: bool = False
) -> bytes:
    """PUBLISH; ``topic`` is already length-prefixed (see :func:`topic_field`)."""
    header = 0x30 | (qos << 1) | int(retain)
    if qos:
        body_length = len(topic) + 2 + len(payload)
        return (
            bytes([header])
            + encode_length(body_length)
            + topic
            + struct.pack("!H", packet_id)
            + payload
        )
    return bytes([header]) + encode_length(len(topic) + len(payload)) + topic + payload


def topic_field(topic: str) -> bytes:
    return _string(topic.encode())


@dataclass(eq=False)
class Connection:
    """One device's connection: its socket, what is queued for it, what it awaits."""

    index: int
    client_id: str
    username: str
    password: str
    status_topic: str
    sock: socket.socket | None = None
    out: bytearray = field(default_factory=bytearray)
    inbuf: bytearray = field(default_factory=bytearray)
    connected: bool = False
    refused: int = 0  # the CONNACK's return code when the broker said no
    next_id: int = 0
    unacked: int = 0
    acked: int = 0
    active: bool = False  # sent something since the last keep-alive round

    def packet_id(self) -> int:
        self.next_id = self.next_id % 65_535 + 1
        return self.next_id

    def queue_publish(self, topic: bytes, payload: bytes, qos: int, retain: bool = False) -> None:
        packet_id = self.packet_id() if qos else 0
        self.out += publish_packet(topic, payload, qos, packet_id, retain)
        self.active = True
        if qos:
            self.unacked += 1

    def parse(self) -> list[tuple[int, bytes]]:
        """Whole packets received so far, as (type byte, body)."""
        packets: list[tuple[int, bytes]] = []
        buf = self.inbuf
        while len(buf) >= 2:
            length, multiplier, pos = 0, 1, 1
            while True:
                if pos >= len(buf):
                    return packets
                byte = buf[pos]
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
                pos += 1
                if not byte & 0x80:
                    break
            if len(buf) < pos + length:
                break
            packets.append((buf[0] & 0xF0, bytes(buf[pos : pos + length])))
            del buf[: pos + length]
        return packets


# Connections from one source address to one broker address and port are limited by the
# ephemeral ports (Linux: 32768-60999 by default); on loopback, further source addresses of
# 127.0.0.0/8 give room for more (a 100,000-device park needs four).
PER_SOURCE = 25_000


class Transport:
    """The selector loop over every connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.selector = selectors.DefaultSelector()
        self.closed = 0  # connections the broker closed on us
        self.opened = 0

    def _source(self) -> tuple[str, int] | None:
        """A loopback source address of its own for each ``PER_SOURCE`` connections."""
        n = self.opened // PER_SOURCE
        if n == 0 or not self.host.startswith("127."):
            return None
        return (f"127.0.{n // 250}.{n % 250 + 2}", 0)

    def open(self, conn: Connection, keepalive: int) -> None:
        sock = socket.create_connection(
            (self.host, self.port), timeout=10, source_address=self._source()
        )
        self.opened += 1
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn.sock, conn.connected, conn.refused = sock, False, 0
        conn.out = bytearray(
            connect_packet(
                conn.client_id, conn.username, conn.password, conn.status_topic, keepalive=keepalive
            )
        )
        conn.inbuf.clear()
        conn.unacked = 0
        self.selector.register(sock, selectors.EVENT_READ, conn)

    def drop(self, conn: Connection, goodbye: bool = False) -> None:
        """Close the connection; without ``goodbye`` the broker publishes the last will."""
        if conn.sock is None:
            return
        if goodbye:
            with contextlib.suppress(OSError):
                conn.sock.send(DISCONNECT)
        self.selector.unregister(conn.sock)
        conn.sock.close()
        conn.sock, conn.connected = None, False
        conn.out.clear()

    def flush(self, conn: Connection) -> None:
        if conn.sock is None or not conn.out:
            return
        try:
            sent = conn.sock.send(conn.out)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._lost(conn)
            return
        del conn.out[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.out else 0)
        self.selector.modify(conn.sock, events, conn)

    def poll(self, timeout: float) -> None:
        for key, mask in self.selector.select(timeout):
            conn: Connection = key.data
            if mask & selectors.EVENT_READ:
                self._read(conn)
            if mask & selectors.EVENT_WRITE and conn.sock is not None:
                self.flush(conn)

    def _read(self, conn: Connection) -> None:
        assert conn.sock is not None
        try:
            data = conn.sock.recv(65_536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._lost(conn)
            return
        conn.inbuf += data
        for kind, body in conn.parse():
            if kind == PUBACK:
                conn.unacked -= 1
                conn.acked += 1
            elif kind == CONNACK:
                conn.refused = body[1] if len(body) > 1 else 0
                conn.connected = conn.refused == 0
                if conn.refused:
                    logger.warning("broker refused device %s: code %s", conn.username, conn.refused)
                    self.drop(conn)
                    return
                status = topic_field(conn.status_topic)
                conn.queue_publish(status, b"online", 1, retain=True)  # the will's counterpart
                self.flush(conn)

    def _lost(self, conn: Connection) -> None:
        if conn.connected:
            self.closed += 1
            logger.warning("broker closed the connection of %s", conn.username)
        self.drop(conn)
