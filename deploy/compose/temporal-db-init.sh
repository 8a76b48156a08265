#!/bin/sh
# Run once by the postgres image (/docker-entrypoint-initdb.d/) on an empty volume: the
# Temporal cluster keeps its history in the database "temporal" (POSTGRES_DB) and its
# visibility records in "temporal_visibility".  The schemas are set up by temporal-schema.sh.
set -eu
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     --command "CREATE DATABASE temporal_visibility OWNER \"$POSTGRES_USER\""
