"""Land as the register records it, and rent collection (收缴率).

- ``parcel``: the registered certificate area (证载面积, used for 亩均 when present), the
  certificate number, the tenure (出让 / 划拨 / 租赁) with its term, and the fixed-asset
  investment on the parcel (for 投资强度).
- ``building_floor_area``: one definition of a building's floor area (its floors' areas when
  recorded, else footprint x floors), read by 容积率 and by the 亩均 land share.
- ``rent_payment``: what was paid against a lease for one month (``period``, the first day of
  that month); rent due comes from the lease's monthly rent, prorated by days in partial months.

Revision ID: 0026
Revises: 0018
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE parcel
            ADD COLUMN certificate_area_m2 double precision CHECK (certificate_area_m2 > 0),
            ADD COLUMN certificate_no text CHECK (length(certificate_no) <= 100),
            ADD COLUMN tenure text CHECK (tenure IN ('transferred', 'allocated', 'leased')),
            ADD COLUMN tenure_start date,
            ADD COLUMN tenure_end date,
            ADD COLUMN investment_10k_yuan numeric(14, 2) CHECK (investment_10k_yuan >= 0),
            ADD CONSTRAINT parcel_tenure_term CHECK (tenure_end >= tenure_start);
        COMMENT ON COLUMN parcel.certificate_area_m2 IS
            '证载面积: the area on the land-use certificate, m²; used for 亩均 when present';
        COMMENT ON COLUMN parcel.tenure IS
            'transferred 出让, allocated 划拨, leased 租赁; tenure_start..tenure_end the term';
        COMMENT ON COLUMN parcel.investment_10k_yuan IS
            'fixed-asset investment on the parcel, 10⁴ yuan (投资强度 = this / land area)';

        CREATE VIEW building_floor_area AS
        SELECT b.park_id, b.id AS building_id, b.parcel_id,
               b.area_m2 AS footprint_m2,
               coalesce(nullif(f.area, 0), b.area_m2 * greatest(b.floors, 1)) AS floor_area_m2
        FROM building b
        LEFT JOIN (SELECT park_id, building_id, sum(area_m2) AS area FROM floor
                   GROUP BY park_id, building_id) f
               ON f.park_id = b.park_id AND f.building_id = b.id;
        COMMENT ON VIEW building_floor_area IS
            'a building''s floor area: its floors'' areas when recorded, else footprint x floors';

        CREATE TABLE rent_payment (
            park_id      text NOT NULL,
            id           text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
            lease_id     text NOT NULL,
            period       date NOT NULL CHECK (extract(day FROM period) = 1),
            amount_yuan  numeric(14, 2) NOT NULL CHECK (amount_yuan > 0),
            paid_on      date NOT NULL,
            reference    text CHECK (length(reference) <= 200),
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (park_id, id),
            FOREIGN KEY (park_id, lease_id) REFERENCES lease (park_id, id) ON DELETE CASCADE
        );
        CREATE INDEX rent_payment_lease_idx ON rent_payment (park_id, lease_id, period);
        COMMENT ON COLUMN rent_payment.period IS 'the month paid for (its first day)';
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE rent_payment;
        DROP VIEW building_floor_area;
        ALTER TABLE parcel
            DROP CONSTRAINT parcel_tenure_term,
            DROP COLUMN certificate_area_m2, DROP COLUMN certificate_no, DROP COLUMN tenure,
            DROP COLUMN tenure_start, DROP COLUMN tenure_end, DROP COLUMN investment_10k_yuan;
        """
    )
