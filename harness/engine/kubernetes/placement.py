"""The harness's node labels on a cluster that is not its own: kept by the harness, never set on the nodes.

On a cluster the harness made, ``chaos.lb`` and ``chaos.stateful`` are node labels and the stack's pods select
them. On an existing cluster the nodes are the user's, so the labels live here (saved with the cluster's state)
and each pod that selects one is placed by the nodes' ``kubernetes.io/hostname`` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

HOSTNAME = "kubernetes.io/hostname"
NO_NODE = "chaos-harness-no-node"  # a hostname no node has: an In term on no node places nothing

__all__ = ["HOSTNAME", "KeptLabels"]


class KeptLabels:
    """Node name -> the harness's labels of it (a mapping the cluster's state keeps)."""

    def __init__(self, labels: dict[str, dict[str, str]]) -> None:
        self.labels = labels

    def set(self, node: str, labels: Mapping[str, str]) -> None:
        self.labels.setdefault(node, {}).update(labels)

    def remove(self, node: str, keys: Iterable[str]) -> None:
        kept = self.labels.get(node, {})
        for key in keys:
            kept.pop(key, None)

    def of(self, node: str) -> dict[str, str]:
        return dict(self.labels.get(node, {}))

    def place(self, pod: dict, hostnames: Mapping[str, str]) -> None:
        """Rewrite ``pod``'s node selector and required node affinity terms on kept labels into terms on the
        hostnames (``hostnames``: node name -> its hostname label) of the nodes that carry them."""
        kept = {key for labels in self.labels.values() for key in labels}
        selector = pod.get("nodeSelector") or {}
        terms = [{"key": key, "operator": "In", "values": [value]} for key, value in selector.items() if key in kept]
        if terms:
            pod["nodeSelector"] = {key: value for key, value in selector.items() if key not in kept} or None
            affinity = pod.setdefault("affinity", {}).setdefault("nodeAffinity", {})
            required = affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
            for term in required.setdefault("nodeSelectorTerms", [{}]):  # every alternative must honour them
                term.setdefault("matchExpressions", []).extend(dict(t) for t in terms)
        required = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution") or {}
        for term in required.get("nodeSelectorTerms") or []:
            term["matchExpressions"] = [self._by_hostname(e, hostnames) if e.get("key") in kept else e
                                        for e in term.get("matchExpressions") or []]
        if pod.get("nodeSelector") is None:
            pod.pop("nodeSelector", None)

    def _by_hostname(self, expression: dict, hostnames: Mapping[str, str]) -> dict:
        key, operator, values = expression["key"], expression.get("operator", "In"), expression.get("values") or []
        if operator in ("Exists", "DoesNotExist"):
            carrying = [node for node, labels in self.labels.items() if key in labels]
            operator = "In" if operator == "Exists" else "NotIn"
        else:
            carrying = [node for node, labels in self.labels.items() if labels.get(key) in values]
        return {"key": HOSTNAME, "operator": operator,
                "values": sorted(hostnames.get(node, node) for node in carrying) or [NO_NODE]}
