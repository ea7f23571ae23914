"""The built-in device catalogue as the simulator sees it (../shared/CONTRACT.md section 4).

Kept here rather than read from the database so that ``parktwin sim --dry-run`` needs nothing
but the seed; tests compare it with the migrated catalogue.
"""

from __future__ import annotations

METRICS: dict[str, tuple[str, ...]] = {
    "electricity_meter": ("energy_kwh", "power_kw"),
    "pv_inverter": ("energy_kwh", "power_kw"),
    "gas_meter": ("volume_m3",),
    "water_meter": ("volume_m3",),
    "steam_meter": ("mass_t",),
    "gas_detector": ("gas_lel_pct",),
    "toxic_gas_detector": ("concentration_mg_m3",),
    "smoke_detector": ("smoke",),
    "temperature_sensor": ("temperature_c", "humidity_pct"),
    "equipment_monitor": ("running", "vibration_mm_s", "temperature_c", "runtime_h"),
}
"""Type → the metrics it reports."""

COUNTERS: dict[str, str] = {
    "electricity_meter": "energy_kwh",
    "pv_inverter": "energy_kwh",
    "gas_meter": "volume_m3",
    "water_meter": "volume_m3",
    "steam_meter": "mass_t",
    "equipment_monitor": "runtime_h",
}
"""Type → its cumulative metric (never decreases except at a reset or a replacement)."""

ABBREVIATIONS: dict[str, str] = {
    "electricity_meter": "em",
    "pv_inverter": "pv",
    "gas_meter": "gm",
    "water_meter": "wm",
    "steam_meter": "sm",
    "gas_detector": "gd",
    "toxic_gas_detector": "td",
    "smoke_detector": "sd",
    "temperature_sensor": "ts",
    "equipment_monitor": "eq",
}
"""Type → the short code in device ids (``b07-gd0003``)."""

NAMES: dict[str, str] = {
    "electricity_meter": "电表",
    "pv_inverter": "光伏逆变器",
    "gas_meter": "燃气表",
    "water_meter": "水表",
    "steam_meter": "蒸汽表",
    "gas_detector": "可燃气体探测器",
    "toxic_gas_detector": "有毒气体探测器",
    "smoke_detector": "感烟探测器",
    "temperature_sensor": "温湿度传感器",
    "equipment_monitor": "设备监测终端",
}

TYPES = tuple(METRICS)
