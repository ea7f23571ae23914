"""Green and low-carbon management (issue 9): carriers, versioned standard-coal coefficients and
emission factors (seeded with ../shared/DOMAIN.md defaults), manual energy entries, green power
(contracts and 绿证 with ids that cannot be used twice), budgets and their announced thresholds.

- ``carbon_carrier``: what each energy carrier is (unit, scope, whether it is energy and clean).
- ``carbon_coefficient``: kgce per unit, per carrier and basis (``equivalent`` 当量值,
  ``equal_value`` 等价值), valid from a date; ``park_id`` NULL for the defaults, a park's own
  rows win over the defaults from their date on (the newest row in force applies).
- ``carbon_factor``: kgCO₂ per unit, per carrier, method (``location``, ``market``,
  ``combustion``, ``heat``) and grid region, valid from a date; fuels carry their NCV (GJ per
  unit), carbon content (tC/TJ = kgC/GJ) and oxidation rate: factor = NCV x CC x OX x 44/12.
- ``verify`` marks figures DOMAIN.md says to confirm.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

GB2589 = "GB/T 2589-2020 附录A"

# carrier, unit, scope (1, 2 or NULL), energy, clean, description
CARRIERS = [
    ("electricity_grid", "kWh", 2, True, False, "electricity bought from the grid"),
    ("pv_self", "kWh", None, True, True, "on-site PV used on site (generation − export)"),
    ("pv_export", "kWh", None, False, True, "on-site PV exported to the grid (not deducted)"),
    ("natural_gas", "m³", 1, True, False, "natural gas burned on site"),
    ("steam", "kg", 2, True, False, "purchased low-pressure steam"),
    ("heat", "MJ", 2, True, False, "purchased heat"),
    ("water", "t", None, False, False, "fresh water (a consumable, outside the energy boundary)"),
    ("diesel", "kg", 1, True, False, "diesel burned on site"),
    ("gasoline", "kg", 1, True, False, "gasoline burned on site"),
    ("lpg", "kg", 1, True, False, "liquefied petroleum gas burned on site"),
    ("raw_coal", "kg", 1, True, False, "raw coal burned on site"),
]

# carrier, equivalent (当量值), equal value (等价值), source, verify
COEFFICIENTS = [
    ("electricity_grid", "0.1229", "0.30", f"{GB2589}; 等价值: common practice ≈ 0.30", True),
    ("pv_self", "0.1229", "0.1229", f"{GB2589} (当量值 for both bases: no generation loss)", True),
    ("pv_export", "0", "0", "exported: not consumed in the boundary", False),
    ("natural_gas", "1.2143", "1.2143", f"{GB2589} (gas-field; oil-field 1.3300)", False),
    ("steam", "0.1286", "0.1286", f"{GB2589} (low-pressure steam)", False),
    ("heat", "0.03412", "0.03412", GB2589, False),
    ("water", "0.0857", "0.0857", f"{GB2589} (fresh water; 0.2571 in other sources)", True),
    ("diesel", "1.4571", "1.4571", GB2589, False),
    ("gasoline", "1.4714", "1.4714", GB2589, False),
    ("lpg", "1.7143", "1.7143", GB2589, False),
    ("raw_coal", "0.7143", "0.7143", GB2589, False),
]

MEE = "MEE + NBS 电力二氧化碳排放因子"
# carrier, method, region, valid_from, factor kgCO2/unit, ncv, cc, ox, source, verify
FACTORS = [
    ("electricity_grid", "location", "national", "2021-01-01", "0.5568", None, None, None,
     f"{MEE} 2021 (national)", False),
    ("electricity_grid", "location", "national", "2022-01-01", "0.5366", None, None, None,
     f"{MEE} 2022 (national)", False),
    ("electricity_grid", "location", "national", "2023-01-01", "0.5306", None, None, None,
     f"{MEE} 2023 (national)", False),
    ("electricity_grid", "market", "national", "2022-01-01", "0.5856", None, None, None,
     f"{MEE} 2022 (national, excluding market-traded non-fossil power)", False),
    ("electricity_grid", "market", "national", "2023-01-01", "0.6096", None, None, None,
     f"{MEE} 2023 (national, excluding market-traded non-fossil power)", False),
    ("electricity_grid", "location", "north", "2023-01-01", "0.6361", None, None, None,
     f"{MEE} 2023 (华北)", False),
    ("electricity_grid", "location", "northeast", "2023-01-01", "0.5122", None, None, None,
     f"{MEE} 2023 (东北)", False),
    ("electricity_grid", "location", "east", "2023-01-01", "0.5500", None, None, None,
     f"{MEE} 2023 (华东)", False),
    ("electricity_grid", "location", "central", "2023-01-01", "0.5271", None, None, None,
     f"{MEE} 2023 (华中)", False),
    ("electricity_grid", "location", "northwest", "2023-01-01", "0.5543", None, None, None,
     f"{MEE} 2023 (西北)", False),
    ("electricity_grid", "location", "south", "2023-01-01", "0.4042", None, None, None,
     f"{MEE} 2023 (南方)", False),
    ("electricity_grid", "location", "southwest", "2023-01-01", "0.2472", None, None, None,
     f"{MEE} 2023 (西南)", False),
    ("natural_gas", "combustion", "", "2000-01-01", "2.1622", "0.038931", "15.3", "0.99",
     "GB/T 32150 / 核算指南 defaults (NCV 389.31 GJ/10⁴m³)", False),
    ("diesel", "combustion", "", "2000-01-01", "3.0959", "0.042652", "20.2", "0.98",
     "GB/T 32150 / 核算指南 defaults", False),
    ("gasoline", "combustion", "", "2000-01-01", "2.9251", "0.043070", "18.9", "0.98",
     "GB/T 32150 / 核算指南 defaults", False),
    ("raw_coal", "combustion", "", "2000-01-01", "1.9003", "0.020908", "26.37", "0.94",
     "GB/T 32150 / 核算指南 defaults", False),
    ("lpg", "combustion", "", "2000-01-01", "3.1013", "0.050179", "17.2", "0.98",
     "核算指南 defaults (not in DOMAIN.md)", True),
    ("heat", "heat", "", "2000-01-01", "0.11", None, None, None,
     "purchased heat 0.11 tCO₂/GJ", False),
    ("steam", "heat", "", "2000-01-01", "0.4146", None, None, None,
     "0.1286 kgce/kg x 29.307 MJ/kgce x 0.11 kgCO₂/MJ (steam as purchased heat)", True),
]  # fmt: skip

SCHEMA = """
CREATE TABLE carbon_carrier (
    carrier      text PRIMARY KEY,
    unit         text NOT NULL,
    scope        smallint CHECK (scope IN (1, 2)),
    energy       boolean NOT NULL,
    clean        boolean NOT NULL,
    description  text NOT NULL
);

