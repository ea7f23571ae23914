"""The SSRF guard as the worker applies it: one lookup, every address checked, the POST sent to
the address that was checked (no second lookup: no DNS rebinding), no redirects, allowed ports
and networks only, error classes instead of exception text. Real receivers on loopback
addresses; the resolver (the outside world's DNS) is a function handed in."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.webhooks.clients import Clients
from app.webhooks.delivery import new_client, post
from app.webhooks.guard import Policy, Target, UnsafeUrl, pin, redact, resolve
from app.webhooks.queue import Result
from tests.webhooks.conftest import Receiver, claimed

SETTINGS = Settings(webhook_allowed_networks=[], webhook_allowed_ports="1-65535")


class Dns:
    """An attacker's DNS with TTL 0: each lookup gets the next answer (the last one repeats);
    an answer may hold several addresses, comma-separated."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.lookups: list[str] = []

    async def __call__(self, host: str, _port: int) -> list[str]:
        self.lookups.append(host)
        if not self.answers:
            return []
        return self.answers[min(len(self.lookups), len(self.answers)) - 1].split(",")


def send(url: str, settings: Settings, dns: Dns | None = None, **client: Any) -> Result:
    async def run() -> Result:
        clients = Clients(settings.webhook_timeout.total_seconds(), **client)
        try:
            if dns is None:
                return await post(clients, claimed(url), settings)
            return await post(clients, claimed(url), settings, dns)
        finally:
            await clients.aclose()

    return asyncio.run(run())


def allow(*networks: str, ports: str = "1-65535") -> Settings:
    nets = [ipaddress.ip_network(n) for n in networks]
    return SETTINGS.model_copy(
        update={"webhook_allowed_networks": nets, "webhook_allowed_ports": ports}
    )


@pytest.fixture
def internal() -> Iterator[Receiver]:
    """A service inside the network (127.0.0.1) that must never be reached."""
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def test_the_post_goes_to_the_address_that_was_checked_not_a_second_answer(
    internal: Receiver,
) -> None:
    # The receiver the name legitimately points at: 127.0.0.2, the same port as the internal
    # service on 127.0.0.1. Only 127.0.0.2 is allowed.
    outside = Receiver(host="127.0.0.2", port=internal.port).start()
    try:
        dns = Dns("127.0.0.2", "127.0.0.1")
        result = send(f"http://rebind.test:{internal.port}/hook", allow("127.0.0.2/32"), dns)
        assert (result.status_code, result.error) == (200, None)
        assert dns.lookups == ["rebind.test"]  # resolved once: no second answer was asked for
        assert [r.headers["host"] for r in outside.requests] == [f"rebind.test:{internal.port}"]
        assert internal.requests == []
    finally:
        outside.stop()


def test_a_name_whose_first_answer_is_private_is_refused_before_any_connection(
    internal: Receiver,
) -> None:
    dns = Dns("127.0.0.1", "127.0.0.2")
    result = send(f"http://rebind.test:{internal.port}/hook", allow("127.0.0.2/32"), dns)
    assert (result.status_code, result.error) == (None, "refused_address")
    assert dns.lookups == ["rebind.test"] and internal.requests == []


def test_every_address_of_the_one_answer_is_checked_and_tried_in_turn(internal: Receiver) -> None:
    # 127.0.0.3 listens nowhere: the connection fails and the next checked address is used.
    dns = Dns("127.0.0.3,127.0.0.1")
    result = send(f"http://two.test:{internal.port}/hook", allow("127.0.0.0/8"), dns)
    assert (result.status_code, dns.lookups) == (200, ["two.test"])
    assert len(internal.requests) == 1
    # One disallowed address in the answer refuses the whole name, before any connection.
    mixed = Dns("127.0.0.1,10.0.0.1")
    refused = send(f"http://two.test:{internal.port}/hook", allow("127.0.0.0/8"), mixed)
    assert refused.error == "refused_address" and len(internal.requests) == 1


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``receiver.test`` (and nothing else)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=receiver.test"]
    command += ["-addext", "subjectAltName=DNS:receiver.test"]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_receiver(certificate: tuple[Path, Path]) -> Iterator[Receiver]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    receiver = Receiver(tls=context).start()
    yield receiver
    receiver.stop()


@pytest.mark.parametrize(("name", "ok"), [("receiver.test", True), ("other.test", False)])
def test_https_to_the_pinned_address_checks_the_certificate_for_the_url_host(
    tls_receiver: Receiver, certificate: tuple[Path, Path], name: str, ok: bool
) -> None:
    """The TLS connection goes to the checked IP, but SNI and the certificate check use the
    URL's host name: the right name passes, another name at the same address fails."""
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    dns = Dns("127.0.0.1")
    url = f"https://{name}:{tls_receiver.port}/hook"
    result = send(url, allow("127.0.0.0/8"), dns, verify=trusted)
    if ok:
        assert (result.status_code, result.error) == (200, None)
        assert [r.headers["host"] for r in tls_receiver.requests] == [f"{name}:{tls_receiver.port}"]
    else:
        assert (result.status_code, result.error) == (None, "tls_error")
        assert tls_receiver.requests == []


