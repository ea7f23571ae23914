"""The exported datasets' columns: one definition for the CSV headers, the Parquet schema and
the catalogue (``GET /parks/{park_id}/catalogue``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

ColumnType = Literal["string", "timestamp", "float", "integer"]
ARROW: dict[ColumnType, pa.DataType] = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "float": pa.float64(),
    "integer": pa.int32(),
}


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    """The Chinese header of the ``zh`` CSV (time columns get the park's zone appended)."""
    type: ColumnType
    description: str
    unit: str | None = None
    """A fixed unit; None: the metric's (the ``unit`` column) or none."""


DEVICE = Column("device_id", "设备编号", "string", "the device's id")
METRIC = Column("metric", "指标", "string", "the metric (device type catalogue)")
UNIT = Column("unit", "单位", "string", "the metric's unit (device type catalogue)")

READINGS = (
    Column("ts", "时间", "timestamp", "when the reading was taken"),
    DEVICE,
    METRIC,
    Column("value", "读数", "float", "the reading (a state: 1 true, 0 false)"),
    UNIT,
)
"""Raw readings, one row per (device, metric, time)."""

ROLLUPS = (
    Column("bucket", "时段起点", "timestamp", "start of the hour (UTC) or the park-local day"),
    DEVICE,
    METRIC,
    Column("count", "读数个数", "integer", "readings in the bucket"),
    Column("avg", "平均值", "float", "mean of the readings"),
    Column("min", "最小值", "float", "lowest reading"),
    Column("max", "最大值", "float", "highest reading"),
    Column("first", "首个读数", "float", "the bucket's first reading"),
    Column("last", "末个读数", "float", "the bucket's last reading"),
    Column(
        "delta",
        "用量",
        "float",
        "counters only: consumption in the bucket (each reading minus the one before it, the "
        "first against the last reading before the bucket; a drop is a restart from zero); "
        "empty for gauges and states",
    ),
    UNIT,
)
"""Hourly or daily rollups, one row per (device, metric, bucket)."""


def arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW[c.type], nullable=c.name == "delta") for c in columns])
