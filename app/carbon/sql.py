"""The energy-accounting query: metered and hand-entered quantities per group, carrier and
day (or month), each with the coefficient and factor versions in force that day.

Meter consumption per park-local day is the counter's ``delta`` as telemetry defines it
(``daily_consumption`` in app/telemetry/consumption.py, the rule's one home: resets count in
full, the last reading before the range as the baseline, days still queued for the rollup
worker made from raw readings); this module only chooses the meters and what they count for.

How a device's carrier is known (README "Green and low-carbon"): ``attributes.carbon_carrier``
if set (``pv_export`` for the meter of PV fed to the grid, ``none`` to leave a check meter
out), else by type: electricity_meter → ``electricity_grid``, pv_inverter → PV generation,
gas_meter → ``natural_gas``, steam_meter → ``steam`` (t → kg), water_meter → ``water``.
A meter counts in a group when its parent meter is not in the same group (park: a root meter;
enterprise/building: its parent belongs to another one or none), so sub-meters never count twice.
Self-consumed PV per group and day = max(generation − export, 0).
"""

from __future__ import annotations

from app.core.sqlcompose import Fixed, compose
from app.telemetry.consumption import daily_consumption

CARRIER_OF_DEVICE = """coalesce(d.attributes->>'carbon_carrier', CASE d.type
    WHEN 'electricity_meter' THEN 'electricity_grid' WHEN 'pv_inverter' THEN 'pv_generation'
    WHEN 'gas_meter' THEN 'natural_gas' WHEN 'steam_meter' THEN 'steam'
    WHEN 'water_meter' THEN 'water' END)"""

METRIC_OF_DEVICE = """CASE d.type WHEN 'steam_meter' THEN 'mass_t'
    WHEN 'gas_meter' THEN 'volume_m3' WHEN 'water_meter' THEN 'volume_m3' ELSE 'energy_kwh' END"""

GROUP_KEY = {
    "park": "CASE WHEN d.parent_meter_id IS NULL THEN d.park_id END",
    "enterprise": "CASE WHEN d.enterprise_id IS DISTINCT FROM p.enterprise_id "
    "THEN d.enterprise_id END",
    "building": "CASE WHEN d.building_id IS DISTINCT FROM p.building_id THEN d.building_id END",
}
GROUP_KEY["carrier"] = GROUP_KEY["park"]  # the park's total, split by carrier
"""The group a meter counts in (NULL: none), by ``group_by``."""

MANUAL_KEY = {"park": "park_id", "enterprise": "enterprise_id", "building": "building_id",
              "carrier": "park_id"}  # fmt: skip

METERS = """meters AS (
    SELECT s.id AS series_id, d.id AS device_id, d.parent_meter_id, {group_key} AS group_key,
           {carrier} AS carrier, CASE d.type WHEN 'steam_meter' THEN 1000.0 ELSE 1.0 END AS scale
    FROM device d
    JOIN series s ON s.park_id = d.park_id AND s.device_id = d.id AND s.metric = {metric}
    LEFT JOIN device p ON p.park_id = d.park_id AND p.id = d.parent_meter_id
    WHERE d.park_id = :park
      AND d.type IN ('electricity_meter', 'pv_inverter', 'gas_meter', 'steam_meter', 'water_meter')
)"""

COUNTED = """counted AS (
    SELECT * FROM meters
    WHERE group_key IS NOT NULL AND carrier <> 'none'
      AND (CAST(:only AS text) IS NULL OR group_key = :only)
      AND (CAST(:carrier AS text) IS NULL OR carrier = :carrier)
)"""


def _daily(months: str | None) -> str:
    return compose(
        "{counted},\n{daily}",
        counted=Fixed(COUNTED),
        daily=Fixed(
            daily_consumption(
                "daily", keys="counted", carry=("group_key", "carrier", "scale"), months=months
            )
        ),
    )


DAILY = _daily(None)
"""``counted``: the meters that count in a group (only those of group ``:only`` when given:
one enterprise's report reads only its own meters; only those of ``:carrier`` when given: the
year's grid kWh that green power is matched against); ``daily``: per series of theirs and
local day of ``[lo, hi)``, the counter's consumption (reset aware), with the meter's group,
carrier and scale carried (a meter has one series, so ``counted`` holds each series once)."""

