"""Connections kept alive per pinned origin (app/webhooks/clients.py): a busy receiver gets its
events on one connection, a connection checked for one host name never carries a request for
another name at the same address, a kept connection the receiver closed under a request costs
one more try on a new connection and not a failed attempt, and the clients are bounded. Real
receivers on loopback (HTTP/1.1, TLS with a certificate made for the test); the resolver (the
outside world's DNS) is a function handed in."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from app.core.config import Settings
from app.webhooks.clients import Clients
from app.webhooks.delivery import post
from app.webhooks.guard import Target
from app.webhooks.queue import Result
from tests.webhooks.conftest import Receiver, claimed

SETTINGS = Settings(webhook_allowed_networks=["127.0.0.0/8"], webhook_allowed_ports="1-65535")
NAMES = ("receiver.test", "also.test")  # the certificate's names; other.test is not one


async def loopback(_host: str, _port: int) -> list[str]:
    return ["127.0.0.1"]


def post_all(clients: Clients, urls: list[str], settings: Settings = SETTINGS) -> list[Result]:
    """POST one event to each URL in turn on the same clients (as the worker does)."""

    async def run() -> list[Result]:
        try:
            return [await post(clients, claimed(url), settings, loopback) for url in urls]
        finally:
            await clients.aclose()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", f"/CN={NAMES[0]}"]
    command += ["-addext", "subjectAltName=" + ",".join(f"DNS:{n}" for n in NAMES)]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_receiver(certificate: tuple[Path, Path]) -> Iterator[tuple[Receiver, list[str]]]:
    """An HTTP/1.1 receiver over TLS, and the server names of its handshakes."""
    handshakes: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.sni_callback = lambda _sock, name, _ctx: handshakes.append(str(name)) and None
    receiver = Receiver(tls=context, keep_alive=True).start()
    yield receiver, handshakes
    receiver.stop()


@pytest.fixture
def kept() -> Iterator[Receiver]:
    receiver = Receiver(keep_alive=True).start()
    yield receiver
    receiver.stop()


def trusting(certificate: tuple[Path, Path], **options: float) -> Clients:
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    return Clients(SETTINGS.webhook_timeout.total_seconds(), verify=trusted, **options)


def test_events_to_one_receiver_share_one_kept_connection(
    tls_receiver: tuple[Receiver, list[str]], certificate: tuple[Path, Path]
) -> None:
    receiver, handshakes = tls_receiver
    url = f"https://receiver.test:{receiver.port}/hook"
    results = post_all(trusting(certificate), [url, url, url])
    assert [(r.status_code, r.error) for r in results] == [(200, None)] * 3
    assert len(receiver.requests) == 3
    assert len({r.peer for r in receiver.requests}) == 1  # one connection
    assert handshakes == ["receiver.test"]  # one TLS handshake


def test_a_connection_checked_for_one_name_never_carries_another_name(
    tls_receiver: tuple[Receiver, list[str]], certificate: tuple[Path, Path]
) -> None:
    """Three names at the same address and port: each valid name gets a connection (and a
    certificate check) of its own; other.test, which the certificate does not name, fails its
    own check although a connection verified for receiver.test is open to the same address."""
    receiver, handshakes = tls_receiver
    first, also, other = (f"https://{n}:{receiver.port}/hook" for n in (*NAMES, "other.test"))
    results = post_all(trusting(certificate), [first, also, other, first, also])
    assert [(r.status_code, r.error) for r in results] == [
        (200, None),
        (200, None),
        (None, "tls_error"),
        (200, None),
        (200, None),
    ]
    hosts = [r.headers["host"].split(":")[0] for r in receiver.requests]
    assert hosts == ["receiver.test", "also.test", "receiver.test", "also.test"]
    peers = [r.peer for r in receiver.requests]
    assert peers[0] == peers[2] and peers[1] == peers[3] and peers[0] != peers[1]
    assert handshakes == ["receiver.test", "also.test", "other.test"]


def test_a_kept_connection_closed_under_a_request_costs_a_new_connection_not_a_failure(
    kept: Receiver,
) -> None:
    """The receiver reads the second request on the kept connection and closes it without an
    answer: the request goes once more, on a new connection, with the same webhook-id."""
    kept.responses.extend([200, 0])
    results = post_all(Clients(10.0), [kept.url, kept.url, kept.url])
    assert [(r.status_code, r.error) for r in results] == [(200, None)] * 3
    ids = [r.id for r in kept.requests]
    assert len(ids) == 4 and ids[1] == ids[2] and len(set(ids)) == 3
    peers = [r.peer for r in kept.requests]
    assert peers[0] == peers[1] and peers[2] != peers[1] and peers[3] == peers[2]


def test_a_receiver_that_closes_without_answering_fails_after_one_more_try(
    kept: Receiver,
) -> None:
    kept.responses.extend([200, 0, 0])
    results = post_all(Clients(10.0), [kept.url, kept.url])
    assert [(r.status_code, r.error) for r in results] == [(200, None), (None, "protocol_error")]
    ids = [r.id for r in kept.requests]
    assert len(ids) == 3 and ids[1] == ids[2]  # the failed event sent twice, no more


@pytest.mark.parametrize("answer", ["big", "slow"])
def test_a_big_or_slow_answer_keeps_its_status_and_closes_its_connection(
    kept: Receiver, answer: str
) -> None:
    """More than the 1 KiB read, or a body that never ends (one byte announced and not sent,
    the connection held): the attempt is delivered all the same, and the next event goes on a
    new connection. The slow one also when the attempt's timeout is shorter than the drain."""
    if answer == "big":
        kept.answer = b"x" * 5000
    else:
        kept.short_body = True
    timeout = 10.0 if answer == "big" else 0.5
    settings = SETTINGS.model_copy(update={"webhook_timeout": timedelta(seconds=timeout)})

    results = post_all(Clients(timeout), [kept.url, kept.url], settings)
    assert [(r.status_code, r.error) for r in results] == [(200, None)] * 2
    assert kept.requests[0].peer != kept.requests[1].peer


