"""Assets, land half: parcels (地块), buildings, floors and spaces (rooms/units).

Geometry is GeoJSON (WGS84 lon/lat) kept as ``jsonb``: the service validates it with shapely
(valid rings, inside the park boundary, parcels not overlapping, buildings inside their parcel)
and answers spatial queries from an in-process STRtree per park, so PostGIS is not needed.
``area_m2`` is the geodesic area on the WGS84 ellipsoid (pyproj.Geod), computed on write.

- ``parcel``: polygon, land use, area (m², 亩 derived when reading).
- ``building``: footprint polygon, number of floors, use, the parcel it stands on. A parcel
  with buildings cannot be deleted (the service answers 409 first).
- ``floor``: per building and number (negative for basements); deleted with the building.
- ``space``: a leasable room or unit of a building, its leasable area and status; deleted
  with the building (a space under a lease is protected by the lease's foreign key).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

IDENT = "CHECK ({col} ~ '^[A-Za-z0-9_.-]{{1,64}}$')"

SCHEMA = f"""
CREATE TABLE parcel (
    park_id     text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    id          text NOT NULL {IDENT.format(col="id")},
    name        text NOT NULL,
    land_use    text,
    geometry    jsonb NOT NULL,
    area_m2     double precision NOT NULL CHECK (area_m2 >= 0),
    attributes  jsonb NOT NULL DEFAULT '{{}}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, id)
);
COMMENT ON COLUMN parcel.geometry IS 'GeoJSON Polygon, WGS84 lon/lat';
COMMENT ON COLUMN parcel.area_m2 IS 'geodesic area on the WGS84 ellipsoid; 1 亩 = 666.67 m²';

CREATE TABLE building (
    park_id     text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    id          text NOT NULL {IDENT.format(col="id")},
    name        text NOT NULL,
    parcel_id   text,
    footprint   jsonb NOT NULL,
    floors      integer NOT NULL DEFAULT 1 CHECK (floors >= 0),
    use         text,
    area_m2     double precision NOT NULL CHECK (area_m2 >= 0),
    attributes  jsonb NOT NULL DEFAULT '{{}}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, id),
    FOREIGN KEY (park_id, parcel_id) REFERENCES parcel (park_id, id)
);
CREATE INDEX building_parcel_idx ON building (park_id, parcel_id) WHERE parcel_id IS NOT NULL;
COMMENT ON COLUMN building.footprint IS 'GeoJSON Polygon, WGS84 lon/lat';
COMMENT ON COLUMN building.area_m2 IS 'geodesic footprint area on the WGS84 ellipsoid';

CREATE TABLE floor (
    park_id      text NOT NULL,
    building_id  text NOT NULL,
    number       integer NOT NULL,
    name         text,
    area_m2      double precision CHECK (area_m2 >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, building_id, number),
    FOREIGN KEY (park_id, building_id) REFERENCES building (park_id, id) ON DELETE CASCADE
);
COMMENT ON COLUMN floor.number IS 'floor number; negative for basements (B1 = -1)';

CREATE TABLE space (
    park_id      text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    id           text NOT NULL {IDENT.format(col="id")},
    building_id  text NOT NULL,
    floor        integer,
    name         text NOT NULL,
    area_m2      double precision NOT NULL CHECK (area_m2 >= 0),
    status       text NOT NULL DEFAULT 'available'
                 CHECK (status IN ('available', 'leased', 'reserved', 'maintenance', 'not_leasable')),
    attributes   jsonb NOT NULL DEFAULT '{{}}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (park_id, id),
    FOREIGN KEY (park_id, building_id) REFERENCES building (park_id, id) ON DELETE CASCADE
);
CREATE INDEX space_building_idx ON space (park_id, building_id);
COMMENT ON COLUMN space.area_m2 IS 'leasable area';

CREATE INDEX device_building_idx ON device (park_id, building_id) WHERE building_id IS NOT NULL;
"""

DOWNGRADE = """
DROP INDEX IF EXISTS device_building_idx;
DROP TABLE IF EXISTS space, floor, building, parcel CASCADE;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
