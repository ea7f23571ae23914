#!/bin/sh
# The db container's first start only (an empty data directory; the image runs
# /docker-entrypoint-initdb.d/ as the superuser): parktwin's roles, from deploy/db-roles.sql.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner_password="$PARKTWIN_DB_PASSWORD" \
    -v api_password="$PARKTWIN_DB_API_PASSWORD" \
    -v ingest_password="$PARKTWIN_DB_INGEST_PASSWORD" \
    -v worker_password="$PARKTWIN_DB_WORKER_PASSWORD" \
    -f /parktwin/db-roles.sql
