"""Live publishing: the stream paced in wall time, sent over each device's own connection.

With ``processes`` > 1 the devices are split by index (device ``i`` goes to process
``i mod processes``) and each process paces its share of the rate; all use the same start.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sensors_sim.layout import generate
from sensors_sim.mqtt import MAX_BUFFER, PINGREQ, Connection, Transport, topic_field
from sensors_sim.scenarios import DeviceOffline
from sensors_sim.stream import Faults, Stream

logger = logging.getLogger(__name__)

FLUSH_S = 0.1  # longest a message waits in its buffer when the publisher runs behind
CONNECT_BATCH = 500  # connections opened before waiting for their CONNACKs (listen backlog)
FLUSH_MESSAGES = 50_000
CONNECT_TIMEOUT_S = 30.0
ACK_WAIT_S = 10.0
RECONNECT_S = 5.0


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class SimOptions:
    park_id: str = "demo"
    layout_seed: int = 1
    devices: int = 2000
    seed: int = 1
    rate: float = 100.0
    duration: float | None = None  # wall seconds; None: until stopped
    count: int | None = None  # messages taken from the stream (per process); None: no limit
    start: float | None = None  # epoch seconds of simulated time at the start; None: now
    speed: float = 1.0
    scenario: str | None = None
    scenario_at: float = 60.0
    scenario_duration: float = 300.0
    faults: bool = True
    qos: int = 1
    processes: int = 1
    keepalive: int = 60
    # At most this many device connections per process (None: every device); the other
    # devices' messages go through ``gateways`` connections of the account ``gateway``
    # (username, password), one allowed to publish for the whole park. Only for benchmarks on
    # a machine whose descriptor limit is below one connection per device: the contract has
    # each device on its own account.
    device_connections: int | None = None
    gateway: tuple[str, str] | None = None
    gateways: int = 4

    def stream(self, start: float, part: int = 0) -> Stream:
        park = generate(self.park_id, self.layout_seed, self.devices)
        indices = [i for i in range(len(park.devices)) if i % self.processes == part]
        return Stream(
            park,
            seed=self.seed,
            start=start,
            rate=self.rate / self.processes,
            speed=self.speed,
            scenario=self.scenario,
            scenario_at=self.scenario_at,
            scenario_duration=self.scenario_duration,
            faults=Faults() if self.faults else Faults.none(),
            devices=indices,
        )


@dataclass
class Report:
    sent: int = 0
    acked: int = 0
    unsent: int = 0  # messages of devices without a connection
    connected: int = 0
    refused: int = 0
    closed: int = 0
    seconds: float = 0.0

    def add(self, other: Report) -> None:
        for name in ("sent", "acked", "unsent", "connected", "refused", "closed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seconds = max(self.seconds, other.seconds)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def gateway_username(base: str, part: int, index: int) -> str:
    """The account of gateway connection ``index`` of simulator process ``part``."""
    return f"{base}-{part}-{index}"


def raise_open_files_limit() -> None:
    """Allow one socket per device, up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Publisher:
    def __init__(
        self, options: SimOptions, host: str, port: int, credentials: dict[str, str], part: int
    ) -> None:
        self.options, self.part = options, part
        self.transport = Transport(host, port)
        self.credentials = credentials
        self.conns: dict[int, Connection] = {}
        self.report = Report()
        self.next_ping = time.monotonic() + max(1, options.keepalive // 2)
        self.next_reconnect = time.monotonic() + RECONNECT_S

    def connect(self, stream: Stream, stop: StopFlag) -> None:
        park, cap = stream.park, self.options.device_connections
        for index in stream.order:
            device = park.devices[index]
            password = self.credentials.get(device.id)
            if password is None:
                continue
            if cap is not None and len(self.conns) >= cap:
                break
            username = f"{park.id}:{device.id}"
            status = f"parks/{park.id}/devices/{device.id}/status"
            # any client id works: the device listener uses the username anyway
            self._open(index, Connection(index, username, username, password, status))
        missing = len(stream.order) - len(self.conns)
        if missing and self.options.gateway is None:
            logger.warning(
                "%d devices have no stored credentials: run `parktwin seed demo`", missing
            )
        elif missing:
            self._open_gateways(stream, stop)
        self._await_connacks(stop)

    def _open(self, index: int, conn: Connection) -> None:
        self.conns[index] = conn
        self.transport.open(conn, self.options.keepalive)
        self.transport.flush(conn)
        if self.transport.opened % CONNECT_BATCH == 0:  # let the broker accept and answer
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(
                c.sock and not c.connected for c in self._recent()
            ):
                self.transport.poll(0.02)

    def _recent(self) -> list[Connection]:
        return list(self.conns.values())[-CONNECT_BATCH:]

    def _open_gateways(self, stream: Stream, stop: StopFlag) -> None:
        """The remaining devices share the gateway connections (round robin)."""
        assert self.options.gateway is not None
        username, password = self.options.gateway
        gateways = []
        for g in range(max(1, self.options.gateways)):
            # an account each: the device listener makes the username the client id, so
            # connections sharing one account would take each other's session over
            name = gateway_username(username, self.part, g)
            gateway = Connection(-1 - g, name, name, password, f"bench/{name}/status")
            self.transport.open(gateway, self.options.keepalive)
            self.transport.flush(gateway)
            gateways.append(gateway)
        rest = [i for i in stream.order if i not in self.conns]
        for n, index in enumerate(rest):
            self.conns[index] = gateways[n % len(gateways)]

    def links(self) -> list[Connection]:
        """Each connection once (gateway connections serve many devices)."""
        return list({id(c): c for c in self.conns.values()}.values())

    def _await_connacks(self, stop: StopFlag) -> None:
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        links = self.links()
        while (
            any(c.sock and not c.connected for c in links)
            and time.monotonic() < deadline
            and not stop.is_set()
        ):
            self.transport.poll(0.05)
        self.report.connected = sum(c.connected for c in links)
        self.report.refused = sum(bool(c.refused) for c in links)
        logger.info(
            "%d devices connected, %d refused (part %d)",
            self.report.connected,
            self.report.refused,
            self.part,
        )

    def run(self, stream: Stream, stop: StopFlag) -> Report:
        """Send each message when it is due. When behind, writes are batched (every
        ``FLUSH_S`` or ``FLUSH_MESSAGES``), so a socket gets several messages per write."""
        options, transport, conns = self.options, self.transport, self.conns
        topics = {i: topic_field(stream.topics[i]) for i in conns}
        dirty: set[Connection] = set()
        offline = stream.scenario if isinstance(stream.scenario, DeviceOffline) else None
        started = time.monotonic()
        end = started + options.duration if options.duration is not None else float("inf")
        housekeeping, next_flush, pending = started + 1.0, started + FLUSH_S, 0
        limit = options.count if options.count is not None else -1
        for message in stream:
            if limit == 0:
                break
            limit -= 1
            now = time.monotonic()
            due = started + message.due
            if due > now or now >= next_flush or pending >= FLUSH_MESSAGES:
                self._flush(dirty)
                next_flush, pending = now + FLUSH_S, 0
                if stop.is_set() or now >= end or due >= end:
                    break
                while (wait := due - time.monotonic()) > 0 and not stop.is_set():
                    transport.poll(min(wait, 0.05))
                transport.poll(0)
                if now >= housekeeping:
                    housekeeping = now + 1.0
                    self._housekeeping(offline, message.due * options.speed)
            conn = conns.get(message.device)
            if conn is None or not conn.connected:
                self.report.unsent += 1
                continue
            conn.queue_publish(topics[message.device], message.payload, options.qos)
            self.report.sent += 1
            pending += 1
            dirty.add(conn)
        self._flush(dirty)
        self._finish()  # everything written (and with QoS 1 acknowledged) counts in the time
        self.report.seconds = time.monotonic() - started
        return self.report

    def _flush(self, dirty: set[Connection]) -> None:
        for conn in dirty:
            self.transport.flush(conn)
            while len(conn.out) > MAX_BUFFER:  # the broker is behind: wait for it
                self.transport.poll(0.01)
        dirty.clear()

    def _housekeeping(self, offline: DeviceOffline | None, s: float) -> None:
        if offline is not None and s >= offline.at:
            for index in offline.targets & set(self.conns):
                if self.conns[index].index == index:  # not a gateway shared with others
                    self.transport.drop(self.conns.pop(index))  # no DISCONNECT: the will fires
        if time.monotonic() >= self.next_reconnect:
            self.next_reconnect = time.monotonic() + RECONNECT_S
            self._reconnect()
        if time.monotonic() >= self.next_ping:  # only connections that sent nothing since
            self.next_ping = time.monotonic() + max(1, self.options.keepalive // 2)
            for conn in self.links():
                if conn.connected and not conn.active:
                    conn.out += PINGREQ
                    self.transport.flush(conn)
                conn.active = False

    def _reconnect(self) -> None:
        """Open again the connections the broker closed (not those it refused)."""
        for conn in self.links():
            if conn.sock is None and not conn.refused:
                try:
                    self.transport.open(conn, self.options.keepalive)
                except OSError:
                    return  # the broker is still away: try again later
                self.transport.flush(conn)

    def _finish(self) -> None:
        """Wait for outstanding QoS 1 acknowledgements, then disconnect cleanly."""
        deadline = time.monotonic() + ACK_WAIT_S
        links = self.links()
        while time.monotonic() < deadline and any(
            c.unacked > 0 or c.out for c in links if c.sock is not None
        ):
            for conn in links:
                self.transport.flush(conn)
            self.transport.poll(0.05)
        for conn in links:
            self.report.acked += conn.acked
            self.transport.drop(conn, goodbye=True)
        self.report.closed = self.transport.closed


def run_part(
    options: SimOptions,
    host: str,
    port: int,
    credentials: dict[str, str],
    start: float,
    part: int,
    stop: StopFlag,
) -> Report:
    raise_open_files_limit()
    stream = options.stream(start, part)
    publisher = Publisher(options, host, port, credentials, part)
    publisher.connect(stream, stop)
    if options.start is None:  # "now" is when publishing starts, after the connections
        stream.start = time.time()
    return publisher.run(stream, stop)


def _child(
    options: SimOptions,
    host: str,
    port: int,
    credentials: dict[str, str],
    start: float,
    part: int,
    stop: StopFlag,
    results: Any,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    results.put(run_part(options, host, port, credentials, start, part, stop))


def publish(
    options: SimOptions,
    host: str,
    port: int,
    credentials: dict[str, str],
    stop: StopFlag,
    on_started: Callable[[], None] | None = None,
) -> Report:
    """Publish until the duration ends or ``stop`` is set; the totals of every process."""
    start = options.start if options.start is not None else time.time()
    if options.processes <= 1:
        return run_part(options, host, port, credentials, start, 0, stop)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    shared_stop = ctx.Event()
    children = [
        ctx.Process(
            target=_child,
            args=(options, host, port, credentials, start, p, shared_stop, results),
        )
        for p in range(options.processes)
    ]
    for child in children:
        child.start()
    if on_started:
        on_started()
    total, received = Report(), 0
    while received < len(children):
        if stop.is_set():
            shared_stop.set()
        try:
            total.add(results.get(timeout=0.2))
            received += 1
        except queue.Empty:
            if not any(c.is_alive() for c in children) and results.empty():
                break
    for child in children:
        child.join()
    return total
