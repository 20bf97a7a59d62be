"""Upgrade pitfalls of a Kubernetes workload, read from the app's objects (manifests, kustomization or chart)."""

from __future__ import annotations

from harness.lint.facts import KubeWorkload, StackFacts, rounded
from harness.lint.model import Finding, Location, Proof, Rule

DEPLOYMENT_DOCS = "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/"


class KubernetesRule(Rule):
    """A rule on the app's Deployments and StatefulSets."""

    engine = "kubernetes"

    def subjects(self, facts: StackFacts) -> tuple[KubeWorkload, ...]:
        return facts.kubernetes

    def at(self, facts: StackFacts, workload: KubeWorkload, key: str) -> Location:
        """The workload's key ``key`` (``spec.strategy``, ...) in the app's Kubernetes objects."""
        keys = tuple(part.removesuffix("[]") for part in key.split("."))
        path, line = facts.object_place(workload.kind, workload.name, keys)
        return Location(str(path), f"{workload.kind}/{workload.name}: {key}", line)


def rollout_run(workload: KubeWorkload, **kubernetes) -> dict:
    """The proof scenario's changes that give it the workload's replicas and rollout settings (``kubernetes`` on
    top)."""
    settings = {"max_surge": workload.max_surge, "max_unavailable": workload.max_unavailable, **kubernetes}
    return {"stack": {"replicas": min(workload.replicas, 12)},
            "strategy": {"kind": "in-service", "kubernetes": settings}}


class NoReadinessProbe(KubernetesRule):
    """Without a readinessProbe a pod is Ready as soon as its containers start: its Service sends it requests
    before the app listens, and a rollout counts it available and goes on, even to a release that never serves.
    Kubernetes ignores the image's Docker HEALTHCHECK."""

    name = "kubernetes-no-readiness-probe"
    severity = "warning"
    reference = "https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/"
    proof = Proof("clean-upgrade", "the workload's replicas and rollout (the harness makes the image's HEALTHCHECK "
                  "a readinessProbe where the image has one)", "outage",
                  "a readinessProbe on the entry's health path (the entry's workload only)")

    def found(self, facts: StackFacts, workload: KubeWorkload) -> Finding | None:
        if workload.readiness:
            return None
        return self.finding(workload.name, self.at(facts, workload, "spec.template.spec.containers[].readinessProbe"),
                            f"{workload.kind} {workload.name}'s upgraded container has no readinessProbe: each new "
                            "pod gets requests as soon as it starts, and the rollout completes even when the new "
                            "release never serves (Kubernetes ignores the image's HEALTHCHECK)",
                            "add a readinessProbe (httpGet on the health path) to the container",
                            rollout_run(workload),
                            {"stack": {"readiness": "entry-health"}} if workload.name == facts.entry else None)


class RolloutTakesEveryPod(KubernetesRule):
    """A rollout may take ``maxUnavailable`` pods away (a share rounded down; 1 when it and ``maxSurge`` both round
    to 0, or the rollout could not move). When that is all the replicas, an upgrade may leave no pod ready:
    ``25%`` of one replica reads as "a quarter of a pod at most" and is the whole service."""

    name = "kubernetes-rollout-takes-every-pod"
    severity = "error"
    reference = DEPLOYMENT_DOCS + "#max-unavailable"
    proof = Proof("max-unavailable-rounding", "the Deployment's replicas, maxSurge and maxUnavailable", "outage",
                  "maxUnavailable: 0 with maxSurge: 1")

    def applies(self, workload: KubeWorkload) -> bool:
        return workload.upgraded and workload.kind == "Deployment" and workload.strategy == "RollingUpdate"

    def found(self, facts: StackFacts, workload: KubeWorkload) -> Finding | None:
        surge = rounded(workload.max_surge, workload.replicas, up=True)
        unavailable = rounded(workload.max_unavailable, workload.replicas, up=False)
        taken = unavailable if surge or unavailable else 1
        if taken < workload.replicas:
            return None
        return self.finding(workload.name, self.at(facts, workload, "spec.strategy.rollingUpdate.maxUnavailable"),
                            f"{workload.kind} {workload.name} has {workload.replicas} replica(s) and its rollout may "
                            f"take {taken} away (maxSurge {workload.max_surge!s} -> {surge}, maxUnavailable "
                            f"{workload.max_unavailable!s} -> {unavailable}): an upgrade can leave no pod ready",
                            "set maxUnavailable: 0 and maxSurge: 1 (or more replicas)",
                            rollout_run(workload), rollout_run(workload, max_surge=1, max_unavailable=0))


