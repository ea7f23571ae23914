"""The one-click acknowledge pages: GET shows what would be acknowledged and a button (a
link preview or a mail scanner fetching the link changes nothing); POST acknowledges the
alarm as the link's person, once. Refused: a forged or malformed token (403), one whose
person an admin has removed (403), an expired one (410), a used one (409), an alarm gone
(404): a page for a browser, problem+json for anything that does not ask for HTML. Chinese
first, English below."""

from __future__ import annotations

import html

from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms import repository as alarms
from app.alarms import service as alarm_service
from app.core.config import Settings
from app.core.errors import problem
from app.notify import acklink, repository
from app.notify.render import render
from app.notify.routing import alarm_context

REFUSED = {
    "malformed": (403, "链接无效", "This link is not valid."),
    "bad_signature": (403, "链接无效", "This link is not valid."),
    "expired": (410, "链接已过期，请在驾驶舱中确认告警", "This link has expired."),
    "used": (409, "链接已使用过，不能重复确认", "This link has been used already."),
    "gone": (404, "告警不存在", "The alarm no longer exists."),
    "revoked": (
        403,
        "链接已失效（此人已从通知名单中移除）",
        "This link was revoked with its person.",
    ),
    "disabled": (404, "未启用一键确认", "One-click acknowledgement is not enabled."),
}


def _html(status: int, body: str) -> HTMLResponse:
    page = (
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'><meta name='robots' content='noindex'>"
        f"<title>parktwin</title></head><body>{body}</body></html>"
    )
    headers = {"cache-control": "no-store", "referrer-policy": "no-referrer"}
    return HTMLResponse(page, status_code=status, headers=headers)


def refused(reason: str, page: bool) -> Response:
    """The refusal as a page for a browser (``Accept: text/html``), else problem+json."""
    status, zh, en = REFUSED[reason]
    if not page:
        return problem(status, f"ack-{reason.replace('_', '-')}", en, f"{zh} / {en}", reason=reason)
    return _html(status, f"<h2>{zh}</h2><p>{en}</p>")


def _verify(token: str, settings: Settings) -> acklink.Claim | str:
    if settings.notify_ack_secret is None:
        return "disabled"
    try:
        return acklink.verify(settings.notify_ack_secret.get_secret_value(), token)
    except acklink.BadToken as exc:
        return exc.reason


async def page(session: AsyncSession, token: str, settings: Settings, html_: bool) -> Response:
    claim = _verify(token, settings)
    if isinstance(claim, str):
        return refused(claim, html_)
    if await repository.subject_removed(session, claim.park_id, claim.subject):
        return refused("revoked", html_)
    if await repository.nonce_used(session, claim.nonce):
        return refused("used", html_)
    row = await alarms.get(session, claim.park_id, claim.alarm_id)
    if row is None:
        return refused("gone", html_)
    e = html.escape
    shown = render(await alarm_context(session, row), "zh", settings.public_url, _no_links)
    facts = "".join(f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in shown.facts)
    state = "已确认" if row["acknowledged"] else "未确认"
    body = (
        f"<h2>确认告警 / Acknowledge alarm</h2><p>{e(claim.name)}，您将以本人身份确认：</p>"
        f"<h3>{e(shown.title)}（{state}）</h3><table>{facts}</table>"
        f"<form method='post'><button type='submit'>确认 / Acknowledge</button></form>"
        f"<p><a href='{e(shown.link)}'>在驾驶舱查看 / Open in the cockpit</a></p>"
    )
    return _html(200, body)


async def confirm(session: AsyncSession, token: str, settings: Settings, html_: bool) -> Response:
    claim = _verify(token, settings)
    if isinstance(claim, str):
        return refused(claim, html_)
    if await repository.subject_removed(session, claim.park_id, claim.subject):
        return refused("revoked", html_)
    if await alarms.get(session, claim.park_id, claim.alarm_id) is None:
        return refused("gone", html_)
    if not await repository.use_nonce(session, claim.nonce, claim.alarm_id, claim.actor):
        return refused("used", html_)
    alarm = await alarm_service.acknowledge_as(
        session,
        park_id=claim.park_id,
        alarm_id=claim.alarm_id,
        actor=claim.actor,
        comment="一键确认链接 / one-click link",
    )
    who = html.escape(claim.name)
    return _html(200, f"<h2>已确认 / Acknowledged</h2><p>{who} · {alarm.acknowledged_at}</p>")


def _no_links(*_args: object) -> None:
    return None