def test_the_clients_are_bounded_and_the_oldest_is_closed() -> None:
    async def run() -> None:
        clients = Clients(0.05, origins=2)
        targets = [Target(httpx.URL(f"http://h{n}.test:8080/x"), ("127.0.0.1",)) for n in range(3)]
        made = [clients.client(t, "127.0.0.1") for t in targets]
        assert len(clients) == 2
        assert clients.client(targets[2], "127.0.0.1") is made[2]  # kept, reused
        assert clients.client(targets[1], "127.0.0.2") is not made[1]  # another address
        assert len(clients) == 2
        # The evicted client is closed once the timeout has passed (its close task ends).
        await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not asyncio.current_task()))
        assert made[0].is_closed and not made[2].is_closed
        await clients.aclose()
        assert all(c.is_closed for c in made)

    asyncio.run(run())


def test_a_client_unused_for_the_keepalive_is_retired_at_the_next_delivery() -> None:
    """Its expired connections would otherwise stay open until its own next use (httpx closes
    them lazily): a park admin's many receivers must not pile up idle sockets in the worker."""
    now = [0.0]

    async def run() -> None:
        clients = Clients(0.0, origins=10, keepalive_s=4.0, clock=lambda: now[0])
        targets = [Target(httpx.URL(f"http://h{n}.test:8080/x"), ("127.0.0.1",)) for n in range(3)]
        first = clients.client(targets[0], "127.0.0.1")
        now[0] = 3.0
        second = clients.client(targets[1], "127.0.0.1")
        assert len(clients) == 2  # the first used 3 s ago: kept
        now[0] = 6.0
        clients.client(targets[2], "127.0.0.1")
        assert len(clients) == 2  # the first, unused for 6 s, retired; the second kept
        assert clients.client(targets[1], "127.0.0.1") is second
        assert clients.client(targets[0], "127.0.0.1") is not first  # a new one
        await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not asyncio.current_task()))
        assert first.is_closed and not second.is_closed
        await clients.aclose()

    asyncio.run(run())


def test_new_receivers_share_one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CA bundle is loaded once for all the clients, not once per new receiver (about
    20 ms of CPU and 1 MB each)."""
    loads: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(args or kwargs)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)

    async def run() -> None:
        clients = Clients(1.0)
        for n in range(5):
            target = Target(httpx.URL(f"https://h{n}.test/x"), ("203.0.113.7",))
            clients.client(target, "203.0.113.7")
        assert len(clients) == 5
        await clients.aclose()

    asyncio.run(run())
    assert len(loads) == 1
