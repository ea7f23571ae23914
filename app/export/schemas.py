"""Schemas of the data catalogue."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FieldRead(BaseModel):
    name: str
    type: str = Field(description="string, timestamp, float, integer, boolean")
    unit: str | None = Field(description="a fixed unit; null: see the `unit` field or none")
    description: str


class DatasetRead(BaseModel):
    id: str
    title: str = Field(description="Chinese and English")
    description: str
    fields: list[FieldRead]
    rhythm: str = Field(description="how often it changes")
    retention: str | None = Field(description="how long rows are kept (ISO 8601); null: always")
    api: str | None = Field(description="the API path that serves it")
    export: dict[str, str] = Field(description="format → download path (streamed)")
    bi_view: str | None = Field(description="the read-only SQL view for BI tools (docs/bi.md)")


class MetricRead(BaseModel):
    device_type: str
    domain: str
    metric: str
    unit: str
    kind: str = Field(description="gauge, counter (cumulative, may reset) or state")
    devices: int = Field(description="devices of this type in the park")


class CatalogueRead(BaseModel):
    park_id: str
    timezone: str
    datasets: list[DatasetRead]
    metrics: list[MetricRead] = Field(
        description="the units of every metric the park's devices have"
    )
