"""Calibration: the plan's checks, known outages against measured ones, the table, and the balancer faults."""

from __future__ import annotations

import json

import pytest

from harness.analysis.samples import Sample
from harness.analysis.steadiness import steadiness
from harness.calibration import render
from harness.calibration.measure import KnownOutage, Trial, bound, cells, measure
from harness.calibration.plan import CalibrationPlan, check_plan
from harness.calibration.session import RateResult
from harness.cluster.vagrant import ExecResult
from harness.errors import UsageError
from harness.faults import registry
from harness.faults.base import FaultContext
from harness.stack.router import parse_servers
from harness.testing import FakeCluster

RATE = 200.0


def load_with_outage(start: float, end: float, kind: str = "refusal", rate: float = RATE) -> list[Sample]:
    """10 s of requests at ``rate``; those sent in [start, end) fail at once (refusal) or after 1 s (black hole)."""
    samples = []
    for i in range(int(10 * rate)):
        t = i / rate
        failed = start <= t < end
        took = (1.0 if kind == "blackhole" else 0.001) if failed else 0.002
        samples.append(Sample(t=t, end=t + took, ok=not failed, due=t))
    return samples


def known(start: float, end: float, kind: str = "refusal", width: float = 0.002) -> KnownOutage:
    return KnownOutage(kind, RATE, end - start, (start - width / 2, start + width / 2, end - width / 2, end + width / 2))


def test_a_refusal_is_measured_to_within_one_request_interval():
    outage = known(3.0012, 3.5012)  # starts just after a request went out
    trial = measure(load_with_outage(outage.start, outage.end), outage, margin=1.0)
    assert trial.windows == 1 and outage.known == pytest.approx(0.5)
    assert abs(trial.error) <= 1 / RATE and outage.uncertainty == pytest.approx(0.002)


def test_cells_group_trials_and_judge_the_median_against_the_bound():
    trials = [Trial(known(1, 1.5), 1.5 - 1 + error, 1) for error in (0.001, -0.002, 0.030)]
    trials.append(Trial(known(5, 5.5, "blackhole"), 0.3, 1))
    refusal, blackhole = cells(trials, timeout=1.0)
    assert (refusal.kind, len(refusal.trials)) == ("refusal", 3)
    assert refusal.median_error == pytest.approx(0.001) and refusal.worst_error == pytest.approx(0.030)
    assert refusal.within and refusal.bound == pytest.approx(1 / RATE + 0.005)
    assert blackhole.bound == bound("blackhole", RATE, 1.0) == pytest.approx(1 / RATE + 0.005 + 1.0)
    assert blackhole.within and blackhole.median_error == pytest.approx(-0.2)
    assert not cells([Trial(known(1, 1.5), 0.6, 1)], timeout=1.0)[0].within


@pytest.mark.parametrize("plan, message", [
    (CalibrationPlan(rates=(20.0,), durations=(0.1,)), "spans fewer than 3 requests.*at least 30 requests/s"),
    (CalibrationPlan(rates=(9000.0,)), "at most 5000"),
    (CalibrationPlan(rates=(4000.0,), timeout=2.0), "8000 requests waiting"),
    (CalibrationPlan(kinds=("meteor",)), "unknown outage kind 'meteor'; known: refusal, blackhole"),
    (CalibrationPlan(durations=(0.0,)), "must last more than 0 s"),
    (CalibrationPlan(timeout=0.0), "a client timeout above 0 and at most 30s"),
])
def test_a_plan_the_load_cannot_resolve_is_refused_with_what_would_do(plan, message):
    with pytest.raises(UsageError, match=message):
        check_plan(plan)


def test_the_default_plan_is_valid_and_its_length_is_estimated():
    plan = check_plan(CalibrationPlan())
    assert plan.gap == 2.5 and plan.seconds() == pytest.approx(3 * (2 * 5 * (2.6 + 3.0 + 4.5) + 2.5))


