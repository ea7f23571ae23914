"""One send to one channel: the rendered message (or digest) in the vendor's format, signed,
POSTed to the robot's checked address (app/webhooks/guard.py: the same SSRF protection and
address pinning as webhooks), or mailed over SMTP with STARTTLS (aiosmtplib). Every failure is
returned as an :class:`Outcome`, never raised.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import orjson

from app.alarms.document import rfc3339
from app.core.config import Settings
from app.core.http import JSON_OPTIONS
from app.notify import acklink, formats, vendors
from app.notify.render import Context, Rendered, digest, render
from app.webhooks.clients import Clients
from app.webhooks.delivery import error_class, excerpt, head, send_pinned
from app.webhooks.guard import Policy, Resolver, pin, resolve
from app.webhooks.signing import headers as webhook_headers

RESPONSE_KEEP = 4096
NOTIFICATION_IDS = uuid.UUID("6d1f3c8e-7a51-4b0e-9a43-0c2f5e9d8b17")  # uuid5 namespace


@dataclass(frozen=True)
class Channel:
    id: uuid.UUID
    park_id: str
    name: str
    kind: str
    url: str | None
    secret: str | None
    recipients: tuple[str, ...]
    language: str

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> Channel:
        return cls(
            row["id"],
            row["park_id"],
            row["name"],
            row["kind"],
            row["url"],
            row["secret"],
            tuple(row["recipients"] or ()),
            row["language"],
        )


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None
    answer: str | None


def compose(channel: Channel, contexts: Sequence[Context], settings: Settings) -> Rendered:
    """One message, or a digest of several."""
    items = [render(c, channel.language, settings.public_url, _ack_url(settings)) for c in contexts]
    return items[0] if len(items) == 1 else digest(items, contexts, channel.language)


def _ack_url(settings: Settings) -> Any:
    secret = settings.notify_ack_secret
    ttl = settings.notify_ack_ttl.total_seconds()

    def make(ctx: Context, subject: str, name: str) -> str | None:
        if secret is None:
            return None
        token = acklink.issue(
            secret.get_secret_value(),
            alarm_id=str(ctx["alarm_id"]),
            park_id=str(ctx["park_id"]),
            subject=subject,
            name=name,
            ttl_s=ttl,
        )
        return f"{settings.public_url.rstrip('/')}/notify/ack/{token}"

    return make


def http_request(
    channel: Channel, r: Rendered, contexts: Sequence[Context], key: str = ""
) -> tuple[str, bytes, dict[str, str]]:
    """(URL, body, headers) of a robot or webhook send, signed now. ``key`` names the
    messages carried: a webhook's ``webhook-id`` is derived from it, so a retry of the same
    messages carries the same id (Standard Webhooks' idempotency)."""
    assert channel.url is not None
    json_headers = {"content-type": "application/json; charset=utf-8"}
    if channel.kind == "dingtalk":
        title, text, mobiles = formats.dingtalk_markdown(r, channel.language)
        now_ms = int(time.time() * 1000)
        url = vendors.dingtalk_url(channel.url, channel.secret, now_ms)
        return url, vendors.dingtalk_body(title, text, mobiles), json_headers
    if channel.kind == "wecom":
        return (
            channel.url,
            vendors.wecom_body(formats.wecom_markdown(r, channel.language)),
            json_headers,
        )
    if channel.kind == "feishu":
        card = formats.feishu_card(r, channel.language)
        return (
            channel.url,
            vendors.feishu_body(card, channel.secret, int(time.time())),
            json_headers,
        )
    body_id = str(uuid.uuid5(NOTIFICATION_IDS, f"{channel.id}/{key}"))
    body = orjson.dumps(
        {
            "id": body_id,
            "type": "notification",
            "created_at": rfc3339(datetime.now(UTC)),
            "park_id": channel.park_id,
            "data": {
                "title": r.title,
                "facts": dict(r.facts),
                "todo": r.todo,
                "link": r.link,
                "items": [dict(c) for c in contexts],
            },
        },
        option=JSON_OPTIONS,
    )
    sent = webhook_headers([channel.secret or ""], body_id, int(time.time()), body)
    return channel.url, body, sent


async def post(
    clients: Clients,
    channel: Channel,
    r: Rendered,
    contexts: Sequence[Context],
    settings: Settings,
    key: str = "",
    resolver: Resolver = resolve,
) -> Outcome:
    status: int | None = None
    try:
        url, body, sent = http_request(channel, r, contexts, key)
        async with asyncio.timeout(settings.webhook_timeout.total_seconds()):
            target = await pin(url, Policy.of(settings), resolver)
            response = await send_pinned(clients, target, body, sent)
            try:
                status = response.status_code
                answer = await head(response, RESPONSE_KEEP)
            finally:
                await response.aclose()
    except Exception as exc:  # any failure of this send is the channel's: record, retry
        return Outcome(status, error_class(exc), None)
    error = vendors.verdict(channel.kind, status, answer)
    return Outcome(status, error, excerpt(answer) if error else None)


def email_message(channel: Channel, r: Rendered, to: Sequence[str], sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = r.title
    message.set_content(formats.email_text(r, channel.language))
    message.add_alternative(formats.email_html(r, channel.language), subtype="html")
    return message


def email_recipients(channel: Channel, recipient: str, r: Rendered) -> list[str]:
    """An escalation step's person, else the channel's list plus the mentioned people."""
    if recipient:
        return [recipient]
    people = [str(m["email"]) for m in r.mentions if m.get("email")]
    return list(dict.fromkeys([*channel.recipients, *people]))


async def mail(channel: Channel, r: Rendered, recipient: str, settings: Settings) -> Outcome:
    """Send over SMTP, upgraded with STARTTLS before any login or data (refused otherwise)."""
    to = email_recipients(channel, recipient, r)
    if not settings.smtp_host:
        return Outcome(None, "smtp_not_configured", None)
    if not to:
        return Outcome(None, "no_recipient", None)
    context = ssl.create_default_context(cafile=settings.smtp_ca_file)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    try:
        await aiosmtplib.send(
            email_message(channel, r, to, settings.smtp_from),
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            start_tls=True,
            tls_context=context,
            username=settings.smtp_username or None,
            password=password if settings.smtp_username else None,
            timeout=settings.smtp_timeout.total_seconds(),
        )
    except aiosmtplib.SMTPResponseException as exc:
        return Outcome(exc.code, "smtp_refused", excerpt(str(exc.message).encode()))
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return Outcome(None, _smtp_error(exc), None)
    return Outcome(250, None, None)


def _smtp_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | aiosmtplib.SMTPTimeoutError):
        return "timeout"
    if isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError):
        return "tls_error"
    if isinstance(exc, aiosmtplib.SMTPException) and "STARTTLS" in str(exc):
        return "starttls_unsupported"
    return "connect_failed"
