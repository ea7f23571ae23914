"""Economy rules as data: 规上 thresholds per industry sector, the working-day calendar, 亩均
schemes and the events a scheme scores (加分 / 减分 / 一票否决).

- ``economy_scale_threshold``: the NBS entry threshold of the statistics register (规模以上
  工业, 限额以上批发/零售/住宿/餐饮, 规模以上服务业) per GB/T 4754 code prefix (a section letter
  or the first digits of a class) and ``valid_from``; the most specific prefix wins, the
  park's own rows before the defaults. Sectors without a row (建筑业 and 房地产开发经营 enter
  by qualification, not revenue; finance) get no 规上 status from revenue.
- ``economy_scale_status`` gains the basis of each month's status (``annual``: the previous
  year's complete result; ``carried``: the previous year incomplete, the last status kept;
  ``cumulative``: a new firm by its 累计 revenue of the year), the threshold and its source.
- ``economy_calendar``: public holidays (``holiday``) and make-up working days (``workday``,
  调休) per day, seeded for 2025 and 2026 from the State Council notices; a park may add its
  own days.
- ``economy_anomaly.kind`` may be ``no_data``: a metered firm's day without any reading.
- ``economy_scheme``: a 亩均 scheme as data (indicator set, weights, benchmarks, caps, scope,
  cut-offs, adjustment items), by code and year; seeded with a Zhejiang-style and a
  Jiangsu-style scheme. ``economy_permu_event``: a firm's scored items of a year.

Revision ID: 0019
Revises: 0021
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from alembic import op
from sqlalchemy import text

revision = "0019"
down_revision = "0021"
branch_labels = None
depends_on = None

NBS_INDUSTRY = (
    "国家统计局《中国统计年鉴》主要统计指标解释: 规模以上工业企业 = 年主营业务收入 2000 万元及以上的"
    "工业法人单位 (起点标准自 2011 年起由 500 万元提高到 2000 万元)"
)
NBS_TRADE = (
    "国家统计局 批发和零售业、住宿和餐饮业统计报表制度 (《中国统计年鉴》社会消费品零售总额指标解释): "
    "限额以上 = 年主营业务收入批发业 2000 万元、零售业 500 万元、住宿和餐饮业 200 万元及以上"
)
NBS_SERVICES = (
    "国家统计局 规模以上服务业统计报表制度: 年营业收入 {amount} 万元及以上的服务业法人单位 ({which}); "
    "as restated by 永春县统计局 2024-08-09 and 三明市 2021-05-26 (the year of effect: verify)"
)

# (sector, prefixes, valid_from, 10⁴ yuan, measure, source, verify)
THRESHOLDS = [
    ("industry", ["B", "C", "D"], "2007-01-01", 500, "main_business_revenue",
     "国家统计局 2007-2010: 年主营业务收入 500 万元及以上 (非国有工业; 国有工业全部)", True),
    ("industry", ["B", "C", "D"], "2011-01-01", 2000, "main_business_revenue", NBS_INDUSTRY,
     False),
    ("wholesale", ["51"], "2011-01-01", 2000, "main_business_revenue", NBS_TRADE, False),
    ("retail", ["52"], "2011-01-01", 500, "main_business_revenue", NBS_TRADE, False),
    ("accommodation", ["61"], "2011-01-01", 200, "main_business_revenue", NBS_TRADE, False),
    ("catering", ["62"], "2011-01-01", 200, "main_business_revenue", NBS_TRADE, False),
    ("services_2000", ["G", "I", "N", "84"], "2013-01-01", 2000, "operating_revenue",
     NBS_SERVICES.format(amount=2000, which="交通运输仓储和邮政业, 信息传输软件和信息技术服务业, "
                         "水利环境和公共设施管理业, 卫生"), True),
    ("services_1000", ["L", "M", "P", "7020", "7030", "7040", "7090"], "2013-01-01", 1000,
     "operating_revenue",
     NBS_SERVICES.format(amount=1000, which="租赁和商务服务业, 科学研究和技术服务业, 教育, 物业管理, "
                         "房地产中介服务, 房地产租赁经营, 其他房地产业"), True),
    ("services_500", ["O", "R", "85"], "2013-01-01", 500, "operating_revenue",
     NBS_SERVICES.format(amount=500, which="居民服务修理和其他服务业, 文化体育和娱乐业, 社会工作"),
     True),
]  # fmt: skip

CAL_2025 = "国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号, 2024-11-12)"
CAL_2026 = "国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04)"
HOLIDAYS = [
    ("2025-01-01", "2025-01-01", "元旦", CAL_2025),
    ("2025-01-28", "2025-02-04", "春节", CAL_2025),
    ("2025-04-04", "2025-04-06", "清明节", CAL_2025),
    ("2025-05-01", "2025-05-05", "劳动节", CAL_2025),
    ("2025-05-31", "2025-06-02", "端午节", CAL_2025),
    ("2025-10-01", "2025-10-08", "国庆节、中秋节", CAL_2025),
    ("2026-01-01", "2026-01-03", "元旦", CAL_2026),
    ("2026-02-15", "2026-02-23", "春节", CAL_2026),
    ("2026-04-04", "2026-04-06", "清明节", CAL_2026),
    ("2026-05-01", "2026-05-05", "劳动节", CAL_2026),
    ("2026-06-19", "2026-06-21", "端午节", CAL_2026),
    ("2026-09-25", "2026-09-27", "中秋节", CAL_2026),
    ("2026-10-01", "2026-10-07", "国庆节", CAL_2026),
]
WORKDAYS = [
    ("2025-01-26", "春节调休上班", CAL_2025), ("2025-02-08", "春节调休上班", CAL_2025),
    ("2025-04-27", "劳动节调休上班", CAL_2025), ("2025-09-28", "国庆节调休上班", CAL_2025),
    ("2025-10-11", "国庆节调休上班", CAL_2025), ("2026-01-04", "元旦调休上班", CAL_2026),
    ("2026-02-14", "春节调休上班", CAL_2026), ("2026-02-28", "春节调休上班", CAL_2026),
    ("2026-05-09", "劳动节调休上班", CAL_2026), ("2026-09-20", "国庆节调休上班", CAL_2026),
    ("2026-10-10", "国庆节调休上班", CAL_2026),
]  # fmt: skip

ZJ = "浙江省人民政府关于深化“亩均论英雄”改革的指导意见 (浙政发〔2018〕5号)"
HUANGYAN = "黄岩区 2022 年度工业企业亩均效益综合评价 (benchmarks and weights)"
JS = "省政府关于开展工业企业资源集约利用综合评价工作的指导意见（试行） (苏政发〔2017〕143号)"
HUAIAN = "淮安市工业企业资源集约利用综合评价办法 (淮安市工信局, 政策解读 2024-05-31)"
VETO_SOURCE = "一票否决: a serious safety or environmental accident in the year sets D (both provinces' schemes)"

ZHEJIANG = {
    "name": "浙江 亩均效益综合评价 (规上六项指标)",
    "region": "Zhejiang",
    "sources": [ZJ, HUANGYAN],
    "scope": {"sections": ["B", "C", "D"], "small_min_land_mu": 3,
              "note": "规上工业企业 and 规下工业企业 with 3 亩 or more (3 亩: verify per county)"},
    "min_age_years": 2,
    "classes": {
        "above_scale": [
            {"indicator": "tax_per_mu", "weight": 30, "benchmark": 24.097, "cap": 2.0},
            {"indicator": "value_added_per_mu", "weight": 20, "benchmark": 136.16, "cap": 2.0},
            {"indicator": "value_added_per_energy", "weight": 20, "benchmark": 2.694,
             "cap": 2.0, "when_missing": "average"},
            {"indicator": "value_added_per_emission", "weight": 10, "benchmark": 4929.81,
             "cap": 2.0, "when_missing": "average"},
            {"indicator": "labour_productivity", "weight": 10, "benchmark": 18.14, "cap": 2.0},
            {"indicator": "rd_ratio", "weight": 10, "benchmark": 0.0302, "cap": 2.0,
             "when_missing": "zero"},
        ],
        "small": [
            {"indicator": "tax_per_mu", "weight": 50, "benchmark": 24.097, "cap": 2.0},
            {"indicator": "tax_per_kwh", "weight": 50, "benchmark": 0.5, "cap": 2.0},
        ],
    },
    "cutoffs": [{"grade": "A", "upper_pct": 0.2}, {"grade": "B", "upper_pct": 0.6},
                {"grade": "C", "upper_pct": 0.95}, {"grade": "D", "upper_pct": 1.0}],
    "adjustments": [
        {"item": "serious_safety_accident", "label": "发生较大及以上生产安全事故", "veto": True,
         "source": VETO_SOURCE},
        {"item": "serious_environmental_accident", "label": "发生较大及以上环境污染事故",
         "veto": True, "source": VETO_SOURCE},
        {"item": "high_tech", "label": "高新技术企业", "points": 5},
        {"item": "listed", "label": "上市企业", "points": 3},
        {"item": "illegal_land_use", "label": "违法用地", "points": -10},
    ],
    "verify": ["single-item caps (2 x weight)", "bonus and deduction points",
               "small-firm tax_per_kwh benchmark", "the 3 亩 scope threshold"],
}  # fmt: skip

JIANGSU = {
    "name": "江苏 工业企业资源集约利用综合评价 (淮安 2024)",
    "region": "Jiangsu (Huai'an)",
    "sources": [JS, HUAIAN],
    "scope": {"sections": ["B", "C", "D"], "small_min_land_mu": 3,
              "note": "规模以上工业企业 and 占地 3 亩及以上的规下工业企业 (淮安 2024)"},
    "min_age_years": 2,
    "classes": {
        "above_scale": [
            {"indicator": "tax_per_mu", "weight": 45, "benchmark": 30.0, "cap": 2.0},
            {"indicator": "revenue_per_mu", "weight": 35, "benchmark": 800.0, "cap": 2.0},
            {"indicator": "tax_per_energy", "weight": 20, "benchmark": 2.0, "cap": 2.0,
             "when_missing": "average"},
        ],
        "small": [
            {"indicator": "tax_per_mu", "weight": 45, "benchmark": 30.0, "cap": 2.0},
            {"indicator": "revenue_per_mu", "weight": 35, "benchmark": 800.0, "cap": 2.0},
            {"indicator": "tax_per_energy", "weight": 20, "benchmark": 2.0, "cap": 2.0,
             "when_missing": "average"},
        ],
    },
    "cutoffs": [{"grade": "A", "upper_pct": 0.2}, {"grade": "B", "upper_pct": 0.6},
                {"grade": "C", "upper_pct": 0.95}, {"grade": "D", "upper_pct": 1.0}],
    "adjustments": [
        {"item": "serious_safety_accident", "label": "发生较大及以上生产安全事故", "veto": True,
         "source": VETO_SOURCE},
        {"item": "serious_environmental_accident", "label": "发生较大及以上环境污染事故",
         "veto": True, "source": VETO_SOURCE},
        {"item": "safety_standardisation", "label": "安全生产标准化达标", "points": 2},
        {"item": "energy_saving", "label": "节能降碳示范", "points": 2},
        {"item": "innovation", "label": "科技创新 (高新技术企业、研发机构)", "points": 3},
    ],
    "verify": ["benchmarks: the document sets them at about twice the county's previous-year "
               "average; the seeded numbers are placeholders for a park to replace",
               "single-item caps", "bonus points (counties set their own deductions)"],
}  # fmt: skip

SCHEMA = """
COMMENT ON COLUMN economy_grade_cutoff.upper_pct IS
    'a firm gets this grade when the share of its class ranked ahead of it is below upper_pct';

