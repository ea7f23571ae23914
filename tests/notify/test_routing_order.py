"""The webhooks go first: the worker routes events to people in a transaction of its own, after
the webhooks' fan-out has committed and their POSTs have started (``event_outbox.routed_at``,
migration 0035), and a worker stopped in between loses no notification."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alarms import policy as alarm_policy
from app.core.config import Settings
from app.core.db import create_engine_for
from app.notify import routing
from app.webhooks.delivery import Also, WebhookDispatcher
from tests.notify.conftest import (
    DING_SECRET,
    ParkWorld,
    Robot,
    add_channel,
    query,
    raise_alarm,
    set_routes,
    worker_round,
)
from tests.webhooks.conftest import Receiver, create_webhook

HELD_S = 30.0  # how long the held routing waits for the webhook before giving up


class Stopped(Exception):
    """The worker stops here (as SIGKILL would, between two transactions)."""


def dispatch_until_idle(settings: Settings, also: Also) -> BaseException | None:
    """The webhook job of one worker, with ``also`` as its routing, until it has nothing to
    do; what it raised, if anything."""

    async def run() -> BaseException | None:
        engine = create_engine_for(settings.resolved_database_url(), pool_size=2)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        hooks = WebhookDispatcher(hold_back=alarm_policy.hold_back, also=[also])
        await hooks.start(maker, settings)
        try:
            while await hooks(None, settings):  # type: ignore[arg-type]
                pass
        except Stopped as exc:
            return exc
        finally:
            await hooks.aclose()
            await engine.dispose()
        return None

    return asyncio.run(run())


def _robot_and_route(client: TestClient, admin: dict[str, str], world: ParkWorld) -> Robot:
    robot = Robot("dingtalk", DING_SECRET).start()
    channel = add_channel(
        client,
        admin,
        world.park_id,
        name="钉钉",
        kind="dingtalk",
        url=robot.url,
        secret=DING_SECRET,
    )
    set_routes(client, admin, world.park_id, [{"channel_id": channel, "event_types": ["*"]}])
    return robot


def _event_of(world: ParkWorld, alarm_id: str) -> tuple[object, object, object]:
    [row] = query(
        world.database_url,
        "SELECT id, fanned_out_at, routed_at FROM event_outbox WHERE data->>'id' = %s",
        alarm_id,
    )
    return row


def test_the_webhook_is_posted_while_the_routing_to_people_is_still_held(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    robot = _robot_and_route(n_client, n_admin, world)
    receiver = Receiver().start()
    try:
        create_webhook(n_client, n_admin, world.park_id, receiver.url)
        alarm_id = raise_alarm(world)
        posted: list[bool] = []  # per routed batch: had the receiver the alarm's webhook?

        def webhook_arrived() -> bool:
            with receiver.cond:
                return receiver.cond.wait_for(
                    lambda: any(r.json()["data"]["id"] == alarm_id for r in receiver.requests),
                    HELD_S,
                )

        async def held_routing(
            session: AsyncSession, event_ids: Sequence[uuid.UUID], settings: Settings
        ) -> None:
            posted.append(await asyncio.to_thread(webhook_arrived))
            await routing.route(session, event_ids, settings)

        assert dispatch_until_idle(n_settings, held_routing) is None
        worker_round(n_settings)  # the notification job sends what the routing queued
    finally:
        receiver.stop()
        robot.stop()
    # With the routing inside the fan-out's transaction the POST could not start before it
    # ended: the first batch would have waited HELD_S for nothing and recorded False.
    assert posted and all(posted), posted
    event_id, fanned_out_at, routed_at = _event_of(world, alarm_id)
    assert fanned_out_at is not None and routed_at is not None
    [(started_at,)] = query(
        world.database_url,
        "SELECT started_at FROM webhook_attempt WHERE event_id = %s AND attempt = 1",
        event_id,
    )
    assert started_at < routed_at  # the attempt's claim committed before the routing began
    assert robot.refused == []
    assert len(robot.requests) == 1
    assert "涂装线可燃气体探测器 A7" in robot.requests[0][1]["markdown"]["text"]


def test_events_a_stopped_worker_left_unrouted_are_routed_by_the_next_run(
    n_client: TestClient, n_admin: dict[str, str], n_settings: Settings, world: ParkWorld
) -> None:
    robot = _robot_and_route(n_client, n_admin, world)
    try:
        alarm_id = raise_alarm(world)

        async def stop_here(
            _session: AsyncSession, _event_ids: Sequence[uuid.UUID], _settings: Settings
        ) -> None:
            raise Stopped

        assert isinstance(dispatch_until_idle(n_settings, stop_here), Stopped)
        event_id, fanned_out_at, routed_at = _event_of(world, alarm_id)
        assert fanned_out_at is not None and routed_at is None  # fanned out, not routed
        assert (
            query(world.database_url, "SELECT 1 FROM notify_message WHERE event_id = %s", event_id)
            == []
        )
        worker_round(n_settings)  # the next run of any worker
    finally:
        robot.stop()
    assert _event_of(world, alarm_id)[2] is not None
    assert query(
        world.database_url, "SELECT status FROM notify_message WHERE event_id = %s", event_id
    ) == [("sent",)]
    assert robot.refused == []
    assert len(robot.requests) == 1
    assert "涂装线可燃气体探测器 A7" in robot.requests[0][1]["markdown"]["text"]
