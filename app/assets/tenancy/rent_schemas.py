"""Schemas of rent payments and rent collection (收缴率)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer

from app.core.types import Ident, UtcDateTime

MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
Yuan = Annotated[Decimal, PlainSerializer(str, return_type=str)]
Month = Annotated[str, Field(pattern=MONTH, description="YYYY-MM")]


class RentPaymentCreate(BaseModel):
    id: Ident
    period: Month = Field(description="the month paid for, YYYY-MM")
    amount_yuan: Decimal = Field(gt=0, le=Decimal("1e11"), max_digits=14, decimal_places=2)
    paid_on: date
    reference: str | None = Field(default=None, max_length=200, description="e.g. 转账流水号")


class RentPaymentRead(BaseModel):
    id: str
    lease_id: str
    period: str
    amount_yuan: Yuan
    paid_on: date
    reference: str | None
    created_at: UtcDateTime


class Collection(BaseModel):
    due_yuan: Yuan = Field(description="rent due in the range (应收)")
    paid_yuan: Yuan = Field(description="rent paid for months in the range (实收)")
    outstanding_yuan: Yuan = Field(description="due - paid; negative when paid ahead")
    collection_rate: float | None = Field(description="收缴率 = paid / due; null when none due")


class LeaseCollection(Collection):
    lease_id: str
    enterprise_id: str
    building_id: str | None
    parcel_id: str | None


class TargetCollection(Collection):
    id: str


class RentCollection(Collection):
    from_month: str = Field(serialization_alias="from")
    to_month: str = Field(serialization_alias="to")
    buildings: list[TargetCollection] = Field(description="building and space leases")
    parcels: list[TargetCollection] = Field(description="land (parcel) leases")
    leases: list[LeaseCollection]
    rule: str
