"""Economic-operation monitoring (经济运行监测): monthly reports, their revisions, the derived
规上 status, electricity anomalies, and the module's figures as versioned, editable tables.

- ``economy_report``: one enterprise's month (10⁴ yuan; people for ``employees``; tonnes of
  main pollutants for ``emissions``; tce 等价值 for ``energy_tce``), with who wrote it last.
- ``economy_report_revision``: every changed field of a report: old and new value, who, when.
- ``economy_scale_status``: per enterprise and month, the trailing-12-month main revenue and
  the 规上 status it gives (the history of changes is where the status differs from the month
  before).
- ``economy_anomaly``: 电力看经济 anomaly flags (sudden drop, long zero load), one per
  enterprise, day and kind, so the daily job raises each once.
- ``economy_parameter``: named figures (thresholds, base month, factors) by park (NULL: every
  park) and ``valid_from``; ``economy_benchmark``: 亩均效益 benchmarks and weights by year and
  firm class; ``economy_grade_cutoff``: grade percentiles by year. All seeded with the
  defaults of DOMAIN.md; figures marked ``verify`` are defaults to be confirmed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE economy_report (
    park_id              text NOT NULL,
    enterprise_id        text NOT NULL,
    month                date NOT NULL CHECK (extract(day FROM month) = 1),
    output_value         double precision NOT NULL CHECK (output_value >= 0),
    value_added          double precision NOT NULL,
    revenue              double precision NOT NULL CHECK (revenue >= 0),
    tax                  double precision NOT NULL,
    employees            double precision NOT NULL CHECK (employees >= 0),
    rd_spend             double precision NOT NULL CHECK (rd_spend >= 0),
    emissions            double precision CHECK (emissions >= 0),
    energy_tce           double precision CHECK (energy_tce >= 0),
    digital_transformed  boolean,
    digital_services     boolean,
    created_at           timestamptz NOT NULL DEFAULT now(),
    created_by           text,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    updated_by           text,
    PRIMARY KEY (park_id, enterprise_id, month),
    FOREIGN KEY (park_id, enterprise_id) REFERENCES enterprise (park_id, id) ON DELETE CASCADE
);
CREATE INDEX economy_report_month_idx ON economy_report (park_id, month);
COMMENT ON TABLE economy_report IS
    'monthly enterprise report: 工业总产值, 工业增加值, 营业收入 (main business), 税收 in 10^4 yuan';

CREATE TABLE economy_report_revision (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id        text NOT NULL,
    enterprise_id  text NOT NULL,
    month          date NOT NULL,
    field          text NOT NULL,
    old_value      jsonb,
    new_value      jsonb,
    source         text NOT NULL CHECK (source IN ('api', 'import')),
    changed_at     timestamptz NOT NULL DEFAULT now(),
    changed_by     text,
    FOREIGN KEY (park_id, enterprise_id, month)
        REFERENCES economy_report (park_id, enterprise_id, month) ON DELETE CASCADE
);
CREATE INDEX economy_report_revision_idx
    ON economy_report_revision (park_id, enterprise_id, month, id);

CREATE TABLE economy_scale_status (
    park_id           text NOT NULL,
    enterprise_id     text NOT NULL,
    month             date NOT NULL,
    trailing_revenue  double precision NOT NULL,
    months_reported   integer NOT NULL,
    above_scale       boolean NOT NULL,
    PRIMARY KEY (park_id, enterprise_id, month),
    FOREIGN KEY (park_id, enterprise_id) REFERENCES enterprise (park_id, id) ON DELETE CASCADE
);

CREATE TABLE economy_anomaly (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id        text NOT NULL,
    enterprise_id  text NOT NULL,
    day            date NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('sudden_drop', 'zero_load')),
    detail         jsonb NOT NULL DEFAULT '{}',
    detected_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (park_id, enterprise_id, day, kind),
    FOREIGN KEY (park_id, enterprise_id) REFERENCES enterprise (park_id, id) ON DELETE CASCADE
);

CREATE TABLE economy_parameter (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id     text REFERENCES park (id) ON DELETE CASCADE,
    name        text NOT NULL,
    valid_from  date NOT NULL,
    value       jsonb NOT NULL,
    unit        text,
    source      text,
    verify      boolean NOT NULL DEFAULT false,
    UNIQUE NULLS NOT DISTINCT (park_id, name, valid_from)
);
COMMENT ON TABLE economy_parameter IS
    'named figures of the economy module; park_id NULL: the default of every park';

CREATE TABLE economy_benchmark (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id       text REFERENCES park (id) ON DELETE CASCADE,
    year          integer NOT NULL,
    region        text NOT NULL,
    firm_class    text NOT NULL CHECK (firm_class IN ('above_scale', 'small')),
    indicator     text NOT NULL,
    benchmark     double precision NOT NULL CHECK (benchmark > 0),
    weight        double precision NOT NULL CHECK (weight >= 0),
    when_missing  text NOT NULL DEFAULT 'not_evaluated'
                  CHECK (when_missing IN ('average', 'zero', 'not_evaluated')),
    unit          text,
    source        text,
    verify        boolean NOT NULL DEFAULT false,
    UNIQUE NULLS NOT DISTINCT (park_id, year, firm_class, indicator)
);

CREATE TABLE economy_grade_cutoff (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id     text REFERENCES park (id) ON DELETE CASCADE,
    year        integer NOT NULL,
    grade       text NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D')),
    upper_pct   double precision NOT NULL CHECK (upper_pct > 0 AND upper_pct <= 1),
    source      text,
    UNIQUE NULLS NOT DISTINCT (park_id, year, grade)
);
COMMENT ON COLUMN economy_grade_cutoff.upper_pct IS
    'a firm ranked in the top upper_pct of its class (rank / count) gets this grade or better';

INSERT INTO economy_parameter (name, valid_from, value, unit, source, verify) VALUES
    ('above_scale_revenue', '2011-01-01', '2000', '10^4 yuan',
     '规上工业企业: annual main-business revenue >= 20 million yuan (NBS, since 2011)', false),
    ('operating_ratio', '2000-01-01', '0.3', 'share of baseline daily kWh',
     '电力看经济: operating when the day exceeds 30% of the baseline daily average', false),
    ('power_base_month', '2000-01-01', 'null', 'YYYY-MM',
     'baseline month of 电力看经济; null: the December before the period', false),
    ('anomaly_drop_ratio', '2000-01-01', '0.5', 'share of the trailing average',
     'sudden drop: a day below this share of the trailing window''s daily average', true),
    ('anomaly_drop_window_days', '2000-01-01', '7', 'days', 'trailing window of the drop rule',
     true),
    ('anomaly_zero_days', '2000-01-01', '3', 'days',
     'long zero load: this many consecutive days at or below anomaly_zero_kwh', true),
    ('anomaly_zero_kwh', '2000-01-01', '0', 'kWh', 'a day at or below this is zero load', true),
    ('min_age_years', '2000-01-01', '2', 'years',
     '亩均效益评价: firms younger than this at the end of the year are not evaluated (T)', false),
    ('electricity_tce_per_kwh', '2000-01-01', '0.0003', 'tce/kWh',
     'electricity 等价值 when a report has no energy_tce (about 0.30 kgce/kWh)', true);

INSERT INTO economy_benchmark
    (year, region, firm_class, indicator, benchmark, weight, when_missing, unit, source, verify)
VALUES
    (2022, 'Huangyan, Taizhou', 'above_scale', 'tax_per_mu', 24.097, 30, 'not_evaluated',
     '10^4 yuan/亩', '黄岩区 2022 亩均效益评价', false),
    (2022, 'Huangyan, Taizhou', 'above_scale', 'value_added_per_mu', 136.16, 20, 'not_evaluated',
     '10^4 yuan/亩', '黄岩区 2022 亩均效益评价', false),
    (2022, 'Huangyan, Taizhou', 'above_scale', 'value_added_per_energy', 2.694, 20, 'average',
     '10^4 yuan/tce', '黄岩区 2022 亩均效益评价', false),
    (2022, 'Huangyan, Taizhou', 'above_scale', 'value_added_per_emission', 4929.81, 10,
     'average', '10^4 yuan/t', '黄岩区 2022 亩均效益评价 (no emission data: the item''s average)',
     false),
    (2022, 'Huangyan, Taizhou', 'above_scale', 'labour_productivity', 18.14, 10, 'not_evaluated',
     '10^4 yuan/person', '黄岩区 2022 亩均效益评价', false),
    (2022, 'Huangyan, Taizhou', 'above_scale', 'rd_ratio', 0.0302, 10, 'zero',
     'R&D / main revenue', '黄岩区 2022 亩均效益评价', false),
    (2022, 'Huangyan, Taizhou', 'small', 'tax_per_mu', 24.097, 50, 'not_evaluated',
     '10^4 yuan/亩', 'weight 50 per the guide; benchmark: the 规上 one until the park sets its own',
     true),
    (2022, 'Huangyan, Taizhou', 'small', 'tax_per_kwh', 0.5, 50, 'not_evaluated',
     'yuan/kWh', 'weight 50 per the guide; benchmark a placeholder to be set by the park', true);

INSERT INTO economy_grade_cutoff (year, grade, upper_pct, source) VALUES
    (2000, 'A', 0.20, 'Huai''an example: A top 20%'),
    (2000, 'B', 0.60, 'Huai''an example: B 20-60%'),
    (2000, 'C', 0.95, 'Huai''an example: C 60-95%'),
    (2000, 'D', 1.00, 'Huai''an example: D bottom 5%');
"""

DOWNGRADE = """
DROP TABLE IF EXISTS economy_grade_cutoff, economy_benchmark, economy_parameter, economy_anomaly,
    economy_scale_status, economy_report_revision, economy_report CASCADE;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
