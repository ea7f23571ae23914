"""The robots' wire formats, signatures and answers, as each vendor publishes them (pure).

- DingTalk custom robot (钉钉自定义机器人, open.dingtalk.com "自定义机器人安全设置" and
  "自定义机器人发送群消息"): POST JSON to ``https://oapi.dingtalk.com/robot/send?access_token=..``
  with the query parameters ``timestamp`` (epoch milliseconds) and ``sign`` =
  urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))); body
  ``{"msgtype": "markdown", "markdown": {"title", "text"}, "at": {"atMobiles", "isAtAll"}}``
  (a mobile is @-mentioned only if the text also contains ``@mobile``). Answer
  ``{"errcode": 0, "errmsg": "ok"}``; any other errcode (310000 bad signature, 130101 too
  fast, ...) comes in an HTTP 200 and is a failure. About 20 messages a minute per robot.
- WeCom group robot (企业微信群机器人, developer.work.weixin.qq.com/document/path/91770): POST
  JSON to ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..``; body ``{"msgtype":
  "markdown", "markdown": {"content"}}`` (at most 4096 bytes; ``<@userid>`` mentions; font
  colours ``info``, ``comment``, ``warning``); answer ``{"errcode": 0, "errmsg": "ok"}``, errors
  in a 200 as for DingTalk. 20 messages a minute per robot.
- Feishu custom bot (飞书自定义机器人, open.feishu.cn "自定义机器人使用指南"): POST JSON to
  ``https://open.feishu.cn/open-apis/bot/v2/hook/..``; with signature verification on, the body
  carries ``timestamp`` (epoch seconds, as a string) and ``sign`` = base64(HMAC-SHA256(
  key=f"{timestamp}\\n{secret}", msg=b"")); ``{"msg_type": "interactive", "card": {...}}``.
  Answer ``{"code": 0, "msg": "success"}``; errors (19021 bad signature, 9499 too many
  requests, ...) come in an HTTP 200 with a non-zero ``code``. 100 a minute, 5 a second.
- Standard Webhooks: app/webhooks/signing.py, unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import orjson

KINDS = ("dingtalk", "wecom", "feishu", "email", "webhook")
ROBOTS = ("dingtalk", "wecom", "feishu")

# Messages a minute each vendor accepts per robot (their documentation, 2026), used as the
# channel's default rate; email and webhooks are limited only by our own politeness.
RATE_PER_MIN = {"dingtalk": 20, "wecom": 20, "feishu": 100, "email": 60, "webhook": 600}

WECOM_MAX_BYTES = 4096  # markdown.content, in UTF-8 bytes
DINGTALK_MAX_BYTES = 20000  # DingTalk refuses larger bodies


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value (already URL-encoded, as DingTalk's sample code gives it)."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The body's ``sign``: the HMAC key is ``timestamp\\nsecret``, the message empty."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    """The robot URL with ``timestamp`` and ``sign`` added (when the robot has a secret)."""
    if not secret:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("timestamp", "sign")]
    extra = f"timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"
    joined = f"{urlencode(query)}&{extra}" if query else extra
    return urlunsplit(parts._replace(query=joined))


def dingtalk_body(title: str, text: str, mobiles: list[str]) -> bytes:
    mentions = "".join(f" @{m}" for m in mobiles if f"@{m}" not in text)
    room = DINGTALK_MAX_BYTES - len(mentions.encode()) - len(title.encode()) - 200
    body = {
        "msgtype": "markdown",
        "markdown": {"title": title, "text": clip(text, room) + mentions},
        "at": {"atMobiles": mobiles, "isAtAll": False},
    }
    return orjson.dumps(body)


def wecom_body(content: str) -> bytes:
    return orjson.dumps({"msgtype": "markdown", "markdown": {"content": clip(content)}})


def feishu_body(card: dict[str, Any], secret: str | None, timestamp_s: int) -> bytes:
    body: dict[str, Any] = {"msg_type": "interactive", "card": card}
    if secret:
        body = {"timestamp": str(timestamp_s), "sign": feishu_sign(secret, timestamp_s), **body}
    return orjson.dumps(body)


def clip(text: str, limit: int = WECOM_MAX_BYTES) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, on a character boundary, marked ``…``."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "…"


def verdict(kind: str, status: int, body: bytes) -> str | None:
    """None when the vendor took the message, else the error class to record.

    The robots answer 200 for their own errors too: the JSON code decides (DingTalk and WeCom
    ``errcode``, Feishu ``code``; old Feishu hooks ``StatusCode``)."""
    if not 200 <= status < 300:
        return f"http_{status}"
    if kind not in ROBOTS:
        return None
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "vendor_bad_answer"
    if not isinstance(answer, dict):
        return "vendor_bad_answer"
    key = "code" if kind == "feishu" and "code" in answer else "errcode"
    if kind == "feishu" and key not in answer:
        key = "StatusCode"
    code = answer.get(key)
    if code == 0:
        return None
    return f"vendor_error_{code}" if isinstance(code, int) else "vendor_bad_answer"


def url_problem(kind: str, url: str) -> str | None:
    """Why ``url`` is not a robot URL of ``kind`` (None: it is). The host is not pinned to
    the vendor's: parks behind a proxy or on a private deployment post elsewhere."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if kind == "dingtalk" and not query.get("access_token"):
        return "a DingTalk robot URL carries ?access_token=..."
    if kind == "wecom" and not query.get("key"):
        return "a WeCom robot URL carries ?key=..."
    if kind == "feishu" and "/bot/v2/hook/" not in parts.path:
        return "a Feishu bot URL looks like https://open.feishu.cn/open-apis/bot/v2/hook/<id>"
    return None
