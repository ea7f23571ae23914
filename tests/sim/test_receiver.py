"""The demo's webhook receiver: accepts what parktwin signs, refuses anything else."""

from __future__ import annotations

import time

import httpx
import orjson

from app.webhooks.signing import headers, new_secret
from sensors_sim.receiver import Receiver


def test_signed_events_are_accepted_and_others_refused() -> None:
    receiver = Receiver().start()
    secret = new_secret()
    receiver.secret = secret
    try:
        body = orjson.dumps({"id": "e1", "type": "alarm.raised", "park_id": "demo", "data": {}})
        signed = headers([secret], "e1", int(time.time()), body)
        with httpx.Client() as client:
            ok = client.post(receiver.url, content=body, headers=signed)
            forged = client.post(
                receiver.url,
                content=body,
                headers=headers([new_secret()], "e1", int(time.time()), body),
            )
            unsigned = client.post(receiver.url, content=body)
        assert (ok.status_code, forged.status_code, unsigned.status_code) == (204, 401, 401)
        assert [e["id"] for e in receiver.events] == ["e1"] and receiver.rejected == 2
    finally:
        receiver.stop()
