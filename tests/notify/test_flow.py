"""A burst merged into one digest; escalation through three people with a controlled clock;
the one-click acknowledge link accepted once, refused when expired or reused; a dead robot
holding back nothing else."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.notify import acklink
from tests.notify.conftest import (
    ACK_SECRET,
    DING_SECRET,
    ParkWorld,
    Robot,
    add_channel,
    add_person,
    escalate,
    query,
    raise_alarm,
    set_routes,
    worker_round,
)


def test_a_burst_becomes_one_digest(
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
        set_routes(
            n_client,
            n_admin,
            world.park_id,
            [{"channel_id": channel, "event_types": ["alarm.raised"]}],
        )
        # 25 detectors alarm within one worker round: more than the robot's 20 a minute
        with_devices = [f"gas-b{i:02d}" for i in range(25)]
        for device in with_devices:
            query(
                world.database_url,
                "INSERT INTO device (park_id, id, type, name, building_id) VALUES"
                " (%s, %s, 'gas_detector', %s, 'b3') RETURNING id",
                world.park_id,
                device,
                f"探测器 {device}",
            )
            raise_alarm(world, severity="major", value=30, threshold=25, device_id=device)
        worker_round(n_settings)
    finally:
        robot.stop()
    assert robot.refused == []
    assert len(robot.requests) == 1  # one digest, nothing dropped
    text = robot.requests[0][1]["markdown"]["text"]
    assert "25 条通知汇总" in text
    assert all(f"探测器 {d}" in text for d in with_devices)
    rows = query(
        world.database_url,
        "SELECT status, count(*), count(DISTINCT attempt_id) FROM notify_message"
        " WHERE channel_id = %s GROUP BY status",
        channel,
    )
    assert rows == [("sent", 25, 1)]


def _close(world: ParkWorld, alarm_id: str) -> None:
    query(
        world.database_url,
        "UPDATE alarm SET active = false, closed_at = now() WHERE id = %s RETURNING id",
        alarm_id,
    )


def test_repeats_are_deduplicated_and_quiet_hours_defer(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    robot = Robot("wecom").start()
    local = datetime.now(UTC) + timedelta(hours=8)  # the park is in Asia/Shanghai
    quiet = {
        "quiet_start": (local - timedelta(hours=1)).strftime("%H:%M:00"),
        "quiet_end": (local + timedelta(hours=1)).strftime("%H:%M:00"),
    }
    try:
        channel = add_channel(
            n_client, n_admin, world.park_id, name="企微", kind="wecom", url=robot.url
        )
        set_routes(
            n_client,
            n_admin,
            world.park_id,
            [{"channel_id": channel, "event_types": ["alarm.*"], **quiet}],
        )
        first = raise_alarm(world, severity="minor", value=30, threshold=25)
        worker_round(n_settings)
        _close(world, first)
        repeat = raise_alarm(world, severity="minor", value=31, threshold=25)
        worker_round(n_settings)
        _close(world, repeat)
        raise_alarm(world, severity="critical")
        worker_round(n_settings)
    finally:
        robot.stop()
    rows = query(
        world.database_url,
        "SELECT severity, status, next_attempt_at > now() + interval '50 minutes'"
        " FROM notify_message WHERE channel_id = %s ORDER BY id",
        channel,
    )
    # the minor one waits for the end of the quiet hours (about an hour), its repeat is a
    # duplicate, the critical one goes at once
    assert rows == [
        ("minor", "pending", True),
        ("minor", "duplicate", True),
        ("critical", "sent", False),
    ]
    assert len(robot.requests) == 1
    assert "一级（红色）" in robot.requests[0][1]["markdown"]["content"]


def test_escalation_through_three_people_until_acknowledged(
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
        people = [
            add_person(n_client, n_admin, world.park_id, name=name, mobile=mobile)
            for name, mobile in (
                ("张班长", "13900000001"),
                ("李主管", "13900000002"),
                ("王经理", "13900000003"),
            )
        ]
        chain = {"steps": [{"person_id": p, "channel_id": channel, "wait_s": 300} for p in people]}
        response = n_client.put(
            f"/api/v1/parks/{world.park_id}/notify/escalation", json=chain, headers=n_admin
        )
        assert response.status_code == 200, response.text
        alarm_id = raise_alarm(world)  # critical: its timer starts when the event is routed
        worker_round(n_settings)
        t0 = datetime.now(UTC)
        seen: list[str] = []
        for step, minutes in enumerate((0, 5, 10), start=1):
            assert escalate(n_settings, t0 + timedelta(minutes=minutes, seconds=1)) == 1
            # nothing more is due until that person's 5 minutes have run out
            assert escalate(n_settings, t0 + timedelta(minutes=minutes + 4)) == 0
            worker_round(n_settings)
            body = robot.requests[-1][1]
            seen.append(body["at"]["atMobiles"][0])
            assert f"第 {step} 级升级" in body["markdown"]["text"]
        assert seen == ["13900000001", "13900000002", "13900000003"]

        # 王经理 acknowledges with his link: the next timer ends the escalation
        link = re.search(
            r"\((https://park\.example\.cn/notify/ack/[^)]+)\)",
            robot.requests[-1][1]["markdown"]["text"],
        )
        assert link is not None
        token = link.group(1).rsplit("/", 1)[1]
        assert n_client.post(f"/notify/ack/{token}").status_code == 200
        assert escalate(n_settings, t0 + timedelta(minutes=15, seconds=1)) == 0
    finally:
        robot.stop()
    trail = query(
        world.database_url,
        "SELECT action, actor FROM alarm_event WHERE alarm_id = %s ORDER BY id",
        alarm_id,
    )
    assert [a for a, _ in trail] == ["notify_escalated"] * 3 + [
        "acknowledged",
        "notify_escalation_ended",
    ]
    assert trail[3][1].startswith("notify:王经理 (person:")
    (ended,) = query(
        world.database_url, "SELECT ended_why FROM notify_escalation WHERE alarm_id = %s", alarm_id
    )
    assert ended == ("acknowledged",)


def _token(world: ParkWorld, alarm_id: str, ttl_s: float, now: float | None = None) -> str:
    """A link for 赵工, a person of the park (links are only ever made for one)."""
    (person,) = query(
        world.database_url,
        "INSERT INTO notify_person (park_id, name) VALUES (%s, '赵工') RETURNING id",
        world.park_id,
    )
    return acklink.issue(
        ACK_SECRET,
        alarm_id=alarm_id,
        park_id=world.park_id,
        subject=f"person:{person[0]}",
        name="赵工",
        ttl_s=ttl_s,
        now=now,
    )


BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_the_ack_link_is_accepted_once(n_client: TestClient, world: ParkWorld) -> None:
    alarm_id = raise_alarm(world)
    token = _token(world, alarm_id, 600)
    page = n_client.get(f"/notify/ack/{token}", headers=BROWSER)
    assert page.status_code == 200 and "<form method='post'>" in page.text and "赵工" in page.text
    assert "涂装线可燃气体探测器 A7" in page.text and "3号厂房 二层 涂装车间" in page.text
    (acked,) = query(world.database_url, "SELECT acknowledged FROM alarm WHERE id = %s", alarm_id)
    assert acked == (False,)  # showing the page changes nothing
    first = n_client.post(f"/notify/ack/{token}", headers=BROWSER)
    assert first.status_code == 200 and "已确认" in first.text
    again = n_client.post(f"/notify/ack/{token}", headers=BROWSER)
    assert again.status_code == 409 and "已使用" in again.text
    script = n_client.get(f"/notify/ack/{token}")  # not a browser: problem+json
    assert script.status_code == 409
    assert script.headers["content-type"] == "application/problem+json"
    assert script.json()["reason"] == "used"
    (row,) = query(
        world.database_url,
        "SELECT acknowledged, acknowledged_by FROM alarm WHERE id = %s",
        alarm_id,
    )
    assert row[0] is True and row[1].startswith("notify:赵工 (person:")


def test_the_ack_link_is_refused_when_expired_or_forged(
    n_client: TestClient, world: ParkWorld
) -> None:
    alarm_id = raise_alarm(world)
    expired = _token(world, alarm_id, 60, now=datetime.now(UTC).timestamp() - 120)
    gone = n_client.get(f"/notify/ack/{expired}", headers=BROWSER)
    assert gone.status_code == 410 and "已过期" in gone.text
    assert n_client.post(f"/notify/ack/{expired}").status_code == 410
    forged = acklink.issue(
        "another-secret-of-sufficient-length!!",
        alarm_id=alarm_id,
        park_id=world.park_id,
        subject="person:x",
        name="x",
        ttl_s=600,
    )
    assert n_client.post(f"/notify/ack/{forged}").status_code == 403
    assert n_client.post("/notify/ack/garbage").status_code == 403
    (acked,) = query(world.database_url, "SELECT acknowledged FROM alarm WHERE id = %s", alarm_id)
    assert acked == (False,)


def test_a_dead_robot_holds_back_neither_another_robot_nor_another_park(
    n_client: TestClient,
    n_admin: dict[str, str],
    n_settings: Settings,
    world: ParkWorld,
    database_url: str,
) -> None:
    dead, alive = Robot("dingtalk", DING_SECRET, fail_with=500).start(), Robot("wecom").start()
    try:
        bad = add_channel(
            n_client,
            n_admin,
            world.park_id,
            name="坏",
            kind="dingtalk",
            url=dead.url,
            secret=DING_SECRET,
        )
        good = add_channel(n_client, n_admin, world.park_id, name="好", kind="wecom", url=alive.url)
        set_routes(
            n_client,
            n_admin,
            world.park_id,
            [{"channel_id": bad, "event_types": ["*"]}, {"channel_id": good, "event_types": ["*"]}],
        )
        raise_alarm(world)
        settings = n_settings.model_copy(update={"webhook_retry_schedule": [timedelta(0)]})
        worker_round(settings)  # the first failure: retried at once (schedule 0 s)
        worker_round(settings)  # the second: the schedule is spent, a dead letter
    finally:
        dead.stop()
        alive.stop()
    assert len(alive.requests) == 1
    dead_letters = n_client.get(
        f"/api/v1/parks/{world.park_id}/notify/messages?status=dead", headers=n_admin
    ).json()["items"]
    assert [(m["channel_id"], m["failures"], m["last_error"]) for m in dead_letters] == [
        (bad, 2, "http_500")
    ]
    (failures,) = query(
        database_url, "SELECT consecutive_failures FROM notify_channel WHERE id = %s", bad
    )
    assert failures == (2,)


def test_a_slow_robot_does_not_delay_another_channel(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    release = threading.Event()
    slow, quick = Robot("dingtalk", hold=release).start(), Robot("wecom").start()
    try:
        tarpit = add_channel(
            n_client, n_admin, world.park_id, name="慢", kind="dingtalk", url=slow.url
        )
        add_channel(n_client, n_admin, world.park_id, name="快", kind="wecom", url=quick.url)
        channels = n_client.get(
            f"/api/v1/parks/{world.park_id}/notify/channels", headers=n_admin
        ).json()
        set_routes(
            n_client,
            n_admin,
            world.park_id,
            [{"channel_id": c["id"], "event_types": ["*"]} for c in channels],
        )
        raise_alarm(world)
        round_ = threading.Thread(target=worker_round, args=(n_settings,))
        round_.start()
        with quick.cond:  # the quick robot is served while the slow one still holds its send
            assert quick.cond.wait_for(lambda: bool(quick.requests), 30)
        # the slow robot has the request but has not answered: its message is still in flight
        assert query(
            world.database_url, "SELECT status FROM notify_message WHERE channel_id = %s", tarpit
        ) == [("pending",)]
        release.set()
        round_.join(60)
    finally:
        release.set()
        slow.stop()
        quick.stop()
    assert len(slow.requests) == 1
    (state,) = query(
        world.database_url, "SELECT status FROM notify_message WHERE channel_id = %s", tarpit
    )
    assert state == ("sent",)


def test_over_the_rate_messages_wait_and_go_as_one_digest(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    robot = Robot("dingtalk").start()
    try:
        channel = add_channel(
            n_client,
            n_admin,
            world.park_id,
            name="钉钉",
            kind="dingtalk",
            url=robot.url,
            rate_per_min=1,
        )
        set_routes(
            n_client,
            n_admin,
            world.park_id,
            [{"channel_id": channel, "event_types": ["alarm.raised"]}],
        )
        devices = [f"gas-r{i}" for i in range(4)]
        for device in devices:
            query(
                world.database_url,
                "INSERT INTO device (park_id, id, type, name) VALUES"
                " (%s, %s, 'gas_detector', %s) RETURNING id",
                world.park_id,
                device,
                f"探测器 {device}",
            )
        raise_alarm(world, device_id=devices[0])
        worker_round(n_settings)  # the minute's one message
        for device in devices[1:]:
            raise_alarm(world, device_id=device)
        worker_round(n_settings)  # over the rate: they wait, nothing is dropped
        assert len(robot.requests) == 1
        waiting = query(
            world.database_url,
            "SELECT count(*) FROM notify_message WHERE channel_id = %s AND status = 'pending'",
            channel,
        )
        assert waiting == [(3,)]
        # a minute later (the attempt log moved back instead of the clock)
        query(
            world.database_url,
            "UPDATE notify_attempt SET started_at = started_at"
            " - interval '61 seconds' WHERE channel_id = %s RETURNING id",
            channel,
        )
        worker_round(n_settings)
    finally:
        robot.stop()
    assert len(robot.requests) == 2
    digest = robot.requests[1][1]["markdown"]["text"]
    assert "3 条通知汇总" in digest and all(f"探测器 {d}" in digest for d in devices[1:])