class NoDisruptionBudget(KubernetesRule):
    """A drain evicts pods through the eviction API, which honours PodDisruptionBudgets only. Without one, a node
    drained while a rollout runs may evict the last ready pods of the service at once."""

    name = "kubernetes-no-disruption-budget"
    severity = "warning"
    reference = "https://kubernetes.io/docs/tasks/run-application/configure-pdb/"
    proof = Proof("node-drain", "the workload's replicas, and no PodDisruptionBudget", "outage")

    def applies(self, workload: KubeWorkload) -> bool:
        return workload.upgraded and workload.replicas > 1

    def found(self, facts: StackFacts, workload: KubeWorkload) -> Finding | None:
        if any(budget and budget.items() <= workload.labels.items() for budget in facts.disruption_budgets):
            return None
        return self.finding(workload.name, self.at(facts, workload, "metadata.name"),
                            f"no PodDisruptionBudget selects {workload.kind} {workload.name}'s pods: a node drained "
                            "during a rollout may evict its ready pods together",
                            "add a PodDisruptionBudget (minAvailable: 1, or maxUnavailable: 1) selecting its pods",
                            {"stack": {"replicas": min(workload.replicas, 12)}})


class ProgressDeadlineWithoutUndo(KubernetesRule):
    """Kubernetes never rolls a Deployment back by itself: a rollout that makes no progress for
    ``progressDeadlineSeconds`` (600 s unless set) is only marked ProgressDeadlineExceeded, and stays half done,
    both releases serving, until someone runs ``kubectl rollout undo``."""

    name = "kubernetes-progress-deadline-without-undo"
    severity = "note"
    reference = DEPLOYMENT_DOCS + "#failed-deployment"
    proof = Proof("progress-deadline-pause", "the workload's replicas, a broken release and the deadline shortened "
                  "to 20 s (the effect is the same after any deadline)", "half-upgraded",
                  "an undo at the deadline (what the harness does under failure_action: rollback)")

    def applies(self, workload: KubeWorkload) -> bool:
        return workload.upgraded and workload.progress_deadline is not None

    def found(self, facts: StackFacts, workload: KubeWorkload) -> Finding | None:
        return self.finding(workload.name, self.at(facts, workload, "spec.progressDeadlineSeconds"),
                            f"a failed rollout of {workload.kind} {workload.name} is reported only after "
                            f"{workload.progress_deadline:g}s without progress, and never undone by Kubernetes: the "
                            "new pods that never become ready stay beside the old ones",
                            "watch the rollout in the deploy job (kubectl rollout status --timeout) and run "
                            "kubectl rollout undo when it fails",
                            {"stack": {"replicas": min(workload.replicas, 12)}},
                            {"strategy": {"update_config": {"failure_action": "rollback"}}})


class StatefulWithoutClaim(KubernetesRule):
    """A stateful workload without a PersistentVolumeClaim keeps its data in the pod (an emptyDir or the
    container's own files): a pod replaced by an upgrade, an eviction or a halted node starts empty."""

    name = "kubernetes-stateful-without-claim"
    severity = "error"
    reference = "https://kubernetes.io/docs/concepts/storage/persistent-volumes/"
    proof = Proof("moving-stateful-db", "the stateful workload's volumes", "lost-writes")

    def applies(self, workload: KubeWorkload) -> bool:
        return workload.stateful

    def found(self, facts: StackFacts, workload: KubeWorkload) -> Finding | None:
        if workload.claims:
            return None
        return self.finding(workload.name, self.at(facts, workload, "spec.template.spec.volumes"),
                            f"{workload.kind} {workload.name} is stateful but mounts no PersistentVolumeClaim: when "
                            "its pod is replaced, the writes it acknowledged are gone",
                            "mount a PersistentVolumeClaim (a StatefulSet's volumeClaimTemplates)", {})


class SingleReplicaDefaultToleration(KubernetesRule):
    """A pod stays bound to a node that stopped answering for its ``not-ready``/``unreachable`` toleration (300 s
    unless set) after the node is marked NotReady (40 to 50 s). With one replica, a halted node leaves the
    service without a pod for about six minutes."""

    name = "kubernetes-single-replica-toleration"
    severity = "warning"
    reference = "https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions"
    proof = Proof("toleration-wait", "one replica, the pods' tolerations (about 7 minutes)", "outage")

    def applies(self, workload: KubeWorkload) -> bool:
        return workload.upgraded and workload.replicas == 1

    def found(self, facts: StackFacts, workload: KubeWorkload) -> Finding | None:
        if workload.toleration <= 60:
            return None
        return self.finding(workload.name, self.at(facts, workload, "spec.template.spec.tolerations"),
                            f"{workload.kind} {workload.name} has one replica, bound to its node for "
                            f"{workload.toleration:g}s after the node stops answering: a halted node leaves it "
                            "without a pod for that long, after the 40 to 50 s Kubernetes takes to notice",
                            "run two replicas or more, or give its pods NoExecute tolerations for "
                            "node.kubernetes.io/not-ready and unreachable with a short tolerationSeconds",
                            {"stack": {"replicas": 1}})
