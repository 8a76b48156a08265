-- The application runs as its own role, which owns nothing: migrations run as the owner of
-- the schema (a different role), so the application cannot disable the append-only triggers
-- of case_events and audit_log, alter a table, or rewrite history.  On those two tables it
-- may only INSERT and SELECT; on the read model and the working tables it has full DML.
--
-- A deployment lets its application log in as itinera_app (e.g. ALTER ROLE itinera_app
-- PASSWORD '...', or GRANT itinera_app TO an existing login role).  Tables added by later
-- migrations get full DML through the default privileges below: a later append-only table
-- must REVOKE UPDATE, DELETE, TRUNCATE from itinera_app in its own migration.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'itinera_app') THEN
        CREATE ROLE itinera_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO itinera_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO itinera_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO itinera_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO itinera_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO itinera_app;

-- Append-only: the event store and the audit trail.
REVOKE UPDATE, DELETE, TRUNCATE ON case_events, audit_log FROM itinera_app;
-- Only the migrator records migrations.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM itinera_app;
