"""Client ids bound to accounts on the RabbitMQ cluster: an HTTP auth backend for RabbitMQ.

RabbitMQ 3.10's MQTT plugin lets any authenticated client take over the connection of the same
client id, whoever's account it is (tried: two devices kick each other off in turn). On
Mosquitto a device's client id is always its username (app/broker/dynsec.py); this service gives
the cluster the same rule. Each broker node is configured (app/embedded/rabbitmq.py ADVANCED,
deploy/rabbitmq/advanced.config) with

- authentication by RabbitMQ's internal database (the passwords the API sets), and
- authorisation by the internal database *and* this service (through
  ``rabbit_auth_backend_cache``): a login, vhost, queue or topic check passes only if both allow
  it. Permissions stay where app/broker/rabbit.py puts them; this service decides only who may
  use which client id, and allows every vhost, resource and topic check.

The rule (``admits``): a device account (``{park}:{device}``; identifiers never hold ``:``)
connects over MQTT with its own username as client id and nothing else, and never over AMQP or
the management API; any other account may not use a device-shaped client id (one with ``:``).
So no device can take over another device's or a service's connection, and no service can take
over a device's.

RabbitMQ sends form-encoded POSTs (``username``, ``password``, ``vhost``, ``client_id`` for MQTT
logins, and so on). The service keeps no state, reads at most ``MAX_BODY`` bytes, never logs the
password, and runs beside each node on loopback: ``parktwin broker auth``. If it is down, new
logins are refused (devices retry) while connected clients keep what the cache holds.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.broker.dynsec import is_device_username

logger = logging.getLogger(__name__)

MAX_BODY = 4096
MAX_FIELDS = 32
DEFAULT_PORT = 15680


def admits(username: str, client_id: str | None) -> bool:
    """May ``username`` log in with ``client_id`` (None: not an MQTT login)?"""
    if is_device_username(username):
        return client_id == username
    return client_id is None or ":" not in client_id


async def _form(request: Request) -> dict[str, str]:
    """The POSTed form, bounded in size and fields; one value per field (the first). A body
    past the bounds is a 413 or 400 (Starlette's plain-text answer to ``HTTPException``)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise HTTPException(413, "body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, "body too large")
    try:
        fields = parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            strict_parsing=False,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, f"unreadable form: {type(exc).__name__}") from None
    return {name: values[0] for name, values in fields.items()}


async def user(request: Request) -> PlainTextResponse:
    form = await _form(request)
    username = form.get("username")
    if not username:
        return PlainTextResponse("no username", status_code=400)
    client_id = form.get("client_id")
    if admits(username, client_id):
        return PlainTextResponse("allow")
    logger.warning(
        "refused login of %r with client id %r: a device logs in over MQTT with its own "
        "username as client id, and no other account uses a device's (':' in it)",
        username[:150],
        None if client_id is None else client_id[:150],
    )
    return PlainTextResponse("deny")


async def allow(request: Request) -> PlainTextResponse:
    """vhost, resource and topic checks: the internal database decides those."""
    await _form(request)
    return PlainTextResponse("allow")


def create_auth_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/auth/user", user, methods=["POST"]),
            *(
                Route(f"/auth/{check}", allow, methods=["POST"])
                for check in ("vhost", "resource", "topic")
            ),
        ]
    )


def advanced_config(auth_url: str, cache_ttl_ms: int = 3_600_000) -> str:
    """The ``advanced.config`` of a node whose client-id checks go to ``auth_url``.

    The cache may keep answers long: this service's answers never change for the same
    arguments, and every check also goes to the internal database, uncached, so a deleted
    account or a revoked permission takes effect at once. Refusals are not cached.
    """
    paths = ", ".join(
        f'{{{check}_path, "{auth_url}/auth/{check}"}}'
        for check in ("user", "vhost", "resource", "topic")
    )
    return (
        "%% Passwords and permissions: RabbitMQ's internal database. Client ids: also\n"
        "%% parktwin's auth service (app/broker/rabbit_auth.py); both must allow.\n"
        "[{rabbit, [{auth_backends,\n"
        "            [{rabbit_auth_backend_internal,\n"
        "              [rabbit_auth_backend_internal, rabbit_auth_backend_cache]}]}]},\n"
        " {rabbitmq_auth_backend_cache, [{cached_backend, rabbit_auth_backend_http},\n"
        f"                                {{cache_ttl, {cache_ttl_ms}}}]}},\n"
        f" {{rabbitmq_auth_backend_http, [{{http_method, post}}, {paths}]}},\n"
        " %% device usernames are {park}:{device}, not vhost:user\n"
        " {rabbitmq_mqtt, [{ignore_colons_in_username, true}]}].\n"
    )
