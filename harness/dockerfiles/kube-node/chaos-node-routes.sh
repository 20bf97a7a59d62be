#!/bin/sh
# Route each other node's pod subnet to that node: one "SUBNET NODE-ADDRESS" per line in the file the harness
# writes (none before the node is part of a cluster). Forwarding to and from the pods is accepted in a chain of
# the node's own, CHAOS-PODS, also where the FORWARD policy drops (a host whose Docker enabled forwarding).
ROUTES=/etc/chaos-harness/routes
POD_NETWORK=/etc/chaos-harness/pod-network
[ -f "$ROUTES" ] || exit 0
while read -r subnet via; do
  [ -n "$subnet" ] && ip route replace "$subnet" via "$via"
done <"$ROUTES"
[ -f "$POD_NETWORK" ] || exit 0
pods=$(cat "$POD_NETWORK")
if iptables -w -N CHAOS-PODS 2>/dev/null; then
  iptables -w -A CHAOS-PODS -s "$pods" -j ACCEPT && iptables -w -A CHAOS-PODS -d "$pods" -j ACCEPT
fi
iptables -w -C FORWARD -j CHAOS-PODS 2>/dev/null || iptables -w -I FORWARD -j CHAOS-PODS
