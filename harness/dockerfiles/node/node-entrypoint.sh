#!/bin/sh
# Start the node's Docker engine. The API listens on the cluster network so
# the harness can drive Swarm; the private registry speaks plain HTTP.
set -eu
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
exec dockerd \
  --host unix:///var/run/docker.sock \
  --host tcp://0.0.0.0:2375 \
  --insecure-registry "${CHAOS_REGISTRY:-registry:5000}" \
  --storage-driver overlay2 \
  ${DOCKERD_EXTRA_ARGS:-}
