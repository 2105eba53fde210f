#!/bin/sh
# Runs once, when the PostgreSQL volume is initialised: the service's login role with its password.
# Migration 0001 creates wartel_app only if it does not exist, so this password stays.
set -eu
psql -v ON_ERROR_STOP=1 -v app_password="$WARTEL_APP_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'EOSQL'
CREATE ROLE wartel_app LOGIN PASSWORD :'app_password';
EOSQL
