-- parktwin's PostgreSQL roles (docs/security/database.md). Run as a superuser, connected to the
-- parktwin database, before the first `parktwin migrate`; running it again is harmless (it
-- creates what is missing and sets the passwords):
--
--   psql -v ON_ERROR_STOP=1 -d parktwin -f deploy/db-roles.sql \
--        -v owner_password=... -v api_password=... -v ingest_password=... -v worker_password=...
--
-- parktwin_owner owns the schema and runs the migrations; the processes log in as members of
-- the NOLOGIN group roles that migration 0016 grants to. None is a superuser.
SELECT format('CREATE ROLE %I %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', name, kind)
FROM (VALUES ('parktwin_owner', 'LOGIN'),
             ('parktwin_api', 'NOLOGIN'),
             ('parktwin_ingest', 'NOLOGIN'),
             ('parktwin_worker', 'NOLOGIN'),
             ('parktwin_api_login', 'LOGIN'),
             ('parktwin_ingest_login', 'LOGIN'),
             ('parktwin_worker_login', 'LOGIN')) AS r(name, kind)
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.name) \gexec
ALTER ROLE parktwin_owner PASSWORD :'owner_password';
ALTER ROLE parktwin_api_login PASSWORD :'api_password';
ALTER ROLE parktwin_ingest_login PASSWORD :'ingest_password';
ALTER ROLE parktwin_worker_login PASSWORD :'worker_password';
GRANT parktwin_api TO parktwin_api_login;
GRANT parktwin_ingest TO parktwin_ingest_login;
GRANT parktwin_worker TO parktwin_worker_login;
SELECT format('ALTER DATABASE %I OWNER TO parktwin_owner', current_database()) \gexec
-- Only a superuser may create TimescaleDB; the owner's migrations find it there.
CREATE EXTENSION IF NOT EXISTS timescaledb;
