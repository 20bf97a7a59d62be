#!/bin/bash
# Entrypoint of the guestbook database image.
#
# On first start (no PG_VERSION in $PGDATA) it creates the cluster, the role
# and the database; then it runs postgres in the foreground as the postgres
# user. SIGTERM (docker stop, a Swarm task shutdown) and SIGINT are turned into
# PostgreSQL's "fast" shutdown (SIGINT to the postmaster): open client
# connections are closed and a checkpoint is written, instead of the "smart"
# shutdown that plain SIGTERM means to postgres, which waits for every client
# (the app's connection pool) to go away first.
#
# Environment:
#   POSTGRES_PASSWORD  password of the application role (default: guestbook)
#   POSTGRES_USER      application role                (default: guestbook)
#   POSTGRES_DB        application database            (default: guestbook)
#   PGDATA             data directory (default: /var/lib/postgresql/data)
set -euo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=guestbook}"
: "${POSTGRES_DB:=guestbook}"
: "${POSTGRES_PASSWORD:=guestbook}"
export PGDATA

log() { echo "guestbook-db: $*" >&2; }

# Runs a command as the postgres user; setpriv execs it (no process in
# between, so a signal sent to the PID of `as_postgres ... &` reaches it).
if [ "$(id -u)" = 0 ]; then
    as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups --)
else
    as_postgres=()
fi
as_postgres() { "${as_postgres[@]}" "$@"; }

if [ "${1:-}" != "" ] && [ "${1:0:1}" != "-" ]; then
    # Any other command (a shell, psql ...) runs as given.
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 0700 "$PGDATA"
    chmod 2775 /var/run/postgresql
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    log "initialising a new cluster in $PGDATA"
    as_postgres initdb --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null

    cat >>"$PGDATA/pg_hba.conf" <<EOF

# guestbook: the application role may connect from any address (the overlay
# network's addresses are not known in advance), with its password.
host    $POSTGRES_DB    $POSTGRES_USER    0.0.0.0/0    md5
host    $POSTGRES_DB    $POSTGRES_USER    ::/0         md5
EOF
    cat >>"$PGDATA/postgresql.conf" <<'EOF'

# guestbook: an acknowledged commit is on disk.
listen_addresses = '*'
fsync = on
synchronous_commit = on
full_page_writes = on
EOF

    # A server on the Unix socket only, so that nobody can connect over the
    # network before the role and the database exist.
    as_postgres pg_ctl -D "$PGDATA" -w -t 60 -o "-c listen_addresses=''" start >/dev/null
    as_postgres psql -q -v ON_ERROR_STOP=1 --username=postgres --dbname=postgres \
        -v role="$POSTGRES_USER" -v pw="$POSTGRES_PASSWORD" -v db="$POSTGRES_DB" <<'EOF'
CREATE ROLE :"role" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"role";
EOF
    as_postgres pg_ctl -D "$PGDATA" -w -t 60 -m fast stop >/dev/null
    log "cluster initialised: role $POSTGRES_USER, database $POSTGRES_DB"
fi

# The durability settings are also given on the command line, so that they
# hold whatever an older postgresql.conf in the volume says.
# Not through the function: a backgrounded function is a subshell of its own,
# and the signal below would reach that subshell instead of the postmaster.
"${as_postgres[@]}" postgres -D "$PGDATA" \
    -c listen_addresses='*' -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
    "$@" &
pid=$!

stop() {
    log "received $1, fast shutdown"
    kill -INT "$pid" 2>/dev/null || true
}
trap 'stop SIGTERM' TERM
trap 'stop SIGINT' INT
trap 'kill -QUIT "$pid" 2>/dev/null || true' QUIT

# wait returns early when a trapped signal arrives; wait again until the
# postmaster is really gone and pass its exit status on.
while :; do
    status=0
    wait "$pid" || status=$?
    kill -0 "$pid" 2>/dev/null || break
done
log "postgres exited with status $status"
exit "$status"
