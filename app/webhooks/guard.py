"""Webhook URLs may not point inside the network parktwin runs in (SSRF).

A URL is refused when its scheme is not http(s), when its port is not allowed
(``PARKTWIN_WEBHOOK_ALLOWED_PORTS``, by default 80, 443, 8080 and 8443), or when its host
resolves to any address that is not public and not in ``PARKTWIN_WEBHOOK_ALLOWED_NETWORKS``.
Not public: private, loopback, link-local, shared (CGNAT), multicast, reserved, unspecified,
the IPv4-mapped forms of those, and, outright, the IPv6 forms that tunnel to an IPv4 address or
are deprecated (6to4 ``2002::/16``, Teredo ``2001::/32``, NAT64 ``64:ff9b::/96`` and
``64:ff9b:1::/48``, site-local ``fec0::/10``): their embedded address may be anything.

:func:`pin` resolves the host once and checks every address it gets; the worker then connects to
an address that was checked (:meth:`Target.request_url`), so a name that answers a public
address to the check and a private one a moment later (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from app.core.config import Settings, parse_ports

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

DEFAULT_PORTS = "80,443,8080,8443"
# Tunnels and deprecated forms whose embedded address is unchecked: never a receiver.
NEVER = tuple(
    ipaddress.ip_network(net)
    for net in ("2002::/16", "2001::/32", "64:ff9b::/96", "64:ff9b:1::/48", "fec0::/10")
)
EVERYWHERE = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; ``reason`` is the error class, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Policy:
    """Where webhooks may go: ports, and the non-public networks allowed on top of the public."""

    ports: tuple[tuple[int, int], ...] = tuple(parse_ports(DEFAULT_PORTS))
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        """From the settings. The deprecated ``webhook_allow_private`` keeps its old meaning:
        every network and every port (the port rule came later than the switch)."""
        if settings.webhook_allow_private:
            return cls(((1, 65535),), EVERYWHERE)
        networks: Sequence[IPNetwork] = settings.webhook_allowed_networks
        return cls(tuple(parse_ports(settings.webhook_allowed_ports)), tuple(networks))

    def port_allowed(self, port: int) -> bool:
        return any(first <= port <= last for first, last in self.ports)

    def address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return is_public(ip) or any(ip in net for net in self.networks if net.version == ip.version)


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif any(ip in net for net in NEVER):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


@dataclass(frozen=True)
class Target:
    """A URL whose host was resolved and checked, and the checked addresses to connect to, in
    the resolver's order of preference."""

    url: httpx.URL
    addresses: tuple[str, ...]

    def request_url(self, address: str) -> httpx.URL:
        """The URL with a checked address as its host: no second lookup, no rebinding."""
        return self.url.copy_with(host=address)

    def headers(self) -> dict[str, str]:
        """The ``Host`` header of the original URL."""
        return {"host": self.url.netloc.decode("ascii").rpartition("@")[2]}

    def extensions(self) -> dict[str, str]:
        """TLS: the server name sent (SNI) and checked in the certificate is the URL's host."""
        return {"sni_hostname": self.url.host} if self.url.scheme == "https" else {}


def check_shape(url: str, policy: Policy) -> tuple[httpx.URL, int]:
    """The parsed http(s) URL with a host and an allowed port, and the port; else UnsafeUrl."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        parsed = httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise UnsafeUrl("refused_url", f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("refused_url", "the URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeUrl("refused_url", "the URL has no host")
    if not policy.port_allowed(port):
        raise UnsafeUrl(
            "refused_port",
            f"port {port} is not allowed (PARKTWIN_WEBHOOK_ALLOWED_PORTS lists the allowed ones)",
        )
    return parsed, port


async def resolve(host: str, port: int) -> list[str]:
    """Every address of ``host``. An IP literal in its usual form is its own answer without a
    lookup (getaddrinfo runs in the loop's thread pool: a queue under load, for nothing);
    other forms (``127.1``, ``0x7f000001``) go through getaddrinfo, which normalises them."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise UnsafeUrl("dns_failed", f"the host {host!r} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def pin(url: str, policy: Policy, resolver: Resolver = resolve) -> Target:
    """Resolve the URL's host once and check every address; else UnsafeUrl."""
    parsed, port = check_shape(url, policy)
    addresses = await resolver(parsed.host, port)
    if not addresses:
        raise UnsafeUrl("dns_failed", f"the host {parsed.host!r} does not resolve")
    for address in addresses:
        if not policy.address_allowed(address):
            raise UnsafeUrl(
                "refused_address",
                f"the host {parsed.host!r} resolves to {address}, which is not a public address "
                "(PARKTWIN_WEBHOOK_ALLOWED_NETWORKS may allow it)",
            )
    return Target(parsed, tuple(addresses))


async def check_url(url: str, policy: Policy, resolver: Resolver = resolve) -> None:
    """Raise UnsafeUrl unless ``url`` may receive webhooks."""
    await pin(url, policy, resolver)


def redact(url: str) -> str:
    """The URL for logs: no user:password, no query, at most 200 characters."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{netloc}{parts.path}"[:200]
