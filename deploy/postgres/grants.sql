-- Privileges inside the Itinera database; run once, connected to it, before the first
-- `itinera migrate`, as a superuser or as a role allowed to act for itinera_owner (on a
-- managed PostgreSQL whose admin is no superuser: GRANT itinera_owner TO <admin> first,
-- or run it as itinera_owner).  Idempotent.  tests/test_deployment_files.py runs roles.sql,
-- this file and every migration on a real PostgreSQL and checks what each role may do.

-- Only the two roles connect.
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO itinera_app', current_database());
END
$$;

-- Only the owner creates tables (PostgreSQL before 15 let every role create in public).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO itinera_owner;
GRANT USAGE ON SCHEMA public TO itinera_app;

-- Every table and sequence itinera_owner creates from now on (each migration): rows only.
-- Run this before the first migration: tables that exist already keep their privileges
-- (a migration may have narrowed them, e.g. no UPDATE or DELETE on the append-only ones).
ALTER DEFAULT PRIVILEGES FOR ROLE itinera_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO itinera_app;
ALTER DEFAULT PRIVILEGES FOR ROLE itinera_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO itinera_app;