def test_the_table_and_files_show_every_cell_and_the_load(tmp_path):
    plan = CalibrationPlan(rates=(RATE,), durations=(0.5,), repeats=1)
    samples = load_with_outage(3.0, 3.5)
    result = RateResult(RATE, (measure(samples, known(3.0, 3.5), 1.0),), steadiness(samples, RATE))
    doc = render.document([result], plan, {"cluster": "chaos", "app": "demo"})
    assert doc["within"] is True and doc["steadiness"][0]["steady"] is True and doc["passed"] is True
    assert render.rows(doc)[0][:4] == ["200/s", "refusal", "500.0ms", "1"]
    json_path, md_path = render.write(tmp_path, doc)
    assert json.loads(json_path.read_text())["schema"] == render.SCHEMA
    assert "| 200/s | refusal | 500.0ms | 1 |" in md_path.read_text()


SERVERS = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight
3 blue 1 srv1 10.0.1.5 2 0 1 1 515 15 3 3 6 0 0 0 tasks.chaos_web 8080 - 0 0 - - 0
3 blue 2 srv2 10.0.1.6 2 1 1 1 515 15 3 3 6 0 0 0 tasks.chaos_web 8080 - 0 0 - - 0
3 blue 4 srv4 - 0 32 1 1 518 1 0 0 14 0 0 0 tasks.chaos_web 8080 - 0 0 - - 0
4 green 1 srv1 - 0 32 1 1 518 1 0 0 14 0 0 0 tasks.chaos-green_web 8080 - 0 0 - - 0

"""


class BalancerNode(FakeCluster):
    """A node whose runtime API answers `show servers state` and records every other command."""

    def __init__(self) -> None:
        super().__init__()
        self.api: list[str] = []

    def exec(self, node, argv, stdin=None):
        self.commands.append((node, argv))
        line = (stdin or b"").decode().strip()
        if line == "show servers state":
            return ExecResult(0, SERVERS)
        self.api.append(line)
        return ExecResult(0, "\n")


def test_servers_are_read_with_their_slot_and_maintenance_state():
    servers = parse_servers(SERVERS)
    assert [(s.slot, s.resolved, s.maintenance) for s in servers] == [
        ("blue/srv1", True, False), ("blue/srv2", True, True), ("blue/srv4", False, False),
        ("green/srv1", False, False)]


def test_lb_maintenance_sets_every_resolved_server_and_heals_only_those_in_maintenance():
    cluster = BalancerNode()
    ctx, fault = FaultContext(cluster), registry.create("lb-maintenance", {}, "node1")
    fault.inject(ctx)
    fault.heal(ctx)
    assert cluster.api == ["set server blue/srv1 state maint; set server blue/srv2 state maint",
                           "set server blue/srv2 state ready"]
    assert not fault.verify(ctx)  # srv1 is not in maintenance in the canned answer
    start, end = fault.shell(ctx)
    assert "state maint" in start and "state ready" in end and "socat" in start


def test_lb_blackhole_drops_the_load_balancers_port_before_address_translation():
    cluster = FakeCluster()
    start, end = registry.create("lb-blackhole", {}, "node1").shell(FaultContext(cluster))
    assert start.startswith("iptables -w -t raw -I PREROUTING -p tcp --dport 8080")
    assert end == start.replace(" -I ", " -D ")


def test_the_balancer_faults_must_target_the_load_balancers_node(tmp_path):
    from harness.errors import ScenarioError
    from harness.scenario import load_scenario

    def scenario(target: str):
        path = tmp_path / "s.yaml"
        path.write_text(f"name: s\nfaults:\n  - kind: lb-blackhole\n    target: {target}\n    at: {{phase: upgrade}}\n")
        return load_scenario(path)

    assert scenario("{label: chaos.lb=true}").faults[0].kind == "lb-blackhole"
    with pytest.raises(ScenarioError, match="faults.0.target.*acts on the load balancer's node; target it with "
                                            "label: chaos.lb=true"):
        scenario("{role: upgraded-worker}")
