"""A parcel's land-use figures (容积率, 建筑密度, 投资强度) on the area the register gives.

- The land area is the certificate's (证载面积) when the parcel has one, else the geodesic area of
  its polygon: the register is what the land authority and the 亩均 evaluation count.
- 容积率 (floor-area ratio) = total building floor area on the parcel / land area, and
  建筑密度 (building density) = total building footprint (基底面积) / land area, as defined by
  GB/T 50280-98 城市规划基本术语标准. A building's floor area has one definition, the view
  ``building_floor_area`` (its floors' areas when recorded, else footprint x floors).
- 投资强度 (investment intensity) = fixed-asset investment / land area, in 10⁴ yuan per hectare
  as 《工业项目建设用地控制指标》(自然资发〔2023〕72号) states its thresholds, and per 亩 beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.assets.land.schemas import ParcelLand
from app.core import geodesy as geo

SQUARE_METRES_PER_HECTARE = 10_000.0
SOURCES = [
    "容积率, 建筑密度: GB/T 50280-98 城市规划基本术语标准",
    "投资强度 (万元/公顷): 工业项目建设用地控制指标, 自然资发〔2023〕72号",
    "1 亩 = 666.67 m² (1 公顷 = 15 亩)",
]


def _ratio(numerator: float | None, denominator: float) -> float | None:
    if numerator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 4)


def land_figures(parcel: Mapping[Any, Any], buildings: Mapping[Any, Any] | None) -> ParcelLand:
    certificate = parcel.get("certificate_area_m2")
    area = float(certificate) if certificate else float(parcel["area_m2"])
    floor_area = float(buildings["floor_area_m2"] or 0) if buildings else 0.0
    footprint = float(buildings["footprint_m2"] or 0) if buildings else 0.0
    investment = parcel.get("investment_10k_yuan")
    invested = float(investment) if investment is not None else None
    per_ha = _ratio(invested, area / SQUARE_METRES_PER_HECTARE)
    return ParcelLand(
        area_m2=round(area, 2),
        area_mu=round(geo.m2_to_mu(area), 4),
        area_basis="certificate" if certificate else "geodesic",
        buildings=int(buildings["buildings"]) if buildings else 0,
        floor_area_m2=round(floor_area, 2),
        footprint_m2=round(footprint, 2),
        floor_area_ratio=_ratio(floor_area, area),
        building_density=_ratio(footprint, area),
        investment_intensity_10k_yuan_per_ha=per_ha,
        investment_intensity_10k_yuan_per_mu=_ratio(invested, geo.m2_to_mu(area)),
        sources=SOURCES,
    )
