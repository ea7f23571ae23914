"""bench/webhook_connections: a webhook POST on a kept-alive connection against a new one each.

    .venv/bin/python -m bench.webhook_connections            # or: make bench-webhook-connections
    .venv/bin/python -m bench.webhook_connections --events 100 --rtt-ms 0,10 --no-report

The worker's own POST (``app.webhooks.delivery.post``: address check, signing, the request, the
answer) to a local HTTPS receiver (HTTP/1.1, a certificate made for the run, a ``204`` per
event), through a relay that holds every chunk for half the round-trip time in each direction,
so a receiver across a network is emulated on loopback. Each round, one event after the other:
the baseline (``Clients`` keeping no connection: a TCP and a TLS handshake per event, as the
worker did before) and the kept-alive clients the worker uses, in alternating rounds in the
same run. Reported per round-trip time: latency per event (p50 / p90 / p99) and the worker's
CPU per event (this process's CPU time; the receiver and the relay run in another process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from app.core.config import Settings
from app.webhooks.clients import Clients
from app.webhooks.delivery import post
from bench.report import replace_section
from tests.webhooks.conftest import claimed

HEADING = "## Webhook connections kept alive (bench/webhook_connections)"
NAME = "receiver.test"
SETTINGS = Settings(webhook_allowed_networks=["127.0.0.0/8"], webhook_allowed_ports="1-65535")
GAS_ALARM = {"device_id": "gas-1", "value": 62.0}  # each event's payload


def certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", f"/CN={NAME}"]
    command += ["-addext", f"subjectAltName=DNS:{NAME}"]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


def serve(cert: Path, key: Path, rtt_ms: list[float], ready: Connection) -> None:
    """The receiver's process: an HTTPS receiver and, per round-trip time, a relay to it."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            # As nginx and Node.js do: no Nagle wait for the ACK of the TLS session tickets.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().setup()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    asyncio.run(relays(server.server_address[1], rtt_ms, ready))


async def relays(port: int, rtt_ms: list[float], ready: Connection) -> None:
    async def pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
    ) -> None:
        """Each chunk leaves ``delay`` after it came, chunks in flight together (a network
        delays them side by side, not one after the other)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(chunk)
                await writer.drain()

        delivering = asyncio.create_task(deliver())
        try:
            while chunk := await reader.read(65536):
                queue.put_nowait((loop.time() + delay, chunk))
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(ConnectionError, OSError):
                await delivering
            writer.close()

    def relay(delay: float) -> Any:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            await asyncio.gather(pipe(reader, up_writer, delay), pipe(up_reader, writer, delay))

        return handle

    servers = [await asyncio.start_server(relay(ms / 2000), "127.0.0.1", 0) for ms in rtt_ms]
    ready.send([s.sockets[0].getsockname()[1] for s in servers])
    await asyncio.Event().wait()


async def loopback(_host: str, _port: int) -> list[str]:
    return ["127.0.0.1"]


async def round_of(clients: Clients, url: str, events: int) -> tuple[list[float], float]:
    """``events`` POSTs one after the other: their latencies (ms) and this process's CPU (s)."""
    times: list[float] = []
    cpu = time.process_time()
    for _ in range(events):
        started = time.perf_counter()
        result = await post(clients, claimed(url, "alarm.raised", GAS_ALARM), SETTINGS, loopback)
        times.append((time.perf_counter() - started) * 1000)
        if not result.ok:
            raise RuntimeError(f"the receiver refused an event: {result}")
    return times, time.process_time() - cpu


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    cert: Path, ports: list[int], rtt_ms: list[float], events: int, rounds: int
) -> list[str]:
    trusted = ssl.create_default_context(cafile=str(cert))
    timeout = SETTINGS.webhook_timeout.total_seconds()
    rows = []
    for ms, port in zip(rtt_ms, ports, strict=True):
        url = f"https://{NAME}:{port}/hook"
        modes = {
            "new connection each (before)": lambda: Clients(timeout, keep=0, verify=trusted),
            "kept alive (now)": lambda: Clients(timeout, verify=trusted),
        }
        seen: dict[str, tuple[list[float], float]] = {m: ([], 0.0) for m in modes}
        for _ in range(rounds):
            for mode, make in modes.items():
                clients = make()
                try:
                    times, cpu = await round_of(clients, url, events)
                finally:
                    await clients.aclose()
                seen[mode] = (seen[mode][0] + times, seen[mode][1] + cpu)
        for mode, (times, cpu) in seen.items():
            rows.append(
                f"| {ms:g} | {mode} | {len(times)} | {quantile(times, 0.5):.1f} / "
                f"{quantile(times, 0.9):.1f} / {quantile(times, 0.99):.1f} | "
                f"{cpu / len(times) * 1e6:,.0f} |"
            )
    return rows


def run(events: int, rounds: int, rtt_ms: list[float]) -> list[str]:
    """The table's rows: a certificate, the receiver and its relays in a process of their
    own, then the rounds."""
    with tempfile.TemporaryDirectory(prefix="parktwin-bench-tls-") as folder:
        cert, key = certificate(Path(folder))
        mine, theirs = multiprocessing.Pipe()
        receiver = multiprocessing.get_context("spawn").Process(
            target=serve, args=(cert, key, rtt_ms, theirs), daemon=True
        )
        receiver.start()
        try:
            ports = mine.recv()
            return asyncio.run(measure(cert, ports, rtt_ms, events, rounds))
        finally:
            receiver.terminate()
            receiver.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200, help="events per round and mode")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per mode")
    parser.add_argument("--rtt-ms", default="0,10,40", help="emulated round-trip times, ms")
    parser.add_argument("--no-report", action="store_true", help="print only")
    args = parser.parse_args()
    rtt_ms = [float(v) for v in args.rtt_ms.split(",")]
    load_before = os.getloadavg()[0]
    started = datetime.now(UTC)
    rows = run(args.events, args.rounds, rtt_ms)
    load_after = os.getloadavg()[0]
    section = "\n".join(
        [
            HEADING,
            "",
            f"Run {started:%Y-%m-%d %H:%M} UTC with `.venv/bin/python -m bench.webhook_connections"
            f" --events {args.events} --rounds {args.rounds} --rtt-ms {args.rtt_ms}` on this "
            f"machine ({os.cpu_count()} cores, {platform.machine()}; load average "
            f"{load_before:.1f} before, {load_after:.1f} after). The worker's POST "
            "(`app.webhooks.delivery.post`: address check, signing, request, answer) to a local "
            "HTTPS receiver (HTTP/1.1, RSA 2048 certificate, TLS 1.3, `204` per event) in a "
            "process of its own, through a relay that holds each chunk for half the round-trip "
            "time each way (a receiver across a network, emulated on loopback); events one "
            "after the other, the two modes in alternating rounds of the same run. CPU: this "
            "process's CPU time per event (the worker's side; the receiver's is not in it).",
            "",
            "| round trip ms | connections | events | latency p50 / p90 / p99 ms "
            "| worker CPU µs per event |",
            "|---:|---|---:|---:|---:|",
            *rows,
        ]
    )
    print(section)
    if not args.no_report:
        replace_section(HEADING, section)


if __name__ == "__main__":
    main()
