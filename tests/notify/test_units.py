"""The pure parts: signatures against hand-computed vectors, the vendors' verdicts, quiet
hours, dedup keys, acknowledge tokens, rendering in both languages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, time
from urllib.parse import unquote_plus

import orjson
import pytest

from app.notify import acklink, vendors
from app.notify.render import place, reading, render
from app.notify.routing import dedup_key, quiet_until


def test_dingtalk_sign_is_the_documented_hmac() -> None:
    # open.dingtalk.com 自定义机器人安全设置: string_to_sign = timestamp + "\n" + secret,
    # HmacSHA256 keyed with the secret, base64, then urlencoded.
    secret, ts = "SECabc", 1700000000000
    digest = hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode()
    assert unquote_plus(vendors.dingtalk_sign(secret, ts)) == expected
    url = vendors.dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=t", secret, ts)
    assert url.startswith(
        "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000&sign="
    )


def test_feishu_sign_keys_the_hmac_with_timestamp_and_secret() -> None:
    # open.feishu.cn 自定义机器人: key = timestamp + "\n" + secret, message empty
    expected = base64.b64encode(hmac.new(b"1700000000\nabc", b"", hashlib.sha256).digest())
    assert vendors.feishu_sign("abc", 1700000000) == expected.decode()
    body = orjson.loads(vendors.feishu_body({"header": {}}, "abc", 1700000000))
    assert body["timestamp"] == "1700000000" and body["sign"] == expected.decode()
    assert body["msg_type"] == "interactive"


@pytest.mark.parametrize(
    ("kind", "status", "body", "expected"),
    [
        ("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}', None),
        ("dingtalk", 200, b'{"errcode":310000,"errmsg":"sign not match"}', "vendor_error_310000"),
        ("wecom", 200, b'{"errcode":45009,"errmsg":"api freq out of limit"}', "vendor_error_45009"),
        ("feishu", 200, b'{"code":0,"msg":"success"}', None),
        ("feishu", 200, b'{"code":19021,"msg":"sign match fail"}', "vendor_error_19021"),
        ("feishu", 200, b'{"StatusCode":0,"StatusMessage":"success"}', None),
        ("feishu", 200, b"<html>", "vendor_bad_answer"),
        ("dingtalk", 502, b"", "http_502"),
        ("webhook", 204, b"", None),
    ],
)
def test_the_vendors_answers(kind: str, status: int, body: bytes, expected: str | None) -> None:
    assert vendors.verdict(kind, status, body) == expected


def test_wecom_content_is_cut_to_4096_bytes_on_a_character() -> None:
    content = orjson.loads(vendors.wecom_body("告" * 3000))["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith("…")


def test_quiet_hours_in_the_parks_timezone() -> None:
    tz = "Asia/Shanghai"  # UTC+8
    night = (time(22, 0), time(7, 0))
    # 15:00 UTC = 23:00 local: quiet until 07:00 local next day = 23:00 UTC
    ends = quiet_until(datetime(2026, 12, 3, 15, 0, tzinfo=UTC), tz, *night)
    assert ends is not None and ends.astimezone(UTC) == datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
    # 20:00 UTC = 04:00 local: quiet until 07:00 local the same day = 23:00 UTC
    ends = quiet_until(datetime(2026, 12, 3, 20, 0, tzinfo=UTC), tz, *night)
    assert ends is not None and ends.astimezone(UTC) == datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
    # 02:00 UTC = 10:00 local: not quiet
    assert quiet_until(datetime(2026, 12, 3, 2, 0, tzinfo=UTC), tz, *night) is None
    assert quiet_until(datetime(2026, 12, 3, 2, 0, tzinfo=UTC), tz, None, None) is None


def test_critical_notifications_have_no_dedup_key() -> None:
    data = {"device_id": "g1", "metric": "gas_lel_pct", "type": "threshold"}
    assert dedup_key("alarm.raised", "critical", data) is None
    assert dedup_key("alarm.raised", "major", data) == "alarm.raised|g1|gas_lel_pct|threshold|major"


def test_ack_tokens() -> None:
    alarm = str(uuid.uuid4())
    token = acklink.issue(
        "s" * 32, alarm_id=alarm, park_id="p", subject="person:1", name="张三", ttl_s=60, now=1000.0
    )
    claim = acklink.verify("s" * 32, token, now=1059.0)
    assert str(claim.alarm_id) == alarm and claim.name == "张三"
    with pytest.raises(acklink.BadToken, match="expired"):
        acklink.verify("s" * 32, token, now=1061.0)
    with pytest.raises(acklink.BadToken, match="bad_signature"):
        acklink.verify("t" * 32, token, now=1000.0)
    head, payload, mac = token.split(".")
    with pytest.raises(acklink.BadToken, match="bad_signature"):
        acklink.verify("s" * 32, f"{head}.{payload}x.{mac}", now=1000.0)
    with pytest.raises(acklink.BadToken, match="malformed"):
        acklink.verify("s" * 32, "x" * 2000)


CTX = {
    "type": "alarm.raised",
    "severity": "major",
    "at": "2026-12-03T16:05:00Z",
    "park_id": "p1",
    "park_name": "东区",
    "timezone": "Asia/Shanghai",
    "alarm_id": "a1",
    "device_id": "g1",
    "device_name": "探测器1",
    "device_type": "gas_detector",
    "building_name": "1号楼",
    "floor": -1,
    "floor_name": None,
    "space_name": "泵房",
    "value": 30.0,
    "threshold": 25.0,
    "unit": "%LEL",
    "plan_tasks": [],
    "people": [],
}


def test_render_in_chinese_and_english() -> None:
    zh = render(CTX, "zh", "https://x.cn", lambda *_: None)
    assert zh.title == "【二级（橙色）告警】东区" and zh.color == "orange"
    facts = dict(zh.facts)
    assert facts["位置"] == "1号楼 地下1层 泵房"
    assert facts["读数"] == "30 %LEL（阈值 25 %LEL）"
    assert facts["时间"] == "2026-12-04 00:05:00（Asia/Shanghai）"  # 16:05 UTC + 8 h
    assert zh.todo == ["尽快派人到现场核实"]
    assert zh.link == "https://x.cn/#park=p1&alarm=a1"
    en = render(CTX, "en", "https://x.cn", lambda *_: None)
    assert en.title == "[Alarm, level 2 (orange)] 东区"
    assert (
        place(CTX, "en") == "1号楼 F-1 泵房" and reading(CTX, "en") == "30 %LEL (threshold 25 %LEL)"
    )


def test_the_settings_refuse_a_short_ack_secret_and_a_bare_public_url() -> None:
    from pydantic import ValidationError

    from app.core.config import Settings

    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(notify_ack_secret="short")
    with pytest.raises(ValidationError, match="without a trailing slash"):
        Settings(public_url="https://park.example.cn/")
    with pytest.raises(ValidationError, match="http"):
        Settings(public_url="park.example.cn")