CREATE TABLE economy_scale_threshold (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id     text REFERENCES park (id) ON DELETE CASCADE,
    sector      text NOT NULL,
    prefixes    text[] NOT NULL,
    valid_from  date NOT NULL,
    revenue     double precision NOT NULL CHECK (revenue >= 0),
    measure     text NOT NULL CHECK (measure IN ('main_business_revenue', 'operating_revenue')),
    source      text NOT NULL,
    verify      boolean NOT NULL DEFAULT false,
    UNIQUE NULLS NOT DISTINCT (park_id, sector, valid_from)
);
COMMENT ON TABLE economy_scale_threshold IS
    '规上/限上 entry thresholds (10^4 yuan a year) per GB/T 4754 prefix, versioned';

ALTER TABLE economy_scale_status ADD COLUMN basis text,
    ADD COLUMN threshold double precision, ADD COLUMN sector text, ADD COLUMN source text;

CREATE TABLE economy_calendar (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id  text REFERENCES park (id) ON DELETE CASCADE,
    day      date NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name     text NOT NULL,
    source   text,
    UNIQUE NULLS NOT DISTINCT (park_id, day)
);
COMMENT ON TABLE economy_calendar IS
    'public holidays and make-up working days (调休); other days: Mon-Fri work, Sat-Sun rest';

