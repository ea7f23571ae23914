"""Each vendor's robot and SMTP receive the alarm as their documentation defines it: signed,
in their message shape, in Chinese, with the place, device, reading against threshold, level
with its colour word, park-local time, the response plan and the cockpit link."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.webhooks.signing import new_secret
from tests.notify.conftest import (
    DING_SECRET,
    FEISHU_SECRET,
    Mailbox,
    ParkWorld,
    Robot,
    add_channel,
    add_person,
    query,
    raise_alarm,
    set_routes,
    worker_round,
)


@pytest.fixture
def robots() -> Iterator[dict[str, Robot]]:
    started = {
        "dingtalk": Robot("dingtalk", DING_SECRET).start(),
        "wecom": Robot("wecom").start(),
        "feishu": Robot("feishu", FEISHU_SECRET).start(),
    }
    yield started
    for robot in started.values():
        robot.stop()


def _common_facts(text: str, world: ParkWorld, alarm_id: str) -> None:
    assert "苏州智造园" in text and "3号厂房" in text and "二层" in text and "涂装车间" in text
    assert "涂装线可燃气体探测器 A7" in text and "可燃气体探测器" in text
    assert "55 %LEL" in text and "阈值 50 %LEL" in text  # value with unit against the threshold
    assert "一级" in text and "红色" in text
    # raised 06:30 UTC is 14:30 in Asia/Shanghai (UTC+8)
    assert "2026-12-03 14:30:00" in text
    # the plan in force for gas_leak (app/emergency's default), its critical tasks marked
    assert "可燃气体泄漏应急预案" in text and "Cut off the gas supply to the area（关键）" in text
    assert "'title'" not in text
    assert f"https://park.example.cn/#park={world.park_id}&alarm={alarm_id}" in text


def test_each_robot_gets_its_vendors_format_signed(
    n_client: TestClient,
    n_admin: dict[str, str],
    n_settings: Settings,
    world: ParkWorld,
    robots: dict[str, Robot],
) -> None:
    person = add_person(
        n_client,
        n_admin,
        world.park_id,
        name="王工",
        mobile="13800138000",
        wecom_userid="wanggong",
        email="wang@park.example.cn",
    )
    channels = [
        add_channel(
            n_client,
            n_admin,
            world.park_id,
            name="钉钉安全群",
            kind="dingtalk",
            url=robots["dingtalk"].url,
            secret=DING_SECRET,
        ),
        add_channel(
            n_client,
            n_admin,
            world.park_id,
            name="企微值班群",
            kind="wecom",
            url=robots["wecom"].url,
        ),
        add_channel(
            n_client,
            n_admin,
            world.park_id,
            name="飞书应急群",
            kind="feishu",
            url=robots["feishu"].url,
            secret=FEISHU_SECRET,
        ),
    ]
    set_routes(
        n_client,
        n_admin,
        world.park_id,
        [
            {
                "channel_id": c,
                "event_types": ["alarm.*"],
                "min_severity": "major",
                "person_ids": [person],
            }
            for c in channels
        ],
    )
    alarm_id = raise_alarm(world)
    worker_round(n_settings)

    for robot in robots.values():
        assert robot.refused == [], robot.refused
        assert len(robot.requests) == 1, robot.kind
    ((_query, ding),) = robots["dingtalk"].requests
    text = ding["markdown"]["text"]
    _common_facts(text, world, alarm_id)
    assert ding["at"] == {"atMobiles": ["13800138000"], "isAtAll": False}
    assert "/notify/ack/v1." in text  # 王工's own acknowledge link
    assert ding["markdown"]["title"].startswith("【一级（红色）告警】")

    ((_q, wecom),) = robots["wecom"].requests
    _common_facts(wecom["markdown"]["content"], world, alarm_id)
    assert "<@wanggong>" in wecom["markdown"]["content"]
    assert '<font color="warning">' in wecom["markdown"]["content"]

    ((_q, feishu),) = robots["feishu"].requests
    card = feishu["card"]
    assert card["header"]["template"] == "red"
    content = " ".join(e["text"]["content"] for e in card["elements"] if e["tag"] == "div")
    _common_facts(content + " " + str(card["elements"][-1]), world, alarm_id)
    buttons = card["elements"][-1]["actions"]
    assert buttons[0]["url"].startswith("https://park.example.cn/#park=")
    assert buttons[1]["url"].startswith("https://park.example.cn/notify/ack/v1.")

    states = query(
        world.database_url,
        "SELECT status, attempts FROM notify_message WHERE park_id = %s",
        world.park_id,
    )
    assert states == [("sent", 1)] * 3


def test_a_wrong_secret_is_refused_by_the_robot_and_recorded_as_a_failure(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    robot = Robot("feishu", FEISHU_SECRET).start()
    try:
        channel = add_channel(
            n_client,
            n_admin,
            world.park_id,
            name="飞书",
            kind="feishu",
            url=robot.url,
            secret="not-the-secret",
        )
        set_routes(
            n_client, n_admin, world.park_id, [{"channel_id": channel, "event_types": ["*"]}]
        )
        raise_alarm(world)
        worker_round(n_settings)
    finally:
        robot.stop()
    assert robot.refused == ["sign match fail"] and robot.requests == []
    # Feishu answered HTTP 200 with code 19021: a failure, to be retried
    rows = query(
        world.database_url,
        "SELECT m.status, m.failures, m.last_error, a.status_code FROM notify_message m"
        " JOIN notify_attempt a ON a.id = m.attempt_id WHERE m.channel_id = %s",
        channel,
    )
    assert rows == [("pending", 1, "vendor_error_19021", 200)]


def test_email_goes_over_starttls_to_the_list_and_the_mentioned_people(
    n_client: TestClient,
    n_admin: dict[str, str],
    n_settings: Settings,
    world: ParkWorld,
    mailbox: Mailbox,
) -> None:
    settings = n_settings.model_copy(update={"smtp_port": mailbox.port})
    person = add_person(n_client, n_admin, world.park_id, name="李工", email="li@park.example.cn")
    channel = add_channel(
        n_client,
        n_admin,
        world.park_id,
        name="安全邮件组",
        kind="email",
        recipients=["safety@park.example.cn"],
    )
    set_routes(
        n_client,
        n_admin,
        world.park_id,
        [{"channel_id": channel, "event_types": ["alarm.raised"], "person_ids": [person]}],
    )
    alarm_id = raise_alarm(world)
    worker_round(settings)

    ((envelope, message, encrypted),) = mailbox.messages
    assert encrypted  # the server refuses MAIL before STARTTLS: the session was upgraded
    assert envelope.mail_from == "alarm@park.example.cn"
    assert sorted(envelope.rcpt_tos) == ["li@park.example.cn", "safety@park.example.cn"]
    assert str(message["Subject"]).startswith("【一级（红色）告警】苏州智造园")
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    _common_facts(plain.get_content(), world, alarm_id)
    assert "li@park.example.cn" not in plain.get_content()  # people by name, not address


def test_a_webhook_channel_gets_a_standard_webhooks_signed_notification(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    secret = new_secret()
    robot = Robot("webhook", secret).start()
    try:
        channel = add_channel(
            n_client,
            n_admin,
            world.park_id,
            name="值班系统",
            kind="webhook",
            url=robot.url,
            secret=secret,
            language="en",
        )
        set_routes(
            n_client,
            n_admin,
            world.park_id,
            [{"channel_id": channel, "event_types": ["alarm.raised"]}],
        )
        raise_alarm(world)
        worker_round(n_settings)
    finally:
        robot.stop()
    assert robot.refused == []
    ((_query, body),) = robot.requests
    assert body["type"] == "notification" and body["park_id"] == world.park_id
    assert body["data"]["title"] == "[Alarm, level 1 (red)] 苏州智造园"
    assert body["data"]["facts"]["Reading"] == "55 %LEL (threshold 50 %LEL)"


def test_a_test_message_reaches_the_robot(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    robot = Robot("dingtalk", DING_SECRET).start()
    try:
        channel = add_channel(
            n_client,
            n_admin,
            world.park_id,
            name="钉钉",
            kind="dingtalk",
            url=robot.url,
            secret=DING_SECRET,
        )
        path = f"/api/v1/parks/{world.park_id}/notify/channels/{channel}/test"
        queued = n_client.post(path, headers=n_admin)
        assert queued.status_code == 202 and queued.json()["status"] == "pending"
        missing = n_client.post(path.replace(channel, str(uuid.uuid4())), headers=n_admin)
        assert missing.status_code == 404
        worker_round(n_settings)
    finally:
        robot.stop()
    ((_query, body),) = robot.requests
    assert body["markdown"]["title"] == "【通知测试消息】苏州智造园"
    assert "设备" not in body["markdown"]["text"]
