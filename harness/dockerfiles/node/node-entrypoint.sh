#!/bin/sh
# Supervise the node's Docker engine as an init system would: when dockerd
# dies it is started again, once /run/chaos-harness/hold-dockerd is gone
# (the daemon-crash fault holds it down for a while). tini is PID 1, so
# signals sent to dockerd from inside the node (SIGSTOP) are not swallowed.
set -u
HOLD=/run/chaos-harness/hold-dockerd
# The engine's API is a unix socket only: the harness reaches it through the
# host directory mounted at /chaos-api, never over TCP.
API_SOCKET=""
[ -d /chaos-api ] && API_SOCKET="--host unix:///chaos-api/docker.sock --group ${CHAOS_API_GID:-0}"
child=""

stop() {
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
  [ -n "$child" ] && wait "$child" 2>/dev/null
  exit 0
}
trap stop TERM INT

while :; do
  while [ -e "$HOLD" ]; do sleep 0.2; done
  dockerd \
    --host unix:///var/run/docker.sock \
    $API_SOCKET \
    --insecure-registry "${CHAOS_REGISTRY:-registry:5000}" \
    --insecure-registry "${CHAOS_SECURE_REGISTRY:-registry-secure:5000}" \
    --storage-driver overlay2 \
    ${DOCKERD_EXTRA_ARGS:-} &
  child=$!
  wait "$child"
  echo "node-entrypoint: dockerd exited with $?; starting it again" >&2
  sleep 1
done
