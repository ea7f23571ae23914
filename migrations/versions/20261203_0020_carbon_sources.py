"""Carbon accounting as a verifier signs it off: every factor cites its notice, the grid factors
of every published year and region, steam by enthalpy, one natural-gas calorific value, more
carriers, process emissions and the 零碳园区 targets.

- ``carbon_factor`` / ``carbon_coefficient``: ``document``, ``issuer``, ``issued_on``,
  ``table_ref`` (where in the document), ``data_year`` (the year the figure describes);
  ``carbon_factor.parameters`` (jsonb: e.g. a steam factor's pressure and enthalpy); method
  ``biogenic`` (biomass CO₂, reported beside Scope 1, never in it).
- ``carbon_carrier.renewable``: counts as renewable in "energy without renewables".
- New carriers ``lng``, ``fuel_oil``, ``coke``, ``biomass``, ``hydrogen`` with GB/T 2589-2020
  coefficients and accounting-guide factors.
- Grid factors: 2021 (national, excluding market-traded non-fossil 0.5942, regional) and 2022
  regional added; the 2023 rows get their notice.
- Natural gas: one NCV (核算指南 389.31 GJ/10⁴Nm³) for both tce and CO₂: 1.3284 kgce/m³.
- Steam: 核算指南 method, heat = mass x (enthalpy − 83.74 kJ/kg), x 0.11 tCO₂/GJ; default
  saturated steam at 1.0 MPa (abs), to be confirmed per park.
- ``carbon_process_emission``: process emissions entered per enterprise and year (tCO₂).
- ``carbon_target``: the 零碳园区 indicator targets (发改环资〔2025〕910号, verify).

Revision ID: 0020
Revises: 0024
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0024"
branch_labels = None
depends_on = None

ISSUER_GRID = "生态环境部、国家统计局"
N21 = "关于发布2021年电力二氧化碳排放因子的公告（公告2024年第12号）"
N22 = "关于发布2022年电力二氧化碳排放因子的公告"
N23 = "关于发布2023年电力二氧化碳排放因子的公告"
T_AVG = "附件《{y}年电力二氧化碳排放因子》: 全国电力平均二氧化碳排放因子"
T_MKT = "附件《{y}年电力二氧化碳排放因子》: 全国电力平均二氧化碳排放因子（不包括市场化交易的非化石能源电量）"
T_REG = "附件《{y}年电力二氧化碳排放因子》: 区域电力平均二氧化碳排放因子"
NOTICES = {2021: (N21, "2024-04-12"), 2022: (N22, "2024-12-20"), 2023: (N23, None)}
REGIONS = {"north": "华北", "northeast": "东北", "east": "华东", "central": "华中",
           "northwest": "西北", "south": "南方", "southwest": "西南"}  # fmt: skip

# year → region → kgCO₂/kWh. 2021 regional: from the notice's table as recalled, not in
# ../shared/DOMAIN.md, so marked verify until checked against the published attachment.
REGIONAL = {
    2021: {"north": "0.7120", "northeast": "0.6012", "east": "0.5992", "central": "0.5354",
           "northwest": "0.5951", "south": "0.4326", "southwest": "0.2113"},
    2022: {"north": "0.6776", "northeast": "0.5564", "east": "0.5617", "central": "0.5395",
           "northwest": "0.5857", "south": "0.3869", "southwest": "0.2268"},
}  # fmt: skip
MARKET_2021 = "0.5942"

GUIDE = "工业其他行业企业温室气体排放核算方法与报告指南（试行）"
GUIDE_ISSUER = "国家发展改革委办公厅（发改办气候〔2015〕1722号）"
GUIDE_DATE = "2015-07-06"
GUIDE_FUELS = "附录二 表2.1 常用化石燃料相关参数缺省值"
GUIDE_HEAT = "附录二 表2.2 其他排放因子推荐值（热力 0.11 tCO₂/GJ）; 正文 外购热力: 蒸汽热量 = Ma x (Enst − 83.74) x 10⁻³"
GB2589 = "GB/T 2589-2020 综合能耗计算通则"
GB2589_ISSUER = "国家市场监督管理总局、国家标准化管理委员会"
GB2589_DATE = "2020-09-29"
GB2589_TABLE = "附录A 表A.1 各种能源折标准煤参考系数"
IPCC = "2006 IPCC Guidelines for National Greenhouse Gas Inventories, Vol. 2"
IPCC_TABLE = "Ch. 1 Table 1.2 (NCV wood/wood waste 15.6 TJ/Gg); Ch. 2 Table 2.2 (112 000 kgCO₂/TJ)"

# carrier, unit, scope, energy, clean, renewable, description
CARRIERS = [
    ("lng", "kg", 1, True, False, False, "liquefied natural gas burned on site"),
    ("fuel_oil", "kg", 1, True, False, False, "fuel oil burned on site"),
    ("coke", "kg", 1, True, False, False, "coke burned on site"),
    ("biomass", "kg", None, True, True, True,
     "solid biomass burned on site (CO₂ biogenic: reported, not in Scope 1)"),
    ("hydrogen", "kg", 1, True, True, False, "hydrogen burned or used in fuel cells on site"),
]  # fmt: skip

# carrier, kgce/unit (both bases), document, table, verify, source
COEFFICIENTS = [
    ("lng", "1.7572", GB2589, GB2589_TABLE, False, f"{GB2589} {GB2589_TABLE}: 液化天然气 51 498 kJ/kg"),
    ("fuel_oil", "1.4286", GB2589, GB2589_TABLE, False, f"{GB2589} {GB2589_TABLE}: 燃料油 41 816 kJ/kg"),
    ("coke", "0.9714", GB2589, GB2589_TABLE, False, f"{GB2589} {GB2589_TABLE}: 焦炭 28 435 kJ/kg"),
    ("biomass", "0.5323", IPCC, IPCC_TABLE, True,
     "NCV 15.6 GJ/t (IPCC 2006 wood) ÷ 29.307 MJ/kgce; GB/T 2589-2020 has no biomass row"),
    ("hydrogen", "4.0946", "H₂ lower heating value 120 MJ/kg", "", True,
     "120 MJ/kg ÷ 29.307 MJ/kgce; GB/T 2589-2020 has no hydrogen row"),
]  # fmt: skip

# carrier, method, value kgCO₂/unit, ncv GJ/unit, cc tC/TJ, ox, document, table, verify, source
FUEL_FACTORS = [
    ("fuel_oil", "combustion", "3.1705", "0.041816", "21.1", "0.98", GUIDE, GUIDE_FUELS, False,
     f"{GUIDE} {GUIDE_FUELS}: 燃料油"),
    ("coke", "combustion", "2.8604", "0.028435", "29.5", "0.93", GUIDE, GUIDE_FUELS, True,
     f"{GUIDE} {GUIDE_FUELS}: 焦炭"),
    ("lng", "combustion", "2.8601", "0.051498", "15.3", "0.99", GUIDE, GUIDE_FUELS, True,
     "NCV of GB/T 2589-2020 (51 498 kJ/kg, the one used for tce) x the guide's natural-gas "
     "carbon content 15.3 tC/TJ and oxidation 99%"),
    ("hydrogen", "combustion", "0", "0.120", "0", "1", "H₂ contains no carbon", "", False,
     "hydrogen: zero direct CO₂ (its production is outside Scope 1)"),
    ("biomass", "biogenic", "1.7472", "0.0156", "30.5454545", "1", IPCC, IPCC_TABLE, True,
     "biogenic CO₂ of wood: 15.6 GJ/t x 112 000 kgCO₂/TJ; reported separately, not in Scope 1 "
     "(GB/T 32150-2015 and the 核算指南 exclude biomass CO₂)"),
]  # fmt: skip

GAS_NCV = "0.038931"
GAS_COEFFICIENT = "1.3284"  # 38 931 kJ/m³ ÷ 29 307 kJ/kgce
STEAM = {"pressure_mpa": 1.0, "temperature_c": None, "enthalpy_kj_kg": 2777.12,
         "feedwater_kj_kg": 83.74, "heat_factor_kg_per_mj": 0.11}  # fmt: skip
STEAM_VALUE = "0.296272"  # (2777.12 − 83.74) kJ/kg / 1000 x 0.11 kgCO₂/MJ

# indicator, basis-free, min_tce, max_tce, comparator, threshold, verify
TARGETS = [
    ("co2_per_tce", 200000, 1000000, "<=", 0.20),
    ("co2_per_tce", 1000000, None, "<=", 0.30),
    ("clean_energy_share", None, None, ">=", 0.90),
]
TARGET_DOC = "关于开展零碳园区建设的通知（发改环资〔2025〕910号）"
TARGET_ISSUER = "国家发展改革委、工业和信息化部、国家能源局"

SCHEMA = """
ALTER TABLE carbon_carrier ADD COLUMN renewable boolean NOT NULL DEFAULT false;
UPDATE carbon_carrier SET renewable = true WHERE carrier IN ('pv_self', 'pv_export');

