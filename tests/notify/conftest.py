"""Notification test fixtures: fake DingTalk, WeCom and Feishu robots (real HTTP servers on
127.0.0.1) that check each request's signature and message shape the way the vendors document
them, a real SMTP server (aiosmtpd) that insists on STARTTLS, a park with a building, floor,
space and gas detector, and one in-process worker round (the webhook job's routing, then the
notify job's sends), so each test decides when the worker runs.

The checks below are written from the vendors' documentation, not from app/notify:
- DingTalk (open.dingtalk.com, 自定义机器人安全设置): ``timestamp`` (ms) and ``sign`` query
  parameters, sign = urlencode(base64(HmacSHA256(key=secret, data=timestamp + "\\n" + secret))),
  timestamp within one hour; body msgtype ``markdown`` with ``markdown.title`` and ``.text``.
- WeCom (developer.work.weixin.qq.com/document/path/91770): ``?key=``; msgtype ``markdown``,
  ``markdown.content`` at most 4096 bytes.
- Feishu (open.feishu.cn, 自定义机器人使用指南): body ``timestamp`` (s, string) and ``sign`` =
  base64(HmacSHA256(key=timestamp + "\\n" + secret, data="")); ``msg_type`` ``interactive``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from sqlalchemy.ext.asyncio import async_sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.alarms import policy as alarm_policy
from app.alarms.document import alarm_document
from app.core.config import Settings
from app.core.db import create_engine_for
from app.embedded.process import free_port
from app.main import create_app
from app.notify import routing
from app.notify.delivery import NotifyDispatcher
from app.notify.escalation import escalate_due
from app.webhooks import outbox
from app.webhooks.delivery import WebhookDispatcher
from tests.api.conftest import auth, make_key
from tests.conftest import ServiceEnv, wait_ready

ACK_SECRET = "test-ack-secret-0123456789abcdef0123456789"
DING_SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
FEISHU_SECRET = "feishu-secret-xyz"


@dataclass
class Robot:
    """A fake robot of one vendor. ``requests``: (query, body) of each POST that passed the
    vendor's checks; ``refused``: why others were refused (answered as the vendor would)."""

    kind: str
    secret: str | None = None
    fail_with: int | None = None  # an HTTP status to answer instead
    hold: threading.Event | None = None  # a tarpit: answer only once this is set
    requests: list[tuple[dict[str, list[str]], dict[str, Any]]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        path = {
            "dingtalk": "/robot/send?access_token=tok123",
            "wecom": "/cgi-bin/webhook/send?key=key123",
            "feishu": "/open-apis/bot/v2/hook/hook123",
            "webhook": "/hook",
        }[self.kind]
        return f"http://127.0.0.1:{self.port}{path}"

    def check(
        self, query: dict[str, list[str]], body: dict[str, Any], raw: bytes, headers: Any
    ) -> str | None:
        if self.kind == "webhook":
            try:
                Webhook(self.secret or "").verify(raw, dict(headers))
            except WebhookVerificationError:
                return "bad signature"
            return None
        if self.kind == "dingtalk":
            return check_dingtalk(query, body, self.secret)
        if self.kind == "wecom":
            return check_wecom(query, body)
        return check_feishu(body, self.secret)

    def answer(self, problem: str | None) -> dict[str, Any]:
        if self.kind == "feishu":
            return (
                {"code": 0, "msg": "success"}
                if problem is None
                else {"code": 19021, "msg": problem}
            )
        return (
            {"errcode": 0, "errmsg": "ok"}
            if problem is None
            else {"errcode": 310000, "errmsg": problem}
        )

    def start(self) -> Robot:
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                query = parse_qs(urlsplit(self.path).query)
                body = json.loads(raw)
                problem = robot.check(query, body, raw, self.headers)
                with robot.cond:
                    if robot.fail_with is None and problem is None:
                        robot.requests.append((query, body))
                    elif problem is not None:
                        robot.refused.append(problem)
                    robot.cond.notify_all()
                if robot.hold is not None:
                    robot.hold.wait(30)
                status = robot.fail_with or 200  # the vendors answer their errors in a 200
                out = json.dumps(robot.answer(problem)).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def check_dingtalk(q: dict[str, list[str]], body: dict[str, Any], secret: str | None) -> str | None:
    if q.get("access_token") != ["tok123"]:
        return "missing access_token"
    if secret is not None:
        if "timestamp" not in q or "sign" not in q:
            return "missing timestamp/sign"
        timestamp = q["timestamp"][0]
        if abs(int(timestamp) - time.time() * 1000) > 3600_000:
            return "timestamp out of range"
        string_to_sign = f"{timestamp}\n{secret}"
        expected = base64.b64encode(
            hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()
        ).decode()
        # parse_qs already url-decoded the sign once, as DingTalk's server does
        if q["sign"][0] != expected:
            return "sign mismatch"
    if body.get("msgtype") != "markdown":
        return "msgtype"
    markdown = body.get("markdown") or {}
    if not isinstance(markdown.get("title"), str) or not isinstance(markdown.get("text"), str):
        return "markdown.title/text"
    at = body.get("at", {})
    for mobile in at.get("atMobiles", []):
        if f"@{mobile}" not in markdown["text"]:
            return "an @mobile missing from the text"
    return None


def check_wecom(q: dict[str, list[str]], body: dict[str, Any]) -> str | None:
    if q.get("key") != ["key123"]:
        return "missing key"
    if body.get("msgtype") != "markdown":
        return "msgtype"
    content = (body.get("markdown") or {}).get("content")
    if not isinstance(content, str) or len(content.encode()) > 4096:
        return "markdown.content"
    return None


def check_feishu(body: dict[str, Any], secret: str | None) -> str | None:
    if secret is not None:
        timestamp = body.get("timestamp")
        if not isinstance(timestamp, str) or abs(int(timestamp) - time.time()) > 3600:
            return "timestamp"
        string_to_sign = f"{timestamp}\n{secret}"
        expected = base64.b64encode(
            hmac.new(string_to_sign.encode(), digestmod=hashlib.sha256).digest()
        ).decode()
        if body.get("sign") != expected:
            return "sign match fail"
    if body.get("msg_type") != "interactive":
        return "msg_type"
    card = body.get("card") or {}
    if "header" not in card or not isinstance(card.get("elements"), list):
        return "card"
    return None


# -- SMTP -----------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """An aiosmtpd server that requires STARTTLS before MAIL; records each message and
    whether its session was encrypted."""

    cert: Path
    key: Path
    messages: list[tuple[Envelope, EmailMessage, bool]] = field(default_factory=list)
    port: int = 0
    controller: Controller | None = None

    async def handle_DATA(self, _server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed, session.ssl is not None))
        return "250 OK"

    def start(self) -> Mailbox:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        self.port = free_port()
        self.controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("smtp-tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def mailbox(certificate: tuple[Path, Path]) -> Iterator[Mailbox]:
    box = Mailbox(*certificate).start()
    yield box
    box.stop()


# -- the app, the park, the worker round ----------------------------------------------------


@pytest.fixture(scope="session")
def n_settings(services: ServiceEnv, database_url: str, certificate: tuple[Path, Path]) -> Settings:
    return services.settings(
        database_url,
        webhook_allowed_networks=["127.0.0.0/8"],
        webhook_allowed_ports="1-65535",
        notify_ack_secret=ACK_SECRET,
        public_url="https://park.example.cn",
        smtp_host="127.0.0.1",
        smtp_from="alarm@park.example.cn",
        smtp_ca_file=certificate[0],
        webhook_retry_schedule=["PT1S", "PT1S"],
    )


@pytest.fixture(scope="session")
def n_client(n_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(n_settings)) as client:
        wait_ready(client)
        yield client


@pytest.fixture(scope="session")
def n_admin(database_url: str) -> dict[str, str]:
    return auth(make_key(database_url, "admin"))


@dataclass
class ParkWorld:
    park_id: str
    device_id: str
    database_url: str


SETUP = [
    "INSERT INTO park (id, name, timezone) VALUES (%(park)s, '苏州智造园', 'Asia/Shanghai')",
    "INSERT INTO building (park_id, id, name, footprint, floors, area_m2) VALUES (%(park)s, 'b3',"
    ' \'3号厂房\', \'{"type": "Polygon", "coordinates": [[[120.7400, 31.3100],'
    " [120.7404, 31.3100], [120.7404, 31.3103], [120.7400, 31.3103], [120.7400, 31.3100]]]}',"
    " 4, 1000)",
    "INSERT INTO floor (park_id, building_id, number, name) VALUES (%(park)s, 'b3', 2, '二层')",
    "INSERT INTO space (park_id, id, building_id, floor, name, area_m2) VALUES (%(park)s, 's1',"
    " 'b3', 2, '涂装车间', 300)",
    "INSERT INTO device (park_id, id, type, name, building_id, space_id) VALUES (%(park)s, 'gas-7',"
    " 'gas_detector', '涂装线可燃气体探测器 A7', 'b3', 's1')",
]


@pytest.fixture
def world(database_url: str) -> ParkWorld:
    park = f"p-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url) as conn:
        for statement in SETUP:
            conn.execute(statement, {"park": park})
    return ParkWorld(park, "gas-7", database_url)


def raise_alarm(
    world: ParkWorld,
    severity: str = "critical",
    value: float = 55.0,
    threshold: float = 50.0,
    device_id: str | None = None,
    type_: str = "alarm.raised",
    metric: str = "gas_lel_pct",
    shelved: bool = False,
) -> str:
    """An open alarm and its event in the outbox, as the ingestor writes them."""
    with psycopg.connect(world.database_url, row_factory=dict_row) as conn:
        row = conn.execute(
            "INSERT INTO alarm (id, park_id, device_id, metric, type, severity, raised_at, value,"
            " peak_value, threshold, latched, shelved_until) VALUES (gen_random_uuid(), %s, %s,"
            " %s, 'threshold', %s, '2026-12-03T06:30:00Z', %s, %s, %s, %s,"
            " CASE WHEN %s THEN now() + interval '1 hour' END) RETURNING *",
            (
                world.park_id,
                device_id or world.device_id,
                metric,
                severity,
                value,
                value,
                threshold,
                not shelved,  # gas alarms latch; a shelved one is a non-latching alarm
                shelved,
            ),
        ).fetchone()
        assert row is not None
        outbox.enqueue_sync(
            conn, park_id=world.park_id, type=type_, severity=severity, data=alarm_document(row)
        )
    return str(row["id"])


def worker_round(settings: Settings) -> None:
    """One round of the worker: route the new events, then send what is due, and wait."""

    async def run() -> None:
        engine = create_engine_for(settings.resolved_database_url(), pool_size=2)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        hooks = WebhookDispatcher(hold_back=alarm_policy.hold_back, also=[routing.route])
        notify = NotifyDispatcher()
        await hooks.start(maker, settings)
        await notify.start(maker, settings)
        try:
            while await hooks(None, settings):  # type: ignore[arg-type]
                pass
            await notify.dispatch(settings)
        finally:
            await notify.aclose()
            await hooks.aclose()
            await engine.dispose()

    asyncio.run(run())


def escalate(settings: Settings, now: datetime) -> int:
    """The escalation job once, at ``now`` (a controlled clock)."""

    async def run() -> int:
        engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
        try:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            async with maker() as session, session.begin():
                return await escalate_due(session, settings, now)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def query(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


def add_channel(client: TestClient, admin: dict[str, str], park: str, **body: Any) -> str:
    response = client.post(f"/api/v1/parks/{park}/notify/channels", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def add_person(client: TestClient, admin: dict[str, str], park: str, **body: Any) -> str:
    response = client.post(f"/api/v1/parks/{park}/notify/people", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def set_routes(client: TestClient, admin: dict[str, str], park: str, routes: list[Any]) -> None:
    response = client.put(f"/api/v1/parks/{park}/notify/routes", json=routes, headers=admin)
    assert response.status_code == 200, response.text
