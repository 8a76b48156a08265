#!/bin/sh
# Run once by the postgres image (/docker-entrypoint-initdb.d/) when the Itinera PostgreSQL
# of deploy/compose.yaml starts on an empty volume: the two roles with their passwords, the
# database owned by itinera_owner, and the privileges of itinera_app.  The passwords come
# from deploy/.env through the container's environment; nothing is written to disk.
set -eu

: "${OWNER_DB_PASSWORD:?set OWNER_DB_PASSWORD in deploy/.env}"
: "${APP_DB_PASSWORD:?set APP_DB_PASSWORD in deploy/.env}"

run_psql() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" "$@"
}

run_psql --dbname postgres --file /itinera-sql/roles.sql
run_psql --dbname postgres --set owner_password="$OWNER_DB_PASSWORD" --set app_password="$APP_DB_PASSWORD" <<'SQL'
ALTER ROLE itinera_owner PASSWORD :'owner_password';
ALTER ROLE itinera_app PASSWORD :'app_password';
CREATE DATABASE itinera OWNER itinera_owner;
SQL
run_psql --dbname itinera --file /itinera-sql/grants.sql
