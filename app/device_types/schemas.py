"""Device type schemas: the catalogue of ../shared/CONTRACT.md section 4."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

MetricKind = Literal["gauge", "counter", "state"]


class MetricRead(BaseModel):
    name: str
    unit: str
    kind: MetricKind


class DeviceTypeRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "electricity_meter",
                    "domain": "energy",
                    "park_id": None,
                    "reporting_timeout_s": 900,
                    "metrics": [
                        {"name": "energy_kwh", "unit": "kWh", "kind": "counter"},
                        {"name": "power_kw", "unit": "kW", "kind": "gauge"},
                    ],
                }
            ]
        }
    )

    type: str
    domain: str
    park_id: str | None
    reporting_timeout_s: int
    metrics: list[MetricRead]


class DeviceTypeList(BaseModel):
    items: list[DeviceTypeRead]
    next_cursor: str | None = None
