"""Where the sun is, and what a PV array makes of it (pure functions of time and place).

Solar position from the NOAA approximation (declination and equation of time from the
fractional year), good to a fraction of a degree, which is plenty for a PV curve.
"""

from __future__ import annotations

import math

DAY_S = 86_400.0
UNIX_J2000_DAY = 10_957.5  # days from 1970-01-01T00:00Z to 2000-01-01T12:00Z


def sun_elevation(t: float, lon: float, lat: float) -> float:
    """The sun's elevation above the horizon in degrees at epoch seconds ``t``."""
    gamma = 2 * math.pi / 365.25 * ((t / DAY_S - UNIX_J2000_DAY) % 365.25)
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
    )
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    utc_minutes = (t % DAY_S) / 60.0
    solar_minutes = utc_minutes + eqtime + 4 * lon
    hour_angle = math.radians(solar_minutes / 4 - 180)
    phi = math.radians(lat)
    cos_zenith = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(
        hour_angle
    )
    return math.degrees(math.asin(max(-1.0, min(1.0, cos_zenith))))


def clear_sky_share(elevation_deg: float) -> float:
    """Share of a tilted array's rated output under a clear sky; 0 with the sun down.

    Haurwitz's clear-sky irradiance (1098 cos Z e^(-0.059/cos Z) W/m²) against the 1000 W/m²
    rating; a tilt towards the south makes low suns count for more, hence the power 0.8.
    """
    if elevation_deg <= 0:
        return 0.0
    cos_zenith = math.sin(math.radians(elevation_deg))
    irradiance = 1098.0 * cos_zenith * math.exp(-0.059 / cos_zenith)
    return min(1.0, float((irradiance / 1000.0) ** 0.8))