SPLIT_MONTHS = """split_months AS (
    SELECT DISTINCT v.carrier,
           date_trunc('month', v.valid_from::timestamp) AT TIME ZONE CAST(:tz AS text) AS month
    FROM (SELECT carrier, valid_from FROM carbon_coefficient
          UNION ALL SELECT carrier, valid_from FROM carbon_factor) v
    WHERE extract(day FROM v.valid_from) <> 1
      AND v.valid_from >= CAST(:lo_day AS date) - 31 AND v.valid_from < :hi_day
)"""
"""The local months in which a version of some coefficient or factor of a carrier comes into
force after their first day (any park's, any region's: a month too many only costs its days)."""

WHOLE_MONTHS = """k.carrier NOT IN ('pv_generation', 'pv_export')
       AND NOT EXISTS (SELECT 1 FROM split_months s
                       WHERE s.carrier = k.carrier AND s.month = r.bucket)"""
"""When the ledger may count a meter's whole month as one quantity (``months`` of
``daily_consumption``): the versions in force on its first day hold all month (no coefficient
or factor of its carrier starts inside it), and it is not PV, whose self-consumption is
max(generation − export, 0) per day. A ledger by month sums the same quantities under the same
versions either way; at 100,000 devices the year to date reads about 550,000 monthly rows
instead of 17 million daily ones (bench/ledger_year)."""

DAILY_BY_MONTH = compose(
    "{split},\n{daily}", split=Fixed(SPLIT_MONTHS), daily=Fixed(_daily(WHOLE_MONTHS))
)
"""``DAILY`` for a ledger by month: a meter's whole months may come as one row each, dated on
their first day (``WHOLE_MONTHS``)."""

# ``daily`` carries each meter's group, carrier and scale instead of joining ``counted`` again:
# PostgreSQL guesses a row or two on both sides of such a join and, with one group asked for
# (``:only``; the park's own annual report asks for the park), looped over every daily row once
# per meter: 18 s for the park's year at 2,000 devices (EXPLAIN ANALYZE: 34 s of a 34 s
# statement), a statement timeout at 20,000. Before that, the join was to every meter of the
# park (one enterprise's month at 100,000 devices: 430 ms of its 560).
QUANTITIES = """measured AS (
    SELECT d.group_key, d.carrier, (d.bucket AT TIME ZONE CAST(:tz AS text))::date AS day,
           sum(d.qty * d.scale) AS qty
    FROM daily d
    GROUP BY 1, 2, 3
),
manual AS (
    SELECT {manual_key} AS group_key, carrier, day, sum(quantity) AS qty
    FROM carbon_manual_entry
    WHERE park_id = :park AND day >= :lo_day AND day < :hi_day AND {manual_key} IS NOT NULL
      AND (CAST(:only AS text) IS NULL OR {manual_key} = :only)
      AND (CAST(:carrier AS text) IS NULL OR carrier = :carrier)
    GROUP BY 1, 2, 3
),
combined AS (SELECT * FROM measured UNION ALL SELECT * FROM manual),
pv AS (
    SELECT group_key, day,
           sum(qty) FILTER (WHERE carrier = 'pv_generation') AS generated,
           coalesce(sum(qty) FILTER (WHERE carrier = 'pv_export'), 0) AS exported
    FROM combined WHERE carrier IN ('pv_generation', 'pv_export') GROUP BY 1, 2
),
quantities AS (
    SELECT group_key, carrier, day, qty FROM combined WHERE carrier <> 'pv_generation'
    UNION ALL
    SELECT group_key, 'pv_self', day, greatest(generated - exported, 0) FROM pv
    WHERE generated IS NOT NULL
)"""

VERSION = """(SELECT k.id FROM carbon_coefficient k
     WHERE k.carrier = c.carrier AND k.basis = '{basis}' AND k.valid_from <= c.day
       AND (k.park_id = :park OR k.park_id IS NULL)
     ORDER BY k.park_id NULLS LAST, k.valid_from DESC LIMIT 1)"""

