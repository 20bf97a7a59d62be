"""Upgrade pitfalls of a Swarm service, read from the compose file (and the Dockerfile its image is built from)."""

from __future__ import annotations

from harness.lint.facts import StackFacts, SwarmService
from harness.lint.model import Finding, Location, Proof, Rule

DOCS = "https://docs.docker.com/reference/compose-file/deploy/"
UPDATE_DOCS = "https://docs.docker.com/reference/cli/docker/service/update/"


class SwarmRule(Rule):
    """A rule on the compose file's services."""

    engine = "swarm"

    def subjects(self, facts: StackFacts) -> tuple[SwarmService, ...]:
        return facts.swarm

    def at(self, facts: StackFacts, service: SwarmService, *keys: str) -> Location:
        """The service's key ``keys`` (``deploy``, ``update_config``, ...) in the compose file."""
        file = str(facts.compose_file)
        return Location(file, ".".join(("services", service.name, *keys)),
                        facts.compose_line("services", service.name, *keys))


def upgrade_run(service: SwarmService, **update) -> dict:
    """The proof scenario's changes that give it the service's replicas and update_config (``update`` on top)."""
    return {"stack": {"replicas": min(service.replicas or 3, 12)},
            "strategy": {"kind": "in-service", "update_config": {**service.update, **update}}}


class NoHealthCheck(SwarmRule):
    """Without a health check Swarm counts a task as updated as soon as its process runs, and routes requests to it
    before the app listens: clients see refused or failed requests at every replaced task, and a release that never
    serves still completes the update (``failure_action`` never sees a failure)."""

    name = "swarm-no-healthcheck"
    severity = "warning"
    reference = "https://docs.docker.com/reference/compose-file/services/#healthcheck"
    proof = Proof("clean-upgrade", "the service's replicas and update_config, and no health check", "outage")

    def found(self, facts: StackFacts, service: SwarmService) -> Finding | None:
        if service.health is not None:
            return None
        why = ("disables the image's health check" if service.health_disabled
               else "has no health check (nor has its image)")
        return self.finding(service.name, self.at(facts, service, "healthcheck"),
                            f"{service.name} {why}: during an update each new task gets requests as soon as it "
                            "starts, before it can answer, and a release that never becomes healthy completes the "
                            "update anyway",
                            "add a healthcheck (test, interval, retries) that asks what clients ask",
                            upgrade_run(service))


class FailureActionContinue(SwarmRule):
    """``failure_action: continue`` goes on with the update when an updated task fails: a release that never becomes
    healthy replaces every task, one after the other, and the service is left with none that serves."""

    name = "swarm-failure-action-continue"
    severity = "error"
    reference = UPDATE_DOCS
    proof = Proof("bad-release-rollback", "the service's replicas and update_config (failure_action: continue)",
                  "outage", "failure_action: rollback")

    def found(self, facts: StackFacts, service: SwarmService) -> Finding | None:
        if service.update["failure_action"] != "continue":
            return None
        return self.finding(service.name, self.at(facts, service, "deploy", "update_config", "failure_action"),
                            f"{service.name}'s update goes on when an updated task fails (failure_action: "
                            "continue): a release that never becomes healthy replaces every task, and clients are "
                            "refused once the last old task is gone",
                            "set update_config.failure_action: rollback (or pause)",
                            upgrade_run(service), upgrade_run(service, failure_action="rollback"))


class StopFirstSingleReplica(SwarmRule):
    """With one replica and ``order: stop-first``, Swarm stops the only task before the new one starts: every
    update is an outage as long as the new task takes to start and pass its health check."""

    name = "swarm-stop-first-single-replica"
    severity = "error"
    reference = DOCS + "#update_config"
    proof = Proof("clean-upgrade", "one replica, the service's update_config (stop-first)", "outage",
                  "order: start-first")

    def found(self, facts: StackFacts, service: SwarmService) -> Finding | None:
        if service.replicas != 1 or service.update["order"] != "stop-first":
            return None
        return self.finding(service.name, self.at(facts, service, "deploy", "update_config", "order"),
                            f"{service.name} has one replica, updated stop-first: every update stops the only task "
                            "before its replacement starts, and clients are refused until it is healthy",
                            "set update_config.order: start-first, or run two replicas or more",
                            upgrade_run(service), upgrade_run(service, order="start-first"))


class UpdatesEveryTaskAtOnce(SwarmRule):
    """``parallelism: 0`` (or as many as the replicas) with ``stop-first`` stops every task of the service at once:
    the update is an outage."""

    name = "swarm-update-all-at-once"
    severity = "error"
    reference = DOCS + "#update_config"
    proof = Proof("clean-upgrade", "the service's replicas and update_config (parallelism)", "outage",
                  "update_config.parallelism: 1")

    def found(self, facts: StackFacts, service: SwarmService) -> Finding | None:
        parallelism, replicas = service.update["parallelism"], service.replicas or 0
        if replicas < 2 or service.update["order"] != "stop-first" or 0 < parallelism < replicas:
            return None
        return self.finding(service.name, self.at(facts, service, "deploy", "update_config", "parallelism"),
                            f"{service.name} updates {'all' if parallelism == 0 else parallelism} of its "
                            f"{replicas} tasks at once, stop-first: no task serves while they are replaced",
                            "set update_config.parallelism below the replicas (1 replaces one task at a time)",
                            upgrade_run(service), upgrade_run(service, parallelism=1))


class FailureActionPause(SwarmRule):
    """``failure_action: pause`` (Swarm's default) stops a failed update where it is: some tasks run the new
    release, the others the old one, and clients get either until someone acts."""

    name = "swarm-failure-action-pause"
    severity = "warning"
    reference = UPDATE_DOCS
    proof = Proof("bad-release-rollback", "the service's replicas and update_config (failure_action: pause)",
                  "half-upgraded", "failure_action: rollback")

    def found(self, facts: StackFacts, service: SwarmService) -> Finding | None:
        if service.update["failure_action"] != "pause":
            return None
        return self.finding(service.name, self.at(facts, service, "deploy", "update_config", "failure_action"),
                            f"{service.name}'s failed update pauses (failure_action: pause, Swarm's default): the "
                            "service stays half updated, serving both releases, until someone acts",
                            "set update_config.failure_action: rollback (and a rollback_config)",
                            upgrade_run(service), upgrade_run(service, failure_action="rollback"))


class StatefulWithoutPlacement(SwarmRule):
    """A stateful service's named volume of the local driver lives on one node. Without a placement constraint,
    a task moved by a halted or drained node starts elsewhere on an empty volume: the acknowledged writes are gone
    for clients."""

    name = "swarm-stateful-without-placement"
    severity = "error"
    reference = DOCS + "#placement"
    proof = Proof("moving-stateful-db", "the stateful service free to move (no placement constraint)", "lost-writes",
                  "the stateful service pinned to its node")

    def applies(self, service: SwarmService) -> bool:
        return service.stateful and bool(service.local_volumes)

    def found(self, facts: StackFacts, service: SwarmService) -> Finding | None:
        if service.placed:
            return None
        return self.finding(service.name, self.at(facts, service, "deploy", "placement"),
                            f"{service.name} keeps its data in the local volume {service.local_volumes[0]} but "
                            "may run on any node: when its node halts or is drained it restarts elsewhere on an "
                            "empty volume, and writes acknowledged before are lost",
                            "pin it with deploy.placement.constraints (node.hostname or a node label), or use a "
                            "volume driver every node shares",
                            {"stack": {"stateful_placement": "floating"}}, {"stack": {"stateful_placement": "pinned"}})
