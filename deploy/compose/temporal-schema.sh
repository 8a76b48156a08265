#!/bin/sh
# One-shot job (temporalio/admin-tools): create or upgrade the Temporal schemas in
# PostgreSQL.  Safe to run on every `docker compose up`: setup-schema records version 0.0
# once and update-schema applies only the versions not applied yet, so it is also how the
# schema follows a newer temporalio/server image.
set -eu

: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
port="${DB_PORT:-5432}"
schemas=/etc/temporal/schema/postgresql/v12

attempt=0
until [ "$attempt" -ge 60 ]; do
    attempt=$((attempt + 1))
    nc -z "$POSTGRES_SEEDS" "$port" && break
    echo "waiting for PostgreSQL at $POSTGRES_SEEDS:$port ($attempt/60)"
    sleep 2
done

sql_tool() {
    temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$port" -u "$POSTGRES_USER" "$@"
}

sql_tool --db temporal setup-schema -v 0.0
sql_tool --db temporal update-schema -d "$schemas/temporal/versioned"
sql_tool --db temporal_visibility setup-schema -v 0.0
sql_tool --db temporal_visibility update-schema -d "$schemas/visibility/versioned"
echo "Temporal schemas are up to date"
