#!/bin/bash
# Entrypoint of the itemstore database image.
#
# On first start (no marker in the data directory) it creates the data
# directory, the database, the application user and the schema, with a server
# that has no network; then it runs mariadbd in the foreground as PID 1
# (mariadbd shuts down cleanly on SIGTERM by itself).
#
# Environment:
#   MARIADB_DATABASE  application database (default: itemstore)
#   MARIADB_USER      application user     (default: itemstore)
#   MARIADB_PASSWORD  its password         (default: itemstore)
set -euo pipefail

: "${MARIADB_DATABASE:=itemstore}"
: "${MARIADB_USER:=itemstore}"
: "${MARIADB_PASSWORD:=itemstore}"
DATADIR=/var/lib/mysql
MARKER="$DATADIR/.itemstore-initialised"
INIT_SOCKET=/run/mysqld/init.sock

log() { echo "itemstore-db: $*" >&2; }

# A string as a MariaDB string literal.
quoted() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }

if [ "${1:-}" != "" ] && [ "${1:0:1}" != "-" ]; then
    # Any other command (a shell, the mariadb client ...) runs as given.
    exec "$@"
fi

mkdir -p "$DATADIR" /run/mysqld
chown mysql:mysql "$DATADIR" /run/mysqld

initialise() {
    log "initialising a new data directory in $DATADIR"
    # A first start that was cut short left no marker and no application data: start again.
    find "$DATADIR" -mindepth 1 -delete
    mariadb-install-db --user=mysql --datadir="$DATADIR" --auth-root-authentication-method=socket \
        --skip-test-db >/dev/null
    mariadbd --user=mysql --datadir="$DATADIR" --skip-networking --socket="$INIT_SOCKET" &
    local pid=$! deadline=$((SECONDS + 60))
    until mariadb-admin --socket="$INIT_SOCKET" --silent ping 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || { log "the initialising server did not answer within 60 s"; exit 1; }
        sleep 0.2
    done
    mariadb --socket="$INIT_SOCKET" <<SQL
CREATE DATABASE \`$MARIADB_DATABASE\`;
CREATE USER $(quoted "$MARIADB_USER")@'%' IDENTIFIED BY $(quoted "$MARIADB_PASSWORD");
GRANT ALL PRIVILEGES ON \`$MARIADB_DATABASE\`.* TO $(quoted "$MARIADB_USER")@'%';
SQL
    mariadb --socket="$INIT_SOCKET" "$MARIADB_DATABASE" </usr/local/share/itemstore/schema.sql
    mariadb-admin --socket="$INIT_SOCKET" shutdown
    wait "$pid"
    touch "$MARKER"
    chown mysql:mysql "$MARKER"
    log "data directory initialised: database $MARIADB_DATABASE, user $MARIADB_USER, table items"
}

[ -e "$MARKER" ] || initialise
exec mariadbd --user=mysql --datadir="$DATADIR" "$@"