ALTER TABLE economy_anomaly DROP CONSTRAINT economy_anomaly_kind_check;
ALTER TABLE economy_anomaly ADD CONSTRAINT economy_anomaly_kind_check
    CHECK (kind IN ('sudden_drop', 'zero_load', 'no_data'));

CREATE TABLE economy_scheme (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id     text REFERENCES park (id) ON DELETE CASCADE,
    code        text NOT NULL,
    year        integer NOT NULL,
    definition  jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text,
    UNIQUE NULLS NOT DISTINCT (park_id, code, year)
);
COMMENT ON TABLE economy_scheme IS
    '亩均 schemes as data; a year uses the newest version of its code from that year back';

INSERT INTO economy_parameter (name, valid_from, value, unit, source, verify) VALUES
    ('permu_scheme', '2000-01-01', 'null', 'economy_scheme code',
     '亩均 scheme a park evaluates with; null: its benchmark set (economy_benchmark)', false);

CREATE TABLE economy_permu_event (
    park_id        text NOT NULL,
    enterprise_id  text NOT NULL,
    year           integer NOT NULL,
    item           text NOT NULL,
    note           text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text,
    PRIMARY KEY (park_id, enterprise_id, year, item),
    FOREIGN KEY (park_id, enterprise_id) REFERENCES enterprise (park_id, id) ON DELETE CASCADE
);
"""

DOWNGRADE = """
DELETE FROM economy_parameter WHERE name = 'permu_scheme';
DROP TABLE IF EXISTS economy_permu_event, economy_scheme, economy_calendar,
    economy_scale_threshold;
