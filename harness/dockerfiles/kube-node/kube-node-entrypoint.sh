#!/bin/sh
# Prepare the node container for nested containers, then supervise the node's programs as an init system
# would: each file in /etc/chaos-harness/services is one program's command line (written by the harness),
# started once it appears and started again when it dies, unless /run/chaos-harness/hold-NAME exists (the
# daemon-crash fault holds it down for a while).
set -u
SERVICES=/etc/chaos-harness/services
HOLD_DIR=/run/chaos-harness

# Docker mounts /sys and the cgroup hierarchies read-only in a container that is not privileged; the kubelet
# and runc write there. A plain `remount,rw` says "mount point is busy": a bind remount works.
mount -o remount,bind,rw /sys
for hierarchy in /sys/fs/cgroup/*; do
  mountpoint -q "$hierarchy" && mount -o remount,bind,rw "$hierarchy"
done
mount --make-rshared /
# The kubelet sets six kernel tunables where they differ from what it expects (panic on oops, memory overcommit,
# keyring sizes). They are the whole machine's, not the node's: each is shown to it as set, in a file bound over
# its entry in /proc/sys, and the kernel's own stay as they are.
KERNEL_VIEW=/run/kernel-as-the-kubelet-expects
mkdir -p "$KERNEL_VIEW"
for tunable in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
               kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
  entry=${tunable%=*}
  view="$KERNEL_VIEW/$(echo "$entry" | tr / .)"
  echo "${tunable#*=}" >"$view"
  mount --bind "$view" "/proc/sys/$entry"
done
mkdir -p /var/lib/containerd /run/containerd /var/log/pods "$HOLD_DIR"
# After a restart (a halted node coming back) the routes to the other nodes' pods are set again; containerd's
# store is a tmpfs, so the kubelet's service imports the pause image again before it starts.
chaos-node-routes

supervise() {
  name=$1
  while :; do
    while [ -e "$HOLD_DIR/hold-$name" ]; do sleep 1; done
    sh "$SERVICES/$name" >>"/var/log/$name.log" 2>&1
    sleep 1
  done
}

started=" "
while :; do
  for file in "$SERVICES"/*; do
    name=${file##*/}
    [ -f "$file" ] || continue
    case "$started" in *" $name "*) continue ;; esac
    supervise "$name" &
    started="$started$name "
  done
  sleep 1
done
