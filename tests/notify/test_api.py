"""The admin API refuses what it cannot deliver or must not reach, with problem+json; and
notifications follow the alarm policy (a shelved alarm tells nobody)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.notify.conftest import (
    ParkWorld,
    Robot,
    add_channel,
    add_person,
    query,
    raise_alarm,
    set_routes,
    worker_round,
)


def _post(client: TestClient, admin: dict[str, str], park: str, body: dict[str, object]) -> int:
    response = client.post(f"/api/v1/parks/{park}/notify/channels", json=body, headers=admin)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
    return response.status_code


def test_channels_are_checked(
    n_client: TestClient, n_admin: dict[str, str], world: ParkWorld
) -> None:
    park = world.park_id
    ding = {"name": "x", "kind": "dingtalk"}
    # no access_token; a private address outside the allowed networks; a bad scheme
    assert _post(n_client, n_admin, park, {**ding, "url": "http://127.0.0.1:9/robot/send"}) == 422
    assert (
        _post(n_client, n_admin, park, {**ding, "url": "http://10.1.2.3/robot/send?access_token=a"})
        == 422
    )
    assert (
        _post(n_client, n_admin, park, {**ding, "url": "file:///etc/passwd?access_token=a"}) == 422
    )
    # email needs addresses and no URL; a webhook needs a whsec_ secret
    assert _post(n_client, n_admin, park, {"name": "m", "kind": "email"}) == 422
    assert (
        _post(
            n_client,
            n_admin,
            park,
            {"name": "m", "kind": "email", "recipients": ["not an address"]},
        )
        == 422
    )
    assert (
        _post(
            n_client, n_admin, park, {"name": "w", "kind": "webhook", "url": "http://127.0.0.1:9/h"}
        )
        == 422
    )
    # the secret never comes back, nor the robot's token
    robot = Robot("dingtalk").start()
    try:
        add_channel(
            n_client, n_admin, park, name="钉钉", kind="dingtalk", url=robot.url, secret="SECx"
        )
    finally:
        robot.stop()
    listed = n_client.get(f"/api/v1/parks/{park}/notify/channels", headers=n_admin).json()
    assert listed[0]["has_secret"] is True and "secret" not in listed[0]
    assert "tok123" not in listed[0]["url"] and listed[0]["rate_per_min"] == 20


def test_routes_and_the_chain_refer_only_to_the_parks_own(
    n_client: TestClient, n_admin: dict[str, str], world: ParkWorld
) -> None:
    park = world.park_id
    channel = add_channel(n_client, n_admin, park, name="m", kind="email", recipients=["a@b.cn"])
    stranger = str(uuid.uuid4())
    bad = [{"channel_id": stranger, "event_types": ["*"]}]
    answer = n_client.put(f"/api/v1/parks/{park}/notify/routes", json=bad, headers=n_admin)
    assert answer.status_code == 422
    bad = [{"channel_id": channel, "event_types": ["*"], "person_ids": [stranger]}]
    assert (
        n_client.put(f"/api/v1/parks/{park}/notify/routes", json=bad, headers=n_admin).status_code
        == 422
    )
    bad = [{"channel_id": channel, "event_types": ["alarm raised; drop"]}]
    assert (
        n_client.put(f"/api/v1/parks/{park}/notify/routes", json=bad, headers=n_admin).status_code
        == 422
    )
    quiet = [{"channel_id": channel, "event_types": ["*"], "quiet_start": "22:00:00"}]
    assert (
        n_client.put(f"/api/v1/parks/{park}/notify/routes", json=quiet, headers=n_admin).status_code
        == 422
    )
    chain = {"steps": [{"person_id": stranger, "channel_id": channel, "wait_s": 300}]}
    assert (
        n_client.put(
            f"/api/v1/parks/{park}/notify/escalation", json=chain, headers=n_admin
        ).status_code
        == 422
    )
    person = add_person(n_client, n_admin, park, name="张三", email="z@b.cn")
    chain = {"steps": [{"person_id": person, "channel_id": channel, "wait_s": 10}]}
    assert (
        n_client.put(
            f"/api/v1/parks/{park}/notify/escalation", json=chain, headers=n_admin
        ).status_code
        == 422
    )
    assert (
        n_client.post(
            f"/api/v1/parks/{park}/notify/people",
            json={"name": "x", "mobile": "12ab"},
            headers=n_admin,
        ).status_code
        == 422
    )


def test_a_shelved_alarm_tells_nobody(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    robot = Robot("wecom").start()
    try:
        channel = add_channel(
            n_client, n_admin, world.park_id, name="企微", kind="wecom", url=robot.url
        )
        set_routes(
            n_client, n_admin, world.park_id, [{"channel_id": channel, "event_types": ["*"]}]
        )
        raise_alarm(world, severity="major", value=30, threshold=25, shelved=True)
        worker_round(n_settings)
    finally:
        robot.stop()
    assert robot.requests == []
    assert query(
        world.database_url, "SELECT count(*) FROM notify_message WHERE channel_id = %s", channel
    ) == [(0,)]


def test_routes_match_event_type_severity_building_and_device_type(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    robot = Robot("wecom").start()
    filters = {
        "this building": {"building_id": "b3"},
        "gas detectors, major and up": {"device_type": "gas_detector", "min_severity": "major"},
        "another building": {"building_id": "b9"},
        "smoke detectors": {"device_type": "smoke_detector"},
        "critical only": {"min_severity": "critical"},
        "device events": {"event_types": ["device.*"]},
    }
    try:
        channels = {
            name: add_channel(
                n_client, n_admin, world.park_id, name=name, kind="wecom", url=robot.url
            )
            for name in filters
        }
        set_routes(
            n_client,
            n_admin,
            world.park_id,
            [
                {"channel_id": channels[name], "event_types": ["alarm.*"], **extra}
                for name, extra in filters.items()
            ],
        )
        raise_alarm(world, severity="major", value=30, threshold=25)  # gas-7 in building b3
        worker_round(n_settings)
    finally:
        robot.stop()
    told = {
        name
        for name, channel in channels.items()
        if query(
            world.database_url, "SELECT count(*) FROM notify_message WHERE channel_id = %s", channel
        )
        == [(1,)]
    }
    assert told == {"this building", "gas detectors, major and up"}
    assert len(robot.requests) == 2
