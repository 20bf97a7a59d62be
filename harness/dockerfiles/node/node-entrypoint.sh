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

# A host reached over SSH only: CHAOS_SSH_KEY (a public key) may log in as
# CHAOS_SSH_USER (root, or a user made here in the docker group with sudo).
start_sshd() {
  user=${CHAOS_SSH_USER:-root}
  if [ "$user" != root ] && ! id "$user" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/sh --groups docker "$user"
    echo "$user ALL=(ALL) NOPASSWD: ALL" >/etc/sudoers.d/chaos-harness
  fi
  home=$(getent passwd "$user" | cut -d: -f6)
  mkdir -p "$home/.ssh" /run/sshd
  printf '%s\n' "$CHAOS_SSH_KEY" >"$home/.ssh/authorized_keys"
  chown -R "$user" "$home/.ssh" && chmod 700 "$home/.ssh" && chmod 600 "$home/.ssh/authorized_keys"
  ssh-keygen -A >/dev/null
  /usr/sbin/sshd -e 2>>/var/log/sshd.log
}
# A node trusts the cluster's registries from the start and logs to the container's output. An SSH
# host starts as a user's host would: no registry trusted (the harness sets that up over SSH, in
# /etc/docker/daemon.json), the engine logging to a file as on a host without journald.
REGISTRY_ARGS="--insecure-registry ${CHAOS_REGISTRY:-registry:5000} --insecure-registry ${CHAOS_SECURE_REGISTRY:-registry-secure:5001}"
ENGINE_LOG=/dev/stdout
if [ -n "${CHAOS_SSH_KEY:-}" ]; then start_sshd; REGISTRY_ARGS=""; ENGINE_LOG=/var/log/docker.log; fi

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
    $REGISTRY_ARGS \
    --storage-driver overlay2 \
    ${DOCKERD_EXTRA_ARGS:-} >>"$ENGINE_LOG" 2>&1 &
  child=$!
  wait "$child"
  echo "node-entrypoint: dockerd exited with $?; starting it again" >&2
  sleep 1
done
