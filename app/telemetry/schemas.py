"""Schemas of the telemetry reads."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.types import Ident, UtcDateTime
from app.devices.schemas import LatestValue

Source = Literal["raw", "rollup_hour", "rollup_day"]


class DeviceLatest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device_id": "meter-b3-01",
                    "values": {
                        "energy_kwh": {"ts": "2026-11-28T08:00:00Z", "value": 10234.25},
                        "power_kw": {"ts": "2026-11-28T08:00:00Z", "value": 12.5},
                    },
                }
            ]
        }
    )

    device_id: str
    values: dict[str, LatestValue]


class BulkLatest(BaseModel):
    items: list[DeviceLatest]
    next_cursor: str | None = Field(
        default=None, description="paged asks only (`limit`/`cursor`): the next page's cursor"
    )


class BulkLatestQuery(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"device_ids": ["meter-b3-01", "gas-b3-02"], "metrics": ["power_kw"]}]
        }
    )

    device_ids: list[Ident] | None = Field(
        default=None, max_length=5000, description="the devices (default: every device of the park)"
    )
    metrics: list[Ident] | None = Field(
        default=None, max_length=100, description="the metrics (default: all)"
    )


class Point(BaseModel):
    ts: UtcDateTime
    value: float | None


class SeriesRead(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "device_id": "meter-b3-01",
                    "metric": "energy_kwh",
                    "unit": "kWh",
                    "kind": "counter",
                    "interval": "1h",
                    "agg": "delta",
                    "fill": "none",
                    "from": "2026-11-28T00:00:00Z",
                    "to": "2026-11-28T03:00:00Z",
                    "source": "raw",
                    "points": [
                        {"ts": "2026-11-28T00:00:00Z", "value": 41.5},
                        {"ts": "2026-11-28T01:00:00Z", "value": 39.25},
                        {"ts": "2026-11-28T02:00:00Z", "value": 44.0},
                    ],
                }
            ]
        },
    )

    device_id: str
    metric: str
    unit: str
    kind: str
    interval: str | None = Field(description="null: raw readings")
    agg: str | None
    fill: str
    from_: UtcDateTime = Field(alias="from", description="start of the first bucket (inclusive)")
    to: UtcDateTime = Field(description="end of the last bucket (exclusive)")
    source: Source = Field(description="where the answer came from: raw readings or a rollup")
    points: list[Point]


class RejectionRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 17,
                    "received_at": "2026-11-28T08:00:01Z",
                    "park_id": "suzhou-sip",
                    "device_id": "meter-b3-01",
                    "topic": "parks/suzhou-sip/devices/meter-b3-01/telemetry",
                    "reason": "unknown_metric",
                    "detail": "metric 'volts' is not in the catalogue of electricity_meter",
                    "payload": '{"values": {"volts": 230}}',
                    "payload_size": 26,
                }
            ]
        }
    )

    id: int
    received_at: UtcDateTime
    park_id: str | None
    device_id: str | None
    topic: str
    reason: str
    detail: str
    payload: str = Field(description="the first 64 KiB as UTF-8 text (invalid bytes as U+FFFD)")
    payload_size: int = Field(description="the whole payload's size in bytes")


class LoadPoint(BaseModel):
    ts: UtcDateTime = Field(description="the bucket's start")
    load_kwh: float | None = Field(
        description="the root electricity meters' kWh in the bucket (per hour: the mean kW)"
    )
    pv_kwh: float | None = Field(description="the PV inverters' generation in the bucket")


class MeterDay(BaseModel):
    device_id: str
    name: str
    date: dt.date = Field(description="park-local day")
    kwh: float


class ParkLoad(BaseModel):
    """The park's electricity load and PV output per bucket, and each root meter's kWh per
    park-local day: what the cockpit's 能源 panel draws, in one read."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "bucket": "1h",
                    "from": "2026-11-27T16:00:00Z",
                    "to": "2026-11-28T16:00:00Z",
                    "unit": "kWh",
                    "points": [
                        {"ts": "2026-11-27T16:00:00Z", "load_kwh": 812.5, "pv_kwh": None},
                        {"ts": "2026-11-28T02:00:00Z", "load_kwh": 1204.0, "pv_kwh": 96.5},
                    ],
                    "meters": [
                        {
                            "device_id": "meter-b3-01",
                            "name": "3号楼 总表",
                            "date": "2026-11-28",
                            "kwh": 5120.0,
                        }
                    ],
                }
            ]
        },
    )

    bucket: str
    from_: UtcDateTime = Field(alias="from", description="start of the first bucket (inclusive)")
    to: UtcDateTime = Field(description="end of the last bucket (exclusive)")
    unit: str = "kWh"
    points: list[LoadPoint] = Field(description="buckets with readings, in time order")
    meters: list[MeterDay] = Field(
        description="each root meter's kWh per park-local day of the range with readings"
    )


class PowerSide(BaseModel):
    """One side of the park's power now: the newest ``power_kw`` of its devices, summed."""

    kw: float = Field(description="the newest power_kw of the devices not offline, summed")
    devices: int = Field(description="devices summed (their newest power_kw counted)")
    offline: int = Field(
        description="devices offline (no reading within their offline threshold): their last "
        "power_kw is not now, so it is not summed"
    )
    newest: UtcDateTime | None = Field(description="the newest reading summed")


class ParkPower(BaseModel):
    """The park's electricity load and PV output now (能源: 实时负荷): one small answer
    however many meters the park has, instead of every meter's newest value."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "unit": "kW",
                    "load": {
                        "kw": 4812.5,
                        "devices": 118,
                        "offline": 2,
                        "newest": "2026-11-28T02:14:45Z",
                    },
                    "pv": {
                        "kw": 96.5,
                        "devices": 6,
                        "offline": 0,
                        "newest": "2026-11-28T02:14:40Z",
                    },
                }
            ]
        },
    )

    unit: str = "kW"
    load: PowerSide = Field(
        description="the root electricity meters (no parent meter: each kW counts once)"
    )
    pv: PowerSide = Field(description="the PV inverters")
