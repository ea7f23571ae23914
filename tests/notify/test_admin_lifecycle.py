"""What a park admin does after setting notifications up: a person's new mobile, a person who
left (out of routes and the message log, their acknowledge links void, refused while on the
on-call chain), a robot whose token changed, and the dead letters sent again once it is
mended."""

from __future__ import annotations

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


def _notify(park: str) -> str:
    return f"/api/v1/parks/{park}/notify"


def _ding(client: TestClient, admin: dict[str, str], park: str, robot: Robot) -> str:
    return add_channel(
        client, admin, park, name="安全值班群", kind="dingtalk", url=robot.url, secret=DING_SECRET
    )


def test_a_persons_new_mobile_is_the_one_the_next_message_mentions(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    park, robot = world.park_id, Robot("dingtalk", DING_SECRET).start()
    try:
        channel = _ding(n_client, n_admin, park, robot)
        person = add_person(n_client, n_admin, park, name="张班长", mobile="13900000001")
        set_routes(
            n_client,
            n_admin,
            park,
            [{"channel_id": channel, "event_types": ["alarm.*"], "person_ids": [person]}],
        )
        changed = n_client.put(
            f"{_notify(park)}/people/{person}",
            json={"name": "张班长", "mobile": "13900000009", "email": "zhang@park.cn"},
            headers=n_admin,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json() == {
            "id": person,
            "name": "张班长",
            "mobile": "13900000009",
            "email": "zhang@park.cn",
            "wecom_userid": None,
        }
        raise_alarm(world, severity="major", value=30, threshold=25)
        worker_round(n_settings)
    finally:
        robot.stop()
    assert [body["at"]["atMobiles"] for _q, body in robot.requests] == [["13900000009"]]
    # checked as a new person is; another park's id or an unknown one is not found
    bad = n_client.put(
        f"{_notify(park)}/people/{person}", json={"name": "x", "mobile": "12ab"}, headers=n_admin
    )
    assert bad.status_code == 422
    unknown = "00000000-0000-4000-8000-000000000000"
    gone = n_client.put(f"{_notify(park)}/people/{unknown}", json={"name": "x"}, headers=n_admin)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


def test_a_person_who_left_is_forgotten_and_their_links_stop_working(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    park, robot = world.park_id, Robot("dingtalk", DING_SECRET).start()
    try:
        channel = _ding(n_client, n_admin, park, robot)
        on_call = add_person(n_client, n_admin, park, name="李主管", mobile="13900000002")
        leaver = add_person(n_client, n_admin, park, name="王工", mobile="13900000003")
        stays = add_person(n_client, n_admin, park, name="赵工", mobile="13900000004")
        chain = {"steps": [{"person_id": on_call, "channel_id": channel, "wait_s": 300}]}
        assert n_client.put(f"{_notify(park)}/escalation", json=chain, headers=n_admin).is_success
        set_routes(
            n_client,
            n_admin,
            park,
            [{"channel_id": channel, "event_types": ["*"], "person_ids": [leaver, stays]}],
        )
        alarm_id = raise_alarm(world, severity="major", value=30, threshold=25)
        worker_round(n_settings)  # the group is told, @王工 @赵工
    finally:
        robot.stop()
    assert robot.requests[0][1]["at"]["atMobiles"] == ["13900000003", "13900000004"]
    link = acklink.issue(
        ACK_SECRET,
        alarm_id=alarm_id,
        park_id=park,
        subject=f"person:{leaver}",
        name="王工",
        ttl_s=3600,
    )

    # on the on-call chain: refused, the chain must be replaced first
    refused = n_client.delete(f"{_notify(park)}/people/{on_call}", headers=n_admin)
    assert refused.status_code == 409 and refused.json()["steps"] == [1]

    assert n_client.delete(f"{_notify(park)}/people/{leaver}", headers=n_admin).status_code == 204
    people = n_client.get(f"{_notify(park)}/people", headers=n_admin).json()
    assert [p["name"] for p in people] == ["李主管", "赵工"]
    routes = n_client.get(f"{_notify(park)}/routes", headers=n_admin).json()
    assert routes[0]["person_ids"] == [stays]
    # the message log keeps who was told by name, without the mobile
    (log,) = query(
        world.database_url, "SELECT context::text FROM notify_message WHERE park_id = %s", park
    )
    assert "13900000003" not in log[0] and "王工" in log[0] and "13900000004" in log[0]
    # the link they were sent no longer acknowledges anything
    answer = n_client.post(f"/notify/ack/{link}")
    assert answer.status_code == 403 and answer.json()["reason"] == "revoked"
    (acked,) = query(world.database_url, "SELECT acknowledged FROM alarm WHERE id = %s", alarm_id)
    assert acked == (False,)
    assert n_client.delete(f"{_notify(park)}/people/{leaver}", headers=n_admin).status_code == 404


def test_an_escalation_still_waiting_for_a_removed_person_is_not_sent(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    park, robot = world.park_id, Robot("dingtalk", DING_SECRET).start()
    try:
        channel = _ding(n_client, n_admin, park, robot)
        person = add_person(n_client, n_admin, park, name="孙经理", mobile="13900000005")
        chain = {"steps": [{"person_id": person, "channel_id": channel, "wait_s": 300}]}
        assert n_client.put(f"{_notify(park)}/escalation", json=chain, headers=n_admin).is_success
        raise_alarm(world)  # critical: the escalation timer starts when it is routed
        worker_round(n_settings)
        assert escalate(n_settings, datetime.now(UTC) + timedelta(seconds=1)) == 1
        # the step's message is queued; the chain is emptied and the person removed before
        # the worker sends it
        empty = n_client.put(f"{_notify(park)}/escalation", json={"steps": []}, headers=n_admin)
        assert empty.is_success
        assert (
            n_client.delete(f"{_notify(park)}/people/{person}", headers=n_admin).status_code == 204
        )
        sent_before = len(robot.requests)
        worker_round(n_settings)
    finally:
        robot.stop()
    assert len(robot.requests) == sent_before
    rows = query(
        world.database_url,
        "SELECT status, last_error, recipient, context::text FROM notify_message"
        " WHERE park_id = %s AND kind = 'escalation'",
        park,
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [("dead", "person removed", "")]
    assert "13900000005" not in rows[0][3]


def test_a_mended_robot_gets_its_dead_letters_again(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    park = world.park_id
    broken, mended = Robot("dingtalk", DING_SECRET, fail_with=500).start(), None
    settings = n_settings.model_copy(update={"webhook_retry_schedule": [timedelta(0)]})
    try:
        channel = _ding(n_client, n_admin, park, broken)
        set_routes(n_client, n_admin, park, [{"channel_id": channel, "event_types": ["*"]}])
        raise_alarm(world)
        worker_round(settings)  # fails, due again at once
        worker_round(settings)  # fails: the schedule is spent, a dead letter
        dead = n_client.get(f"{_notify(park)}/messages?status=dead", headers=n_admin).json()
        (message,) = dead["items"]
        assert (message["failures"], message["last_error"]) == (2, "http_500")

        # one message again: a fresh schedule, and dead again on the same broken robot
        one = n_client.post(f"{_notify(park)}/messages/{message['id']}/resend", headers=n_admin)
        assert one.status_code == 200 and one.json() == {"requeued": 1}
        again = n_client.post(f"{_notify(park)}/messages/{message['id']}/resend", headers=n_admin)
        assert again.status_code == 409  # pending now, not dead
        worker_round(settings)
        worker_round(settings)
        assert query(
            world.database_url, "SELECT status, failures FROM notify_message WHERE id = %s",
            message["id"],
        ) == [("dead", 2)]  # fmt: skip

        # the robot's new URL: checked as a new channel's, the circuit closed
        private = n_client.patch(
            f"{_notify(park)}/channels/{channel}",
            json={"url": "http://10.1.2.3/robot/send?access_token=a"},
            headers=n_admin,
        )
        assert private.status_code == 422
        for body in ({"kind": "wecom"}, {"name": None}, {"url": None}):
            answer = n_client.patch(
                f"{_notify(park)}/channels/{channel}", json=body, headers=n_admin
            )
            assert answer.status_code == 422, body
        mended = Robot("dingtalk", DING_SECRET).start()
        patched = n_client.patch(
            f"{_notify(park)}/channels/{channel}",
            json={"url": mended.url, "name": "安全值班群（新）"},
            headers=n_admin,
        )
        assert patched.status_code == 200, patched.text
        shown = patched.json()
        assert shown["name"] == "安全值班群（新）" and shown["has_secret"] is True
        assert shown["consecutive_failures"] == 0 and shown["circuit_open_until"] is None
        assert f":{mended.port}/" in shown["url"] and "tok123" not in shown["url"]

        # the channel's dead letters: none created after tomorrow, this one otherwise
        later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        resend = f"{_notify(park)}/channels/{channel}/resend"
        none = n_client.post(resend, json={"since": later}, headers=n_admin)
        assert none.json() == {"requeued": 0}
        assert n_client.post(resend, headers=n_admin).json() == {"requeued": 1}
        worker_round(settings)
    finally:
        broken.stop()
        if mended is not None:
            mended.stop()
    assert len(mended.requests) == 1 and "可燃气体" in mended.requests[0][1]["markdown"]["text"]
    assert query(
        world.database_url, "SELECT status FROM notify_message WHERE id = %s", message["id"]
    ) == [("sent",)]
    stranger = "00000000-0000-4000-8000-000000000000"
    assert (
        n_client.post(f"{_notify(park)}/channels/{stranger}/resend", headers=n_admin).status_code
        == 404
    )
    assert (
        n_client.post(f"{_notify(park)}/messages/999999999/resend", headers=n_admin).status_code
        == 404
    )
