-- The two database roles of Itinera; run once per PostgreSQL cluster by an administrator
-- (any database).  Idempotent.  Passwords are set apart, never written here:
--   psql: \password itinera_owner   and   \password itinera_app
--   (deploy/postgres/init-itinera-db.sh does it from the compose secrets).
--
--   itinera_owner  owns the database and its tables; `itinera migrate` connects as it.
--   itinera_app    the worker, the API and the operator commands: reads and writes rows,
--                  never changes the schema, never owns a table (so it cannot switch off
--                  the triggers that keep case_events and audit_log append-only).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'itinera_owner') THEN
        CREATE ROLE itinera_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'itinera_app') THEN
        CREATE ROLE itinera_app LOGIN;
    END IF;
END
$$;

-- Then, outside any transaction:  CREATE DATABASE itinera OWNER itinera_owner;
-- and, connected to that database, deploy/postgres/grants.sql.