ALTER TABLE carbon_factor DROP CONSTRAINT carbon_factor_method_check;
ALTER TABLE carbon_factor ADD CONSTRAINT carbon_factor_method_check
    CHECK (method IN ('location', 'market', 'combustion', 'heat', 'biogenic'));
ALTER TABLE carbon_factor ADD COLUMN document text, ADD COLUMN issuer text,
    ADD COLUMN issued_on date, ADD COLUMN table_ref text, ADD COLUMN data_year integer,
    ADD COLUMN parameters jsonb;
ALTER TABLE carbon_coefficient ADD COLUMN document text, ADD COLUMN issuer text,
    ADD COLUMN issued_on date, ADD COLUMN table_ref text;
COMMENT ON COLUMN carbon_factor.data_year IS 'the year the figure describes (a grid factor of 2022 is published in 2024)';
COMMENT ON COLUMN carbon_factor.parameters IS 'how the value was made, e.g. steam pressure, enthalpy, feed-water enthalpy, heat factor';

INSERT INTO carbon_constant VALUES
    ('kgce_kj', 29307, 'kJ per kgce', 'GB/T 2589-2020 综合能耗计算通则 §3: 1 kgce = 29 307 kJ'),
    ('feedwater_kj_kg', 83.74, 'kJ/kg', '工业其他行业企业温室气体排放核算方法与报告指南（试行）: 蒸汽热量 = Ma x (Enst − 83.74) x 10⁻³ (water at 20 °C)');