CREATE TABLE carbon_coefficient (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id     text REFERENCES park (id) ON DELETE CASCADE,
    carrier     text NOT NULL REFERENCES carbon_carrier (carrier),
    basis       text NOT NULL CHECK (basis IN ('equivalent', 'equal_value')),
    valid_from  date NOT NULL,
    value       numeric NOT NULL CHECK (value >= 0),
    source      text NOT NULL,
    verify      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX carbon_coefficient_key
    ON carbon_coefficient (coalesce(park_id, ''), carrier, basis, valid_from);
COMMENT ON COLUMN carbon_coefficient.value IS 'kgce per unit of the carrier';

CREATE TABLE carbon_factor (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id         text REFERENCES park (id) ON DELETE CASCADE,
    carrier         text NOT NULL REFERENCES carbon_carrier (carrier),
    method          text NOT NULL CHECK (method IN ('location', 'market', 'combustion', 'heat')),
    region          text NOT NULL DEFAULT '',
    valid_from      date NOT NULL,
    value           numeric NOT NULL CHECK (value >= 0),
    ncv             numeric,
    carbon_content  numeric,
    oxidation       numeric,
    source          text NOT NULL,
    verify          boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX carbon_factor_key
    ON carbon_factor (coalesce(park_id, ''), carrier, method, region, valid_from);
COMMENT ON COLUMN carbon_factor.value IS 'kgCO2 per unit of the carrier';
COMMENT ON COLUMN carbon_factor.ncv IS 'GJ per unit; with carbon_content (tC/TJ) and oxidation: value = ncv*cc*ox*44/12';

CREATE TABLE carbon_constant (
    name    text PRIMARY KEY,
    value   double precision NOT NULL,
    unit    text NOT NULL,
    source  text NOT NULL
);
INSERT INTO carbon_constant VALUES
    ('certificate_kwh', 1000, 'kWh per 绿证', 'NDRC/NEA 绿证 rules: 1 certificate = 1,000 kWh');

CREATE TABLE carbon_setting (
    park_id      text PRIMARY KEY REFERENCES park (id) ON DELETE CASCADE,
    grid_region  text NOT NULL DEFAULT 'national',
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE carbon_manual_entry (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    park_id        text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    enterprise_id  text,
    building_id    text,
    carrier        text NOT NULL REFERENCES carbon_carrier (carrier),
    day            date NOT NULL,
    quantity       double precision NOT NULL CHECK (quantity >= 0),
    note           text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX carbon_manual_entry_day ON carbon_manual_entry (park_id, day);

CREATE TABLE carbon_green_power (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    park_id         text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    enterprise_id   text,
    kind            text NOT NULL CHECK (kind IN ('contract', 'certificate')),
    certificate_id  text UNIQUE,
    month           date NOT NULL CHECK (extract(day FROM month) = 1),
    kwh             double precision NOT NULL CHECK (kwh > 0),
    reference       text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'certificate') = (certificate_id IS NOT NULL))
);
CREATE INDEX carbon_green_power_month ON carbon_green_power (park_id, month);
COMMENT ON COLUMN carbon_green_power.certificate_id IS '绿证 id: unique across every park, so one certificate never counts twice';

CREATE TABLE carbon_budget (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    park_id        text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    enterprise_id  text,
    year           integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    metric         text NOT NULL CHECK (metric IN ('energy_tce', 'carbon_t', 'tce_per_value_added', 'co2_per_value_added')),
    cap            double precision NOT NULL CHECK (cap > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX carbon_budget_key ON carbon_budget (park_id, coalesce(enterprise_id, ''), year, metric);

CREATE TABLE carbon_budget_announcement (
    budget_id     uuid NOT NULL REFERENCES carbon_budget (id) ON DELETE CASCADE,
    threshold     integer NOT NULL CHECK (threshold IN (80, 100)),
    value         double precision NOT NULL,
    announced_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (budget_id, threshold)
);
"""


def _lit(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _seed() -> str:
    carriers = ",\n".join("(" + ", ".join(_lit(v) for v in row) + ")" for row in CARRIERS)
    coefficients = ",\n".join(
        f"({_lit(c)}, {_lit(basis)}, '2000-01-01', {_lit(v)}::numeric, {_lit(s)}, "
        f"{_lit(verify and (basis == 'equal_value' or c != 'electricity_grid'))})"
        for c, eq, ev, s, verify in COEFFICIENTS
        for basis, v in (("equivalent", eq), ("equal_value", ev))
    )
    factors = ",\n".join(
        f"({_lit(c)}, {_lit(m)}, {_lit(r)}, {_lit(d)}, {_lit(v)}::numeric, {_lit(n)}::numeric, "
        f"{_lit(cc)}::numeric, {_lit(ox)}::numeric, {_lit(s)}, {_lit(verify)})"
        for c, m, r, d, v, n, cc, ox, s, verify in FACTORS
    )
    return (
        "INSERT INTO carbon_carrier (carrier, unit, scope, energy, clean, description) VALUES\n"
        f"{carriers};\n"
        "INSERT INTO carbon_coefficient (carrier, basis, valid_from, value, source, verify) "
        f"VALUES\n{coefficients};\n"
        "INSERT INTO carbon_factor (carrier, method, region, valid_from, value, ncv, "
        f"carbon_content, oxidation, source, verify) VALUES\n{factors};\n"
    )


def upgrade() -> None:
    op.execute(SCHEMA)
    op.execute(_seed())


def downgrade() -> None:
    op.execute(
        "DROP TABLE IF EXISTS carbon_budget_announcement, carbon_budget, carbon_green_power, "
        "carbon_manual_entry, carbon_setting, carbon_constant, carbon_factor, carbon_coefficient, carbon_carrier"
    )
