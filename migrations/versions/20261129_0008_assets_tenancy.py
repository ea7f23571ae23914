"""Assets, tenancy half: enterprises (tenants), leases, equipment; devices in spaces and the
meter tree.

- ``enterprise``: a tenant, identified by its 统一社会信用代码 (GB 32100-2015, unique per park;
  the service checks the check character, the table the alphabet), GB/T 4754 industry code
  (a section letter A-T and/or a 2-4 digit class), the 规上 flag, contacts.
- ``lease``: an enterprise on exactly one of a space, a building or a parcel, for the dates
  ``start_date``..``end_date`` (both inclusive), with its area and monthly rent. Two leases of
  the same space (or building, or parcel) may not overlap in time: exclusion constraints over
  ``daterange(start_date, end_date, '[]')`` (btree_gist) enforce it even against concurrent
  writers; the service checks first to answer 409 with the lease in the way.
- ``equipment``: register of plant (category, model, installed date, maintenance status) placed
  in a building/space or at a point, optionally watched by a device.
- ``device.space_id`` (the room a device is in) and ``device.parent_meter_id`` (meter tree:
  main meter -> sub-meters; the gap main - Σ sub is reported as 损耗/未计量, never allocated).
  Deleting a space, a device or a building clears the links that point at it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

IDENT = "CHECK ({col} ~ '^[A-Za-z0-9_.-]{{1,64}}$')"
OVERLAP = (
    "CONSTRAINT lease_{col}_no_overlap EXCLUDE USING gist "
    "(park_id WITH =, {col} WITH =, daterange(start_date, end_date, '[]') WITH &&) "
    "WHERE ({col} IS NOT NULL)"
)

SCHEMA = f"""
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE enterprise (
    park_id        text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    id             text NOT NULL {IDENT.format(col="id")},
    name           text NOT NULL,
    credit_code    char(18) NOT NULL CHECK (credit_code ~ '^[0-9A-HJ-NP-RTUW-Y]{{18}}$'),
    industry_code  text CHECK (industry_code ~ '^([A-T]|[A-T]?[0-9]{{2,4}})$'),
    above_scale    boolean NOT NULL DEFAULT false,
    founded_on     date,
    contacts       jsonb NOT NULL DEFAULT '[]',
    attributes     jsonb NOT NULL DEFAULT '{{}}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, id),
    CONSTRAINT enterprise_credit_code_key UNIQUE (park_id, credit_code)
);
COMMENT ON COLUMN enterprise.credit_code IS '统一社会信用代码, GB 32100-2015';
COMMENT ON COLUMN enterprise.industry_code IS 'GB/T 4754 国民经济行业分类: section letter and/or class';
COMMENT ON COLUMN enterprise.above_scale IS '规上: above designated size';

CREATE TABLE lease (
    park_id        text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    id             text NOT NULL {IDENT.format(col="id")},
    enterprise_id  text NOT NULL,
    space_id       text,
    building_id    text,
    parcel_id      text,
    area_m2        double precision NOT NULL CHECK (area_m2 > 0),
    start_date     date NOT NULL,
    end_date       date NOT NULL,
    rent_yuan      numeric(14, 2) CHECK (rent_yuan >= 0),
    attributes     jsonb NOT NULL DEFAULT '{{}}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, id),
    FOREIGN KEY (park_id, enterprise_id) REFERENCES enterprise (park_id, id),
    FOREIGN KEY (park_id, space_id) REFERENCES space (park_id, id),
    FOREIGN KEY (park_id, building_id) REFERENCES building (park_id, id),
    FOREIGN KEY (park_id, parcel_id) REFERENCES parcel (park_id, id),
    CONSTRAINT lease_one_target CHECK (num_nonnulls(space_id, building_id, parcel_id) = 1),
    CONSTRAINT lease_dates CHECK (end_date >= start_date),
    {OVERLAP.format(col="space_id")},
    {OVERLAP.format(col="building_id")},
    {OVERLAP.format(col="parcel_id")}
);
CREATE INDEX lease_enterprise_idx ON lease (park_id, enterprise_id);
CREATE INDEX lease_end_idx ON lease (park_id, end_date);
COMMENT ON COLUMN lease.end_date IS 'last day of the lease (inclusive)';
COMMENT ON COLUMN lease.rent_yuan IS 'rent per month, yuan';

CREATE TABLE equipment (
    park_id             text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    id                  text NOT NULL {IDENT.format(col="id")},
    name                text NOT NULL,
    category            text NOT NULL,
    model               text,
    installed_on        date,
    maintenance_status  text NOT NULL DEFAULT 'normal' CHECK (maintenance_status IN
                        ('normal', 'due', 'under_maintenance', 'faulty', 'retired')),
    building_id         text,
    space_id            text,
    lon                 double precision CHECK (lon BETWEEN -180 AND 180),
    lat                 double precision CHECK (lat BETWEEN -90 AND 90),
    device_id           text,
    attributes          jsonb NOT NULL DEFAULT '{{}}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, id),
    CHECK ((lon IS NULL) = (lat IS NULL)),
    FOREIGN KEY (park_id, building_id) REFERENCES building (park_id, id)
        ON DELETE SET NULL (building_id),
    FOREIGN KEY (park_id, space_id) REFERENCES space (park_id, id) ON DELETE SET NULL (space_id),
    FOREIGN KEY (park_id, device_id) REFERENCES device (park_id, id) ON DELETE SET NULL (device_id)
);
CREATE INDEX equipment_building_idx ON equipment (park_id, building_id)
    WHERE building_id IS NOT NULL;

ALTER TABLE device
    ADD COLUMN space_id text,
    ADD COLUMN parent_meter_id text,
    ADD CONSTRAINT device_space_fk FOREIGN KEY (park_id, space_id)
        REFERENCES space (park_id, id) ON DELETE SET NULL (space_id),
    ADD CONSTRAINT device_parent_meter_fk FOREIGN KEY (park_id, parent_meter_id)
        REFERENCES device (park_id, id) ON DELETE SET NULL (parent_meter_id),
    ADD CONSTRAINT device_not_own_parent CHECK (parent_meter_id <> id);
CREATE INDEX device_space_idx ON device (park_id, space_id) WHERE space_id IS NOT NULL;
CREATE INDEX device_parent_meter_idx ON device (park_id, parent_meter_id)
    WHERE parent_meter_id IS NOT NULL;
"""

DOWNGRADE = """
ALTER TABLE device
    DROP CONSTRAINT IF EXISTS device_not_own_parent,
    DROP COLUMN IF EXISTS parent_meter_id,
    DROP COLUMN IF EXISTS space_id;
DROP TABLE IF EXISTS equipment, lease, enterprise CASCADE;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
