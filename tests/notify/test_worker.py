"""``parktwin worker`` as a real process delivers a gas alarm to a DingTalk robot: the job list,
the LISTEN wake-up and the routing after the webhooks' fan-out, wired as in
production."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.ingest_support import wait_until
from tests.notify.conftest import (
    DING_SECRET,
    ParkWorld,
    Robot,
    add_channel,
    query,
    raise_alarm,
    set_routes,
)
from tests.webhooks.conftest import start_worker


def test_the_worker_process_delivers_to_a_robot(
    n_client: TestClient, n_admin: dict[str, str], world: ParkWorld
) -> None:
    robot = Robot("dingtalk", DING_SECRET).start()
    worker = start_worker(world.database_url, public_url="https://ops.example.cn")
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
        alarm_id = raise_alarm(world)
        wait_until(lambda: bool(robot.requests), 45, "the robot never got the alarm")
        wait_until(
            lambda: (
                query(
                    world.database_url,
                    "SELECT status FROM notify_message WHERE channel_id = %s",
                    channel,
                )
                == [("sent",)]
            ),
            45,
            "the message was never recorded as sent",
        )
    finally:
        worker.stop()
        robot.stop()
    assert robot.refused == []
    text = robot.requests[0][1]["markdown"]["text"]
    assert f"https://ops.example.cn/#park={world.park_id}&alarm={alarm_id}" in text
    assert "/notify/ack/" not in text  # no PARKTWIN_NOTIFY_ACK_SECRET: no links
    assert worker.process.returncode == 0, worker.output()
