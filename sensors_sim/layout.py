"""A demo park generated from a seed: boundary, parcels, buildings, floors, spaces, enterprises,
leases and devices placed inside their buildings.

Geometry is laid out in metres on a local plane around the park's origin and converted to WGS84
(an equirectangular approximation, good to centimetres over two kilometres). Parcels form a
grid separated by roads, so they never overlap and all lie inside the boundary; buildings sit
in cells of their parcel with a set-back. The same (park id, seed, device count) always gives
the same park.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sensors_sim.catalogue import ABBREVIATIONS, NAMES, TYPES
from sensors_sim.credit import make_credit_code
from sensors_sim.industries import BY_CODE, COMMON_AREAS, INDUSTRIES, Industry

ORIGIN = (120.7420, 31.3150)
"""South-west corner of the demo park (苏州工业园区, Jiangsu): lon, lat."""

DIVISION = "320571"
"""Administrative division code used in the generated 统一社会信用代码."""

WIDTH_M, HEIGHT_M, ROAD_M = 2000.0, 1500.0, 30.0
COLUMNS, ROWS = 4, 3
METRES_PER_DEGREE = 111_320.0

Ring = list[list[float]]


def to_lonlat(x: float, y: float) -> list[float]:
    lon0, lat0 = ORIGIN
    lon = lon0 + x / (METRES_PER_DEGREE * math.cos(math.radians(lat0)))
    return [round(lon, 7), round(lat0 + y / METRES_PER_DEGREE, 7)]


def rectangle(x0: float, y0: float, x1: float, y1: float) -> Ring:
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return [to_lonlat(x, y) for x, y in corners]


def polygon(ring: Ring) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in local metres."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def area(self) -> float:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def ring(self) -> Ring:
        return rectangle(self.x0, self.y0, self.x1, self.y1)

    def point(self, rng: random.Random, margin: float = 1.0) -> tuple[float, float]:
        return (
            rng.uniform(self.x0 + margin, self.x1 - margin),
            rng.uniform(self.y0 + margin, self.y1 - margin),
        )


@dataclass
class Parcel:
    id: str
    name: str
    land_use: str
    box: Box


@dataclass
class Building:
    id: str
    name: str
    parcel_id: str
    use: str
    floors: int
    box: Box
    enterprise_id: str | None = None  # a tenant leasing the whole building


@dataclass
class Space:
    id: str
    building_id: str
    floor: int
    name: str
    area_m2: float
    enterprise_id: str | None = None


@dataclass
class Enterprise:
    id: str
    name: str
    credit_code: str
    industry: Industry
    above_scale: bool
    founded_on: date
    contacts: list[dict[str, str]]
    employees: int = 0  # head count: the emergency module's people in an impact zone


@dataclass
class Lease:
    id: str
    enterprise_id: str
    area_m2: float
    start_date: date
    end_date: date
    rent_yuan: float
    space_id: str | None = None
    building_id: str | None = None


@dataclass
class Device:
    id: str
    type: str
    name: str
    building_id: str
    floor: int
    x: float  # local metres, for distances in scenarios
    y: float
    space_id: str | None
    enterprise_id: str | None
    parent_meter_id: str | None = None
    index: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def lonlat(self) -> list[float]:
        return to_lonlat(self.x, self.y)


@dataclass
class Park:
    id: str
    name: str
    seed: int
    boundary: Ring
    parcels: list[Parcel]
    buildings: list[Building]
    spaces: list[Space]
    enterprises: list[Enterprise]
    leases: list[Lease]
    devices: list[Device]

    def building(self, building_id: str) -> Building:
        return next(b for b in self.buildings if b.id == building_id)

    def industry_of(self, device: Device) -> Industry:
        if device.enterprise_id is None:
            return COMMON_AREAS
        firm = next(e for e in self.enterprises if e.id == device.enterprise_id)
        return firm.industry


# -- land and buildings ---------------------------------------------------------------------

LAND_USES = ("M1 一类工业用地", "M2 二类工业用地", "W1 一类物流仓储用地", "A35 科研用地")
USES = {  # building use -> (floors range, width range m, depth range m)
    "factory": ((1, 3), (90, 130), (50, 80)),
    "office": ((6, 15), (45, 70), (20, 30)),
    "rnd": ((4, 8), (55, 80), (25, 40)),
    "warehouse": ((1, 2), (80, 120), (45, 70)),
}
USE_NAMES = {"factory": "厂房", "office": "办公楼", "rnd": "研发楼", "warehouse": "仓库"}


def _boundary() -> Ring:
    # A rectangle with its north-east corner cut off by a river bend: not just a box.
    cut = 120.0
    points = [
        (0.0, 0.0),
        (WIDTH_M, 0.0),
        (WIDTH_M, HEIGHT_M - cut),
        (WIDTH_M - cut, HEIGHT_M),
        (0.0, HEIGHT_M),
        (0.0, 0.0),
    ]
    return [to_lonlat(x, y) for x, y in points]


def _parcels(rng: random.Random) -> list[Parcel]:
    cell_w = (WIDTH_M - ROAD_M * (COLUMNS + 1)) / COLUMNS
    cell_h = (HEIGHT_M - ROAD_M * (ROWS + 1)) / ROWS
    parcels: list[Parcel] = []
    for row in range(ROWS):
        for col in range(COLUMNS):
            x0 = ROAD_M + col * (cell_w + ROAD_M)
            y0 = ROAD_M + row * (cell_h + ROAD_M)
            box = Box(x0, y0, x0 + cell_w, y0 + cell_h)
            if row == ROWS - 1 and col == COLUMNS - 1:
                box = Box(x0, y0, x0 + cell_w - 140.0, y0 + cell_h)  # clear of the cut corner
            number = len(parcels) + 1
            use = LAND_USES[3] if number in (6, 7) else rng.choice(LAND_USES[:3])
            parcels.append(Parcel(f"p{number:02d}", f"{number}号地块", use, box))
    return parcels


def _building_uses(land_use: str, count: int, rng: random.Random) -> list[str]:
    if land_use.startswith("A35"):
        return ["office"] + ["rnd"] * (count - 1)
    if land_use.startswith("W1"):
        return ["warehouse"] * (count - 1) + ["office"]
    return rng.sample(["factory", "factory", "rnd", "warehouse"], count)


def _buildings(parcels: list[Parcel], rng: random.Random, total: int = 30) -> list[Building]:
    counts = [2] * len(parcels)
    for i in rng.sample(range(len(parcels)), total - 2 * len(parcels)):
        counts[i] += 1
    buildings: list[Building] = []
    for parcel, count in zip(parcels, counts, strict=True):
        uses = _building_uses(parcel.land_use, count, rng)
        cell_w = (parcel.box.x1 - parcel.box.x0) / count
        for i, use in enumerate(uses):
            floors_range, width_range, depth_range = USES[use]
            width = min(rng.uniform(*width_range), cell_w - 30.0)
            depth = min(rng.uniform(*depth_range), parcel.box.y1 - parcel.box.y0 - 60.0)
            x0 = parcel.box.x0 + i * cell_w + rng.uniform(15.0, cell_w - width - 15.0)
            y0 = parcel.box.y0 + rng.uniform(30.0, parcel.box.y1 - parcel.box.y0 - depth - 30.0)
            number = len(buildings) + 1
            buildings.append(
                Building(
                    f"b{number:02d}",
                    f"{number}号{USE_NAMES[use]}",
                    parcel.id,
                    use,
                    rng.randint(*floors_range),
                    Box(x0, y0, x0 + width, y0 + depth),
                )
            )
    return buildings


def _spaces(buildings: list[Building], rng: random.Random) -> list[Space]:
    spaces = []
    for b in buildings:
        per_floor = {"factory": 1, "warehouse": 1, "office": 4, "rnd": 2}[b.use]
        for floor in range(1, b.floors + 1):
            units = per_floor if per_floor == 1 else rng.randint(per_floor - 1, per_floor + 1)
            for unit in range(1, units + 1):
                area = round(b.box.area * 0.85 / units, 1)
                spaces.append(
                    Space(f"{b.id}-{floor:02d}{unit:02d}", b.id, floor, f"{floor}{unit:02d}", area)
                )
    return spaces


# -- enterprises and leases -----------------------------------------------------------------

PREFIXES = ("苏州", "江苏", "昆山", "中新", "园区")
NAME_PARTS = ("华", "恒", "博", "瑞", "通", "达", "晶", "泰", "科", "汇", "远", "明", "新", "信")
SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙")


def _enterprise(number: int, industry: Industry, rng: random.Random) -> Enterprise:
    brand = "".join(rng.sample(NAME_PARTS, 2))
    name = f"{rng.choice(PREFIXES)}{brand}{rng.choice(industry.words)}有限公司"
    founded = date(2005, 1, 1) + timedelta(days=rng.randint(0, 7300))
    phone = f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"
    return Enterprise(
        id=f"e{number:02d}",
        name=name,
        credit_code=make_credit_code(DIVISION, rng),
        industry=industry,
        above_scale=industry.peak_kw[0] >= 300 or rng.random() < 0.3,
        founded_on=founded,
        contacts=[{"name": f"{rng.choice(SURNAMES)}经理", "role": "安全负责人", "phone": phone}],
        # from the id, not the generator, so adding it changed no other choice of the layout
        employees=30 + zlib.crc32(f"employees-{number}".encode()) % 470,
    )


def _enterprises(rng: random.Random, total: int = 40) -> list[Enterprise]:
    heavy = [i for i in INDUSTRIES if i.equipment]
    light = [i for i in INDUSTRIES if not i.equipment]
    chosen = [heavy[i % len(heavy)] for i in range(16)] + [
        light[i % len(light)] for i in range(total - 16)
    ]
    return [_enterprise(n + 1, industry, rng) for n, industry in enumerate(chosen)]


def _lease(number: int, firm: Enterprise, area: float, rng: random.Random, **target: str) -> Lease:
    start = date(2023, 1, 1) + timedelta(days=rng.randint(0, 900))
    years = rng.choice((3, 5, 10))
    end = date(start.year + years, start.month, 1) - timedelta(days=1)
    rate = rng.uniform(18.0, 45.0)  # yuan per m² per month
    return Lease(f"l{number:03d}", firm.id, area, start, end, round(area * rate, 2), **target)


def _leases(
    buildings: list[Building], spaces: list[Space], firms: list[Enterprise], rng: random.Random
) -> list[Lease]:
    """Firms with production lines take a whole factory or warehouse; the others rent units
    in office and R&D buildings. About one unit in six stays vacant."""
    leases: list[Lease] = []
    whole = [b for b in buildings if b.use in ("factory", "warehouse")]
    heavy = [f for f in firms if f.industry.equipment or f.industry.code == "G5920"]
    for building, firm in zip(whole, heavy, strict=False):
        building.enterprise_id = firm.id
        area = round(building.box.area * building.floors * 0.9, 1)
        leases.append(_lease(len(leases) + 1, firm, area, rng, building_id=building.id))
    tenants = [f for f in firms if f.id not in {b.enterprise_id for b in whole}]
    units = [s for s in spaces if s.building_id not in {b.id for b in whole}]
    for i, space in enumerate(units):
        if rng.random() < 0.16 or not tenants:
            continue
        firm = tenants[i % len(tenants)]
        space.enterprise_id = firm.id
        leases.append(_lease(len(leases) + 1, firm, space.area_m2, rng, space_id=space.id))
    for building in whole:  # the units of a whole-building lease belong to its tenant
        for space in spaces:
            if space.building_id == building.id:
                space.enterprise_id = building.enterprise_id
    return leases


# -- devices --------------------------------------------------------------------------------

TYPE_SHARES: dict[str, float] = {  # type -> relative share, by kind of building occupant
    "electricity_meter": 22,
    "pv_inverter": 3,
    "gas_meter": 3,
    "water_meter": 6,
    "steam_meter": 2,
    "gas_detector": 12,
    "toxic_gas_detector": 4,
    "smoke_detector": 24,
    "temperature_sensor": 14,
    "equipment_monitor": 10,
}


def _type_weights(building: Building, industry: Industry) -> list[float]:
    weights = dict(TYPE_SHARES)
    if not industry.uses_gas:
        weights.update(gas_meter=0.3, steam_meter=0.1, gas_detector=1)
    if not industry.hazardous:
        weights["toxic_gas_detector"] = 0.2
    if not industry.equipment:
        weights["equipment_monitor"] = 0.5
    if building.use not in ("factory", "warehouse"):
        weights["pv_inverter"] = 0.3
    return [weights[t] for t in TYPES]


def _devices(park: Park, total: int, rng: random.Random) -> list[Device]:
    by_building: dict[str, list[Space]] = {}
    for space in park.spaces:
        by_building.setdefault(space.building_id, []).append(space)
    weights = [b.box.area * b.floors for b in park.buildings]
    devices: list[Device] = []
    counters: dict[tuple[str, str], int] = {}
    mains: dict[str, str] = {}

    def place(building: Building, device_type: str) -> Device:
        key = (building.id, device_type)
        counters[key] = counters.get(key, 0) + 1
        space = rng.choice(by_building[building.id])
        x, y = building.box.point(rng)
        device_id = f"{building.id}-{ABBREVIATIONS[device_type]}{counters[key]:04d}"
        firm = space.enterprise_id
        device = Device(
            device_id,
            device_type,
            f"{building.name} {space.name} {NAMES[device_type]}",
            building.id,
            space.floor,
            x,
            y,
            space.id,
            firm,
            index=len(devices),
        )
        if device_type == "electricity_meter":
            if building.id in mains:
                device.parent_meter_id = mains[building.id]
            else:  # the building's first meter is its main meter
                device.enterprise_id, device.space_id = building.enterprise_id, None
                device.name = f"{building.name} 总表"
                device.attributes = {"main_meter": True}
                mains[building.id] = device.id
        devices.append(device)
        return device

    for device_type in TYPES:  # every catalogue type at least once
        if len(devices) < total:
            place(rng.choice(park.buildings), device_type)
    for building in park.buildings:  # a main meter per building
        if len(devices) < total and building.id not in mains:
            place(building, "electricity_meter")
    while len(devices) < total:
        building = rng.choices(park.buildings, weights)[0]
        industry = BY_CODE.get(_occupant_industry(park, building), COMMON_AREAS)
        place(building, rng.choices(TYPES, _type_weights(building, industry))[0])
    return devices


def _occupant_industry(park: Park, building: Building) -> str:
    firm = building.enterprise_id
    if firm is None:
        firm = next((s.enterprise_id for s in park.spaces if s.building_id == building.id), None)
    return next((e.industry.code for e in park.enterprises if e.id == firm), "-")


def generate(park_id: str = "demo", seed: int = 1, devices: int = 2000) -> Park:
    """The park for this seed, with ``devices`` devices."""
    if devices < 1:
        raise ValueError("a park needs at least one device")
    rng = random.Random(f"{park_id}/{seed}")
    parcels = _parcels(rng)
    buildings = _buildings(parcels, rng)
    spaces = _spaces(buildings, rng)
    firms = _enterprises(rng)
    leases = _leases(buildings, spaces, firms, rng)
    park = Park(
        park_id, "苏州示范产业园", seed, _boundary(), parcels, buildings, spaces, firms, leases, []
    )
    park.devices = _devices(park, devices, rng)
    return park