def test_a_redirect_is_not_followed(internal: Receiver) -> None:
    first = Receiver(location=internal.url, answer=b"moved\x00\x1b[31m" + b"x" * 1000).start()
    first.responses.extend([302])
    try:
        result = send(first.url, allow("127.0.0.0/8"))
        assert (result.status_code, result.error, result.ok) == (302, None, False)
        assert len(first.requests) == 1 and internal.requests == []
        # A failed answer is kept as a short excerpt of printable characters.
        assert result.response_body is not None and len(result.response_body) == 256
        assert result.response_body.startswith("moved[31mxxx")
    finally:
        first.stop()


def test_a_port_outside_the_allowed_ports_is_refused(internal: Receiver) -> None:
    result = send(internal.url, allow("127.0.0.0/8", ports="80,443,8080,8443"))
    assert (result.status_code, result.error) == (None, "refused_port")
    assert internal.requests == []


def test_the_allow_list_admits_loopback_receivers_and_nothing_else(internal: Receiver) -> None:
    assert send(internal.url, allow("127.0.0.0/8")).status_code == 200
    refused = send(internal.url, allow("10.0.0.0/8"))
    assert (refused.status_code, refused.error) == (None, "refused_address")
    deprecated = SETTINGS.model_copy(update={"webhook_allow_private": True})
    assert send(internal.url, deprecated).status_code == 200
    assert len(internal.requests) == 2


def test_errors_are_classes_not_exception_text(internal: Receiver) -> None:
    port = internal.port
    internal.stop()  # nobody listens there now
    result = send(f"http://127.0.0.1:{port}/hook", allow("127.0.0.0/8"))
    assert (result.status_code, result.error) == (None, "connect_failed")
    unresolvable = send("http://nowhere.invalid/hook", allow("127.0.0.0/8"), Dns())
    assert unresolvable.error == "dns_failed"


@pytest.mark.parametrize(
    "address",
    [
        "fec0::1",  # site-local (deprecated)
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "2002:808:808::1",  # 6to4 around a public address: refused outright too
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "64:ff9b::7f00:1",  # NAT64 around 127.0.0.1
        "::ffff:10.0.0.1",  # IPv4-mapped private
    ],
)
def test_tunnelled_and_deprecated_ipv6_forms_are_refused(address: str) -> None:
    policy = Policy.of(SETTINGS)
    with pytest.raises(UnsafeUrl) as refused:
        asyncio.run(pin(f"http://[{address}]/hook", policy))
    assert refused.value.reason == "refused_address"


def test_public_addresses_pass_and_are_what_is_connected_to() -> None:
    target = asyncio.run(
        pin("https://hooks.example:8443/x?y=1", Policy.of(SETTINGS), Dns("8.8.8.8"))
    )
    assert target.addresses == ("8.8.8.8",)
    assert str(target.request_url("8.8.8.8")) == "https://8.8.8.8:8443/x?y=1"
    assert target.headers() == {"host": "hooks.example:8443"}
    assert target.extensions() == {"sni_hostname": "hooks.example"}


def test_the_default_ports() -> None:
    policy = Policy.of(Settings())
    assert [p for p in (80, 443, 8080, 8443, 22, 25, 6379, 8000) if policy.port_allowed(p)] == [
        80,
        443,
        8080,
        8443,
    ]


def test_userinfo_never_reaches_the_log() -> None:
    assert redact("https://user:s3cret@hooks.example:8443/a/b?token=x") == (
        "https://hooks.example:8443/a/b"
    )


def test_the_worker_clients_follow_no_redirect_and_take_no_proxy_from_the_environment() -> None:
    async def run() -> None:
        clients = new_client(SETTINGS)
        target = Target(httpx.URL("http://hooks.example:8080/hook"), ("203.0.113.7",))
        try:
            client = clients.client(target, "203.0.113.7")
            assert client.follow_redirects is False and client.trust_env is False
        finally:
            await clients.aclose()

    asyncio.run(run())


def test_an_ip_literal_is_its_own_address_and_other_forms_are_looked_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up: list[str] = []
    real = asyncio.BaseEventLoop.getaddrinfo

    async def spy(self: Any, host: Any, *args: Any, **kw: Any) -> Any:
        looked_up.append(host)
        return await real(self, host, *args, **kw)

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", spy)
    assert asyncio.run(resolve("203.0.113.7", 443)) == ["203.0.113.7"]
    assert asyncio.run(resolve("2001:db8::1", 443)) == ["2001:db8::1"]
    assert looked_up == []  # no thread-pool lookup for a literal
    # 127.1 is 127.0.0.1 to getaddrinfo (and to a browser): normalised, then checked as such
    assert asyncio.run(resolve("127.1", 80)) == ["127.0.0.1"]
    assert looked_up == ["127.1"]
    with pytest.raises(UnsafeUrl) as refused:
        asyncio.run(pin("http://127.1/hook", Policy.of(SETTINGS)))
    assert refused.value.reason == "refused_address"
