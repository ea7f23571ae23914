"""The demo park's industries (GB/T 4754-2017 classes) and how each uses energy over a day.

A profile gives, per hour of the local day, the share of the firm's peak load in use on a
normal working day, and a factor per kind of day (``saturday``, ``rest``, ``holiday``).
Continuous processes (chips, chemicals) barely notice weekends; offices empty out.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Industry:
    code: str  # GB/T 4754 section letter + class
    name: str
    words: tuple[str, ...]  # for firm names
    hours: tuple[float, ...]  # 24 shares of peak load on a working day
    days: dict[str, float]  # day kind -> factor
    peak_kw: tuple[float, float]  # range of a firm's peak electric load
    uses_gas: bool  # natural gas, steam, gas detectors
    hazardous: bool  # toxic gas detectors, more safety devices
    equipment: bool  # production lines with equipment monitors

    def load(self, hour: int, day_kind: str) -> float:
        share = self.hours[hour]
        return share if day_kind == "workday" else share * self.days[day_kind]

    def running(self, hour: int, day_kind: str) -> bool:
        """Whether production lines run at this hour."""
        return self.load(hour, day_kind) >= 0.55


def _shifts(night: float, day: float, evening: float) -> tuple[float, ...]:
    return (night,) * 8 + (day,) * 8 + (evening,) * 8


OFFICE: tuple[float, ...] = (0.15,) * 7 + (0.4, 0.85, 1.0, 1.0, 0.95, 0.8, 0.95, 1.0, 1.0)
OFFICE += (1.0, 0.9, 0.6, 0.35, 0.25, 0.2, 0.15, 0.15)
ONE_SHIFT: tuple[float, ...] = (0.2,) * 7 + (0.6, 1.0, 1.0, 1.0, 1.0, 0.7, 1.0, 1.0, 1.0)
ONE_SHIFT += (1.0, 0.5, 0.3, 0.25, 0.2, 0.2, 0.2, 0.2)

INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        "C3973",
        "集成电路制造",
        ("芯", "微电子", "半导体"),
        _shifts(0.95, 1.0, 0.97),
        {"saturday": 0.98, "rest": 0.97, "holiday": 0.93},
        (3000, 9000),
        uses_gas=True,
        hazardous=True,
        equipment=True,
    ),
    Industry(
        "C2710",
        "化学药品原料药制造",
        ("药业", "生物医药", "制药"),
        _shifts(0.8, 1.0, 0.9),
        {"saturday": 0.85, "rest": 0.8, "holiday": 0.6},
        (800, 2500),
        uses_gas=True,
        hazardous=True,
        equipment=True,
    ),
    Industry(
        "C2614",
        "有机化学原料制造",
        ("化工", "新材料", "精细化学"),
        _shifts(0.92, 1.0, 0.95),
        {"saturday": 0.95, "rest": 0.93, "holiday": 0.85},
        (1500, 5000),
        uses_gas=True,
        hazardous=True,
        equipment=True,
    ),
    Industry(
        "C3670",
        "汽车零部件及配件制造",
        ("汽车部件", "精密制造", "汽配"),
        _shifts(0.25, 1.0, 0.9),
        {"saturday": 0.75, "rest": 0.25, "holiday": 0.15},
        (600, 2000),
        uses_gas=False,
        hazardous=False,
        equipment=True,
    ),
    Industry(
        "C3484",
        "机械零部件加工",
        ("机械", "精工", "传动"),
        ONE_SHIFT,
        {"saturday": 0.5, "rest": 0.2, "holiday": 0.15},
        (200, 800),
        uses_gas=False,
        hazardous=False,
        equipment=True,
    ),
    Industry(
        "C1469",
        "其他调味品、发酵制品制造",
        ("食品", "酿造", "生物发酵"),
        _shifts(0.35, 1.0, 0.85),
        {"saturday": 0.8, "rest": 0.5, "holiday": 0.3},
        (300, 1200),
        uses_gas=True,
        hazardous=False,
        equipment=True,
    ),
    Industry(
        "G5920",
        "通用仓储",
        ("物流", "供应链", "仓储"),
        _shifts(0.45, 1.0, 0.8),
        {"saturday": 0.9, "rest": 0.8, "holiday": 0.6},
        (80, 300),
        uses_gas=False,
        hazardous=False,
        equipment=False,
    ),
    Industry(
        "I6513",
        "应用软件开发",
        ("软件", "信息技术", "数据科技"),
        OFFICE,
        {"saturday": 0.35, "rest": 0.2, "holiday": 0.15},
        (50, 250),
        uses_gas=False,
        hazardous=False,
        equipment=False,
    ),
    Industry(
        "M7320",
        "工程和技术研究和试验发展",
        ("研究院", "检测技术", "创新研究"),
        OFFICE,
        {"saturday": 0.45, "rest": 0.3, "holiday": 0.2},
        (80, 400),
        uses_gas=True,
        hazardous=True,
        equipment=False,
    ),
)

BY_CODE = {industry.code: industry for industry in INDUSTRIES}

COMMON_AREAS = Industry(
    "-",
    "公共区域",
    (),
    OFFICE,
    {"saturday": 0.5, "rest": 0.4, "holiday": 0.35},
    (20, 80),
    uses_gas=False,
    hazardous=False,
    equipment=False,
)
"""The profile of devices in spaces nobody leases (lobbies, vacant units)."""
