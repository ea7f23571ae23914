"""bench/alarm_latency's pure helpers: percentiles, and its receiver's bookkeeping (no services)."""

from __future__ import annotations

import json
import time

import pytest

from app.webhooks.signing import headers, new_secret
from bench.alarm_latency import Receiver, Summary, percentile


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100, in any order
    assert percentile(values[::-1], 0.0) == 1.0
    assert percentile(values, 0.5) == pytest.approx(50.5)
    assert percentile(values, 0.99) == pytest.approx(99.01)
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0


def test_summary_of_latencies() -> None:
    s = Summary.of([0.1, 0.2, 0.3, 0.4, 1.0])
    assert (s.n, s.p50, s.max) == (5, 0.3, 1.0)
    assert s.ms() == "300 / 760 / 976 / 1000"


def _signed(secret: str, event_id: str, body: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, headers([secret], event_id, int(time.time()), raw)


def test_receiver_verifies_and_keeps_the_first_arrival() -> None:
    receiver = Receiver(secret=new_secret())
    event = {"type": "alarm.raised", "data": {"device_id": "g1"}}
    body, sent = _signed(receiver.secret, "e1", event)
    assert receiver.record(body, sent, 10.0)
    assert receiver.record(body, sent, 11.0)  # redelivered: counted, first arrival kept
    assert receiver.arrivals == {"g1": 10.0}
    assert receiver.duplicates == 1

    forged, sent = _signed(new_secret(), "e2", {**event, "data": {"device_id": "g2"}})
    assert not receiver.record(forged, sent, 12.0)
    assert receiver.bad_signatures == 1
    assert "g2" not in receiver.arrivals

    ping, sent = _signed(receiver.secret, "e3", {"type": "webhook.test", "data": {}})
    assert receiver.record(ping, sent, 13.0)
    assert receiver.others == ["webhook.test"]


def test_the_fake_dingtalk_robot_checks_the_signature_and_reads_a_digest() -> None:
    from app.notify import vendors
    from bench.alarm_latency import DING_SECRET, DingTalkRobot

    robot = DingTalkRobot(secret=DING_SECRET)
    now_ms = int(time.time() * 1000)
    url = vendors.dingtalk_url("http://x/robot/send?access_token=t", DING_SECRET, now_ms)
    path = url.removeprefix("http://x")
    body = vendors.dingtalk_body("t", "gas detector g1 ... gas detector g2", [])
    assert robot.record(body, {}, now_ms / 1000, path)
    assert robot.arrivals == {"g1": now_ms / 1000, "g2": now_ms / 1000} and robot.messages == 1
    assert robot.reply(True) == (200, b'{"errcode":0,"errmsg":"ok"}')

    wrong = vendors.dingtalk_url("http://x/robot/send?access_token=t", "SECother", now_ms)
    assert not robot.record(body, {}, now_ms / 1000, wrong.removeprefix("http://x"))
    assert robot.bad_signatures == 1
