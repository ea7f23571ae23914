"""Webhook URLs may not point inside the network parktwin runs in (SSRF).

A URL is refused when its scheme is not http(s) or when its host resolves to any address that
is not public: private, loopback, link-local, shared (CGNAT), multicast, reserved, unspecified,
or an IPv4-mapped form of those. ``PARKTWIN_WEBHOOK_ALLOW_PRIVATE=true`` lifts the address
check (tests, the demo, receivers on the same LAN). The worker checks again before each POST,
so a name that is later pointed at a private address is refused then too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why."""


def check_shape(url: str) -> tuple[str, int]:
    """``(host, port)`` of an http(s) URL with a host, else UnsafeUrl."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("the URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise UnsafeUrl(f"the host {host!r} does not resolve") from exc
    return sorted({str(info[4][0]) for info in infos})


async def check_url(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeUrl unless ``url`` may receive webhooks."""
    host, port = check_shape(url)
    if allow_private:
        return
    for address in await resolve(host, port):
        if not is_public(address):
            raise UnsafeUrl(
                f"the host {host!r} resolves to {address}, which is not a public address "
                "(set PARKTWIN_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
            )