CREATE TABLE carbon_process_emission (
    park_id        text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    enterprise_id  text NOT NULL,
    year           integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    co2_t          double precision NOT NULL CHECK (co2_t >= 0),
    description    text NOT NULL,
    method         text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, enterprise_id, year)
);
COMMENT ON TABLE carbon_process_emission IS 'process (工业生产过程) emissions entered per enterprise and year, tCO2; Scope 1';

CREATE TABLE carbon_target (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    indicator   text NOT NULL,
    min_tce     double precision,
    max_tce     double precision,
    comparator  text NOT NULL CHECK (comparator IN ('<=', '>=')),
    threshold   double precision NOT NULL,
    document    text NOT NULL,
    issuer      text NOT NULL,
    valid_from  date NOT NULL,
    verify      boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE carbon_target IS '零碳园区 targets by the park''s annual energy use (tce, 等价值): [min_tce, max_tce)';
"""


FACTOR_META = (
    "UPDATE carbon_factor SET document = :document, issuer = :issuer, "
    "issued_on = CAST(:issued_on AS date), table_ref = :table_ref, data_year = :data_year "
    "WHERE park_id IS NULL AND carrier = 'electricity_grid' AND valid_from = :valid_from "
    "AND method = :method AND (region = :region OR (:region = '*' AND region <> 'national'))"
)
INSERT_FACTOR = (
    "INSERT INTO carbon_factor (carrier, method, region, valid_from, value, ncv, carbon_content, "
    "oxidation, source, verify, document, issuer, issued_on, table_ref, data_year) VALUES "
    "(:carrier, :method, :region, :valid_from, CAST(:value AS numeric), CAST(:ncv AS numeric), "
    "CAST(:cc AS numeric), CAST(:ox AS numeric), :source, :verify, :document, :issuer, "
    "CAST(:issued_on AS date), :table_ref, :data_year)"
)
GUIDE_META = {"document": GUIDE, "issuer": GUIDE_ISSUER, "issued_on": GUIDE_DATE}
UPDATES = [
    ("UPDATE carbon_factor SET document = :document, issuer = :issuer, issued_on = "
     "CAST(:issued_on AS date), table_ref = :table_ref WHERE park_id IS NULL "
     "AND method = 'combustion'", {**GUIDE_META, "table_ref": GUIDE_FUELS}),
    ("UPDATE carbon_factor SET document = :document, issuer = :issuer, issued_on = "
     "CAST(:issued_on AS date), table_ref = :table_ref, source = :source "
     "WHERE park_id IS NULL AND carrier = 'heat'",
     {**GUIDE_META, "table_ref": GUIDE_HEAT,
      "source": "核算指南 purchased heat 0.11 tCO₂/GJ = 0.11 kgCO₂/MJ"}),
    ("UPDATE carbon_factor SET document = :document, issuer = :issuer, issued_on = "
     "CAST(:issued_on AS date), table_ref = :table_ref, value = CAST(:value AS numeric), "
     "parameters = CAST(:parameters AS jsonb), verify = true, source = :source "
     "WHERE park_id IS NULL AND carrier = 'steam' AND method = 'heat'",
     {**GUIDE_META, "table_ref": GUIDE_HEAT, "value": STEAM_VALUE,
      "parameters": json.dumps(STEAM),
      "source": "核算指南 purchased steam: (enthalpy − 83.74 kJ/kg) x 0.11 kgCO₂/MJ; default "
      "saturated steam at 1.0 MPa (abs), 2777.12 kJ/kg (IAPWS-IF97): set the park's steam "
      "conditions (PUT .../carbon/steam)"}),
    ("UPDATE carbon_factor SET ncv = CAST(:ncv AS numeric) WHERE park_id IS NULL "
     "AND carrier = 'natural_gas'", {"ncv": GAS_NCV}),
    ("UPDATE carbon_coefficient SET document = :document, issuer = :issuer, issued_on = "
     "CAST(:issued_on AS date), table_ref = :table_ref WHERE park_id IS NULL",
     {"document": GB2589, "issuer": GB2589_ISSUER, "issued_on": GB2589_DATE,
      "table_ref": GB2589_TABLE}),
    ("UPDATE carbon_coefficient SET value = CAST(:value AS numeric), source = :source "
     "WHERE park_id IS NULL AND carrier = 'natural_gas'",
     {"value": GAS_COEFFICIENT,
      "source": "核算指南 NCV 389.31 GJ/10⁴Nm³ (the one the CO₂ factor uses) ÷ 29.307 MJ/kgce "
      "(GB/T 2589-2020); GB/T 2589 lists 38 931 kJ/m³ too (1.3300 rounded)"}),
]  # fmt: skip


def _grid() -> list[tuple[str, dict[str, object]]]:
    out: list[tuple[str, dict[str, object]]] = []
    for year, (notice, issued) in NOTICES.items():
        meta = {"document": notice, "issuer": ISSUER_GRID, "issued_on": issued,
                "data_year": year, "valid_from": date(year, 1, 1)}  # fmt: skip
        for method, region, table in (
            ("location", "national", T_AVG),
            ("market", "national", T_MKT),
            ("location", "*", T_REG),
        ):
            params = {**meta, "method": method, "region": region, "table_ref": table.format(y=year)}
            out.append((FACTOR_META, params))
    rows = [("market", "national", 2021, MARKET_2021, f"{N21} (national, excluding "
             "market-traded non-fossil power)", T_MKT, False)]  # fmt: skip
    for year, values in REGIONAL.items():
        for region, value in values.items():
            rows.append(("location", region, year, value, f"{NOTICES[year][0]} ({REGIONS[region]})",
                         T_REG, year == 2021))  # fmt: skip
    for method, region, year, value, source, table, verify in rows:
        out.append((INSERT_FACTOR, {
            "carrier": "electricity_grid", "method": method, "region": region,
            "valid_from": date(year, 1, 1), "value": value, "ncv": None, "cc": None, "ox": None,
            "source": source, "verify": verify, "document": NOTICES[year][0],
            "issuer": ISSUER_GRID, "issued_on": NOTICES[year][1],
            "table_ref": table.format(y=year), "data_year": year}))  # fmt: skip
    return out


def _carriers() -> list[tuple[str, dict[str, object]]]:
    out: list[tuple[str, dict[str, object]]] = []
    for carrier, unit, scope, energy, clean, renewable, description in CARRIERS:
        out.append((
            "INSERT INTO carbon_carrier (carrier, unit, scope, energy, clean, renewable, "
            "description) VALUES (:carrier, :unit, :scope, :energy, :clean, :renewable, "
            ":description)",
            {"carrier": carrier, "unit": unit, "scope": scope, "energy": energy, "clean": clean,
             "renewable": renewable, "description": description}))  # fmt: skip
    for carrier, value, doc, table, verify, source in COEFFICIENTS:
        gb = doc == GB2589
        for basis in ("equivalent", "equal_value"):
            out.append((
                "INSERT INTO carbon_coefficient (carrier, basis, valid_from, value, source, "
                "verify, document, issuer, issued_on, table_ref) VALUES (:carrier, :basis, "
                "'2000-01-01', CAST(:value AS numeric), :source, :verify, :document, :issuer, "
                "CAST(:issued_on AS date), :table_ref)",
                {"carrier": carrier, "basis": basis, "value": value, "source": source,
                 "verify": verify, "document": doc, "issuer": GB2589_ISSUER if gb else None,
                 "issued_on": GB2589_DATE if gb else None, "table_ref": table}))  # fmt: skip
    for carrier, method, value, ncv, cc, ox, doc, table, verify, source in FUEL_FACTORS:
        guide = doc == GUIDE
        out.append((INSERT_FACTOR, {
            "carrier": carrier, "method": method, "region": "", "valid_from": date(2000, 1, 1),
            "value": value, "ncv": ncv, "cc": cc, "ox": ox, "source": source, "verify": verify,
            "document": doc, "issuer": GUIDE_ISSUER if guide else None,
            "issued_on": GUIDE_DATE if guide else None, "table_ref": table,
            "data_year": None}))  # fmt: skip
    return out


def _targets() -> list[tuple[str, dict[str, object]]]:
    return [(
        "INSERT INTO carbon_target (indicator, min_tce, max_tce, comparator, threshold, "
        "document, issuer, valid_from, verify) VALUES (:indicator, :lo, :hi, :comparator, "
        ":threshold, :document, :issuer, '2025-01-01', true)",
        {"indicator": i, "lo": lo, "hi": hi, "comparator": c, "threshold": t,
         "document": TARGET_DOC, "issuer": TARGET_ISSUER},
    ) for i, lo, hi, c, t in TARGETS]  # fmt: skip


def upgrade() -> None:
    op.execute(SCHEMA)
    bind = op.get_bind()
    for statement, params in [*_grid(), *UPDATES, *_carriers(), *_targets()]:
        bind.execute(sa.text(statement), params)


DOWNGRADE = """
DROP TABLE IF EXISTS carbon_target, carbon_process_emission;
DELETE FROM carbon_constant WHERE name IN ('kgce_kj', 'feedwater_kj_kg');
DELETE FROM carbon_factor WHERE carrier IN ('lng', 'fuel_oil', 'coke', 'biomass', 'hydrogen')
    OR method = 'biogenic'
    OR (park_id IS NULL AND carrier = 'electricity_grid' AND (
        (method = 'market' AND valid_from = '2021-01-01')
        OR (region NOT IN ('national', '') AND valid_from IN ('2021-01-01', '2022-01-01'))));
DELETE FROM carbon_coefficient WHERE carrier IN ('lng', 'fuel_oil', 'coke', 'biomass', 'hydrogen');
DELETE FROM carbon_manual_entry WHERE carrier IN ('lng', 'fuel_oil', 'coke', 'biomass', 'hydrogen');
DELETE FROM carbon_carrier WHERE carrier IN ('lng', 'fuel_oil', 'coke', 'biomass', 'hydrogen');
UPDATE carbon_coefficient SET value = 1.2143,
    source = 'GB/T 2589-2020 附录A (gas-field; oil-field 1.3300)'
    WHERE park_id IS NULL AND carrier = 'natural_gas';
UPDATE carbon_factor SET ncv = 0.038931 WHERE park_id IS NULL AND carrier = 'natural_gas';
UPDATE carbon_factor SET value = 0.4146, verify = true,
    source = '0.1286 kgce/kg x 29.307 MJ/kgce x 0.11 kgCO₂/MJ (steam as purchased heat)'
    WHERE park_id IS NULL AND carrier = 'steam' AND method = 'heat';
UPDATE carbon_factor SET source = 'purchased heat 0.11 tCO₂/GJ'
    WHERE park_id IS NULL AND carrier = 'heat';
ALTER TABLE carbon_coefficient DROP COLUMN document, DROP COLUMN issuer, DROP COLUMN issued_on,
    DROP COLUMN table_ref;
ALTER TABLE carbon_factor DROP COLUMN document, DROP COLUMN issuer, DROP COLUMN issued_on,
    DROP COLUMN table_ref, DROP COLUMN data_year, DROP COLUMN parameters;
ALTER TABLE carbon_factor DROP CONSTRAINT carbon_factor_method_check;
ALTER TABLE carbon_factor ADD CONSTRAINT carbon_factor_method_check
    CHECK (method IN ('location', 'market', 'combustion', 'heat'));
ALTER TABLE carbon_carrier DROP COLUMN renewable;
"""


def downgrade() -> None:
    op.execute(DOWNGRADE)
