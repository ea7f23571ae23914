-- parktwin's PostgreSQL roles (docs/security/database.md). Run as a superuser, connected to the
-- parktwin database, before the first `parktwin migrate`; running it again is harmless (it
-- creates what is missing and sets the passwords):
--
--   psql -v ON_ERROR_STOP=1 -d parktwin -f deploy/db-roles.sql \
--        -v owner_password=... -v api_password=... -v ingest_password=... -v worker_password=...
--
-- parktwin_owner owns the schema and runs the migrations; the processes log in as members of
-- the NOLOGIN group roles that migration 0016 grants to. None is a superuser.
-- With -v bi_password=... it also makes parktwin_bi_login, a login of the read-only BI role
-- parktwin_bi (migration 0027, docs/bi.md) for Grafana, Superset or Excel, seeing every park.
SELECT format('CREATE ROLE %I %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', name, kind)
FROM (VALUES ('parktwin_owner', 'LOGIN'),
             ('parktwin_api', 'NOLOGIN'),
             ('parktwin_ingest', 'NOLOGIN'),
             ('parktwin_worker', 'NOLOGIN'),
             ('parktwin_bi', 'NOLOGIN'),
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
\if :{?bi_password}
SELECT 'CREATE ROLE parktwin_bi_login LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'parktwin_bi_login') \gexec
ALTER ROLE parktwin_bi_login PASSWORD :'bi_password';
-- a dashboard's query may not hold the database for long
ALTER ROLE parktwin_bi_login SET statement_timeout = '60s';
GRANT parktwin_bi TO parktwin_bi_login;
-- it sees every park (migration 0033 gives this grant to the BI logins it finds; here for a
-- database migrated before the login was made). Grant it parks instead: docs/bi.md.
SELECT 'INSERT INTO bi_grant (login) VALUES (''parktwin_bi_login'') ON CONFLICT DO NOTHING'
WHERE to_regclass('public.bi_grant') IS NOT NULL \gexec
\endif
SELECT format('ALTER DATABASE %I OWNER TO parktwin_owner', current_database()) \gexec
-- Only a superuser may create TimescaleDB; the owner's migrations find it there.
CREATE EXTENSION IF NOT EXISTS timescaledb;
