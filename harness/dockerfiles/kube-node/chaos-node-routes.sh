#!/bin/sh
# Route each other node's pod subnet to that node: one "SUBNET NODE-ADDRESS" per line in the file the harness
# writes (none before the node is part of a cluster).
ROUTES=/etc/chaos-harness/routes
[ -f "$ROUTES" ] || exit 0
while read -r subnet via; do
  [ -n "$subnet" ] && ip route replace "$subnet" via "$via"
done <"$ROUTES"
