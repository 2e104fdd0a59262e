#!/bin/sh
# One-shot, in the temporalio/admin-tools image: create Temporal's two PostgreSQL databases and
# bring each schema up to the version this image ships (the server image of the same version
# expects exactly that). Safe to run on every `docker compose up`: creating a database that
# exists is a no-op, and the schema tool applies only the versions a database lacks.
#
# temporal-sql-tool reads the connection from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and
# SQL_PASSWORD; docker-compose.yml sets them.
set -eu

SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

setup_database() {
    database=$1
    versioned_dir=$2
    echo "temporal-schema: database $database"
    temporal-sql-tool --db "$database" create-database
    # Version 0.0 only creates the bookkeeping tables; update-schema then applies every
    # versioned change, so a fresh database and an older one end at the same version.
    temporal-sql-tool --db "$database" setup-schema -v 0.0
    temporal-sql-tool --db "$database" update-schema -d "$versioned_dir"
}

# The names the server image uses unless DBNAME / VISIBILITY_DBNAME say otherwise.
setup_database temporal "$SCHEMA_ROOT/temporal/versioned"
setup_database temporal_visibility "$SCHEMA_ROOT/visibility/versioned"
echo "temporal-schema: done"