FACTOR = """(SELECT f.id FROM carbon_factor f
     WHERE f.carrier = c.carrier AND f.method IN ({methods}) AND f.valid_from <= c.day
       AND f.region IN (:region, 'national', '') AND (f.park_id = :park OR f.park_id IS NULL)
     ORDER BY f.park_id NULLS LAST, (f.region = :region) DESC, f.valid_from DESC LIMIT 1)"""


def _version(basis: str) -> Fixed:
    return Fixed(compose(VERSION, basis=Fixed(basis)))


def _factor(methods: str) -> Fixed:
    return Fixed(compose(FACTOR, methods=Fixed(methods)))


VERSIONS = compose(
    """versions AS (
    SELECT c.carrier, c.day,
           {equivalent} AS coefficient_equivalent,
           {equal_value} AS coefficient_equal_value,
           {location} AS factor_location,
           {market} AS factor_market,
           {biogenic} AS factor_biogenic
    FROM (SELECT DISTINCT carrier, day FROM quantities) c
)""",
    equivalent=_version("equivalent"),
    equal_value=_version("equal_value"),
    location=_factor("'location', 'combustion', 'heat'"),
    market=_factor("'market'"),
    biogenic=_factor("'biogenic'"),
)


def _meters(group_key: str) -> str:
    """``METERS`` with each meter's group given by the SQL expression ``group_key``."""
    return compose(
        METERS,
        group_key=Fixed(group_key),
        carrier=Fixed(CARRIER_OF_DEVICE),
        metric=Fixed(METRIC_OF_DEVICE),
    )


STEPS = {"day": "day", "month": "month"}
"""The buckets of the accounting query (``date_trunc``'s field), a closed set."""


def energy_sql(group_by: str, step: str, whole_months: bool = False) -> str:
    """Quantities per (bucket, group, carrier, versions); ``step`` is ``day`` or ``month``.
    With ``whole_months`` (by month, over a range holding a whole month), a meter's whole
    months are read from the monthly rollups where they can (``WHOLE_MONTHS``)."""
    if whole_months and step != "month":
        raise ValueError("a ledger by day reads days")
    meters = _meters(GROUP_KEY[group_by])
    quantities = compose(QUANTITIES, manual_key=Fixed(MANUAL_KEY[group_by]))
    return compose(
        """WITH {meters}, {daily}, {quantities}, {versions}
SELECT date_trunc('{step}', q.day)::date AS bucket, q.group_key, q.carrier,
       v.coefficient_equivalent, v.coefficient_equal_value, v.factor_location, v.factor_market,
       v.factor_biogenic, sum(q.qty) AS quantity
FROM quantities q JOIN versions v ON v.carrier = q.carrier AND v.day = q.day
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
ORDER BY 1, 2, 3""",
        meters=Fixed(meters),
        daily=Fixed(DAILY_BY_MONTH if whole_months else DAILY),
        quantities=Fixed(quantities),
        versions=Fixed(VERSIONS),
        step=Fixed(STEPS[step]),
    )


GAPS = """WITH {meters}, {daily},
totals AS (SELECT series_id, sum(qty) AS qty FROM daily GROUP BY 1),
per_meter AS (
    SELECT m.device_id, m.parent_meter_id, m.carrier, t.qty * m.scale AS qty
    FROM meters m JOIN totals t ON t.series_id = m.series_id
)
SELECT parent.device_id AS meter_id, parent.carrier, parent.qty AS consumption,
       sum(child.qty) AS children_sum, parent.qty - sum(child.qty) AS unmetered
FROM per_meter parent JOIN per_meter child ON child.parent_meter_id = parent.device_id
GROUP BY parent.device_id, parent.carrier, parent.qty
ORDER BY parent.device_id"""
"""The meter tree's gap (损耗/未计量 = main − Σ sub) over the period, per meter with sub-meters."""


def gaps_sql(whole_months: bool = False) -> str:
    """``GAPS``; totals over the period, so with ``whole_months`` (a period holding a whole
    month) any meter's whole months may count as one row each."""
    daily = _daily("true") if whole_months else DAILY
    return compose(GAPS, meters=Fixed(_meters("d.park_id")), daily=Fixed(daily))