DELETE FROM economy_anomaly WHERE kind = 'no_data';
ALTER TABLE economy_anomaly DROP CONSTRAINT economy_anomaly_kind_check;
ALTER TABLE economy_anomaly ADD CONSTRAINT economy_anomaly_kind_check
    CHECK (kind IN ('sudden_drop', 'zero_load'));
ALTER TABLE economy_scale_status DROP COLUMN basis, DROP COLUMN threshold, DROP COLUMN sector,
    DROP COLUMN source;
COMMENT ON COLUMN economy_grade_cutoff.upper_pct IS
    'a firm ranked in the top upper_pct of its class (rank / count) gets this grade or better';
"""


def _days(first: str, last: str) -> list[date]:
    day, end = date.fromisoformat(first), date.fromisoformat(last)
    out = []
    while day <= end:
        out.append(day)
        day += timedelta(days=1)
    return out


def upgrade() -> None:
    op.execute(SCHEMA)
    bind = op.get_bind()
    bind.execute(
        text(
            "INSERT INTO economy_scale_threshold (sector, prefixes, valid_from, revenue, measure, "
            "source, verify) VALUES (:sector, :prefixes, CAST(:valid_from AS date), :revenue, "
            ":measure, :source, :verify)"
        ),
        [dict(zip(("sector", "prefixes", "valid_from", "revenue", "measure", "source", "verify"),
                  row, strict=True)) for row in THRESHOLDS],
    )  # fmt: skip
    days = [{"day": d, "kind": "holiday", "name": n, "source": s}
            for first, last, n, s in HOLIDAYS for d in _days(first, last)]  # fmt: skip
    days += [{"day": date.fromisoformat(d), "kind": "workday", "name": n, "source": s}
             for d, n, s in WORKDAYS]  # fmt: skip
    bind.execute(
        text(
            "INSERT INTO economy_calendar (day, kind, name, source) "
            "VALUES (:day, :kind, :name, :source)"
        ),
        days,
    )
    bind.execute(
        text(
            "INSERT INTO economy_scheme (code, year, definition) "
            "VALUES (:code, :year, CAST(:definition AS jsonb))"
        ),
        [
            {"code": "zhejiang", "year": 2018, "definition": json.dumps(ZHEJIANG)},
            {"code": "jiangsu", "year": 2024, "definition": json.dumps(JIANGSU)},
        ],
    )


def downgrade() -> None:
    op.execute(DOWNGRADE)
