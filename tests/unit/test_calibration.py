"""Calibration: the plan's checks, known outages against measured ones, refusals made and stamped from the harness,
the table, and the balancer faults."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from harness.analysis.samples import Sample
from harness.analysis.steadiness import steadiness
from harness.calibration import render
from harness.calibration.measure import CLOCK_LIMIT, KnownOutage, Trial, bound, cells, clock_limit, measure
from harness.calibration.plan import CalibrationPlan, check_plan
from harness.calibration.refusal import SETTLE, Refusal, timer
from harness.calibration.session import RateResult
from harness.cluster.vagrant import ExecResult
from harness.errors import ClusterError, UsageError
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
    assert refusal.within and refusal.bound == pytest.approx(1 / RATE + 0.002) and refusal.verdict == "yes"
    assert blackhole.bound == bound("blackhole", RATE, 1.0) == pytest.approx(1 / RATE + 0.002 + 1.0)
    assert blackhole.within and blackhole.median_error == pytest.approx(-0.2)
    assert cells([Trial(known(1, 1.5), 0.6, 1)], timeout=1.0)[0].verdict == "NO"


def test_at_1000_per_second_a_refusal_may_be_off_by_one_interval_and_2ms():
    assert bound("refusal", 1000.0, 1.0) == pytest.approx(0.003)
    outage = KnownOutage("refusal", 1000.0, 0.5, (1.0, 1.001, 1.5, 1.501))
    judged = [cells([Trial(outage, 0.5 + error, 1)], timeout=1.0)[0] for error in (0.0029, -0.0029, 0.0031, -0.0031)]
    assert [cell.verdict for cell in judged] == ["yes", "yes", "NO", "NO"]


def test_a_refusal_whose_clock_is_looser_than_its_limit_is_not_judged():
    """Known to 2 ms, an error of 1 ms proves the bound; known to 6 ms, it proves nothing either way."""
    tight = [Trial(known(1, 1.5, width=0.002), 0.501, 1)] * 3
    loose = [Trial(known(1, 1.5, width=0.004), 0.501, 1), *[Trial(known(1, 1.5, width=0.006), 0.501, 1)] * 2]
    tight_cell, loose_cell = cells(tight, 1.0)[0], cells(loose, 1.0)[0]
    assert tight_cell.median_uncertainty == pytest.approx(0.002) and tight_cell.verdict == "yes"
    assert loose_cell.within and not loose_cell.tight and loose_cell.verdict == "LOOSE"
    assert (loose_cell.median_uncertainty, loose_cell.uncertainty) == pytest.approx((0.006, 0.006))
    assert loose_cell.as_dict()["uncertainties"] == pytest.approx([0.004, 0.006, 0.006])
    assert clock_limit("refusal", 1.0) == CLOCK_LIMIT == 0.005 and clock_limit("blackhole", 1.0) == 1.0


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
    refusals, blackholes = 5 * (3 * SETTLE + 2.6 + 3.0 + 4.5), 5 * (2.6 + 3.0 + 4.5)  # each kind at one rate
    assert plan.gap == 2.5 and plan.seconds() == pytest.approx(3 * (refusals + blackholes + 2.5))
    assert CalibrationPlan(kinds=("blackhole",)).seconds() == pytest.approx(3 * (blackholes + 2.5))


def test_the_table_and_files_show_every_cell_and_the_load(tmp_path):
    plan = CalibrationPlan(rates=(RATE,), durations=(0.5,), repeats=1)
    samples = load_with_outage(3.0, 3.5)
    result = RateResult(RATE, (measure(samples, known(3.0, 3.5), 1.0),), steadiness(samples, RATE))
    doc = render.document([result], plan, {"cluster": "chaos", "app": "demo"})
    assert doc["within"] is doc["tight"] is True and doc["steadiness"][0]["steady"] is True and doc["passed"] is True
    assert render.rows(doc)[0] == ["200/s", "refusal", "500.0ms", "1", "+0.0ms", "+0.0ms", "5.0ms",
                                   "2.0ms / 2.0ms", "7.0ms", "yes"]
    json_path, md_path = render.write(tmp_path, doc)
    assert json.loads(json_path.read_text())["schema"] == render.SCHEMA
    assert "| 200/s | refusal | 500.0ms | 1 |" in md_path.read_text() and "(refusal 5.0ms)" in md_path.read_text()


def test_a_loose_clock_fails_the_calibration_and_says_so(tmp_path):
    samples = load_with_outage(3.0, 3.5)
    result = RateResult(RATE, (measure(samples, known(3.0, 3.5, width=0.012), 1.0),), steadiness(samples, RATE))
    doc = render.document([result], CalibrationPlan(rates=(RATE,), durations=(0.5,), repeats=1), {})
    assert doc["within"] is True and doc["tight"] is False and doc["passed"] is False
    assert render.rows(doc)[0][-3:] == ["12.0ms / 12.0ms", "7.0ms", "LOOSE"]


class RuntimeApi:
    """HAProxy's runtime API on a fake clock: each call takes ``took`` seconds; a line holding a key of ``fail``
    is answered with its value (a refusal)."""

    def __init__(self, took: float = 0.001, fail: dict[str, str] | None = None) -> None:
        self.now, self.took, self.fail = 1000.0, took, fail or {}
        self.log: list[str] = []
        self.live = "blue"

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def command(self, line: str) -> str:
        self.log.append(line)
        self.now += self.took
        if refused := next((answer for part, answer in self.fail.items() if part in line), None):
            return refused
        self.live = line.split()[-1]
        return "\n"

    def routes(self) -> dict[str, str]:
        return {"live": self.live, "preview": "green"}


def refusal(api: RuntimeApi, armed: list, sleep=None) -> Refusal:
    """A refusal on ``api``'s clock whose timers (when, and the command run on the node) are kept in ``armed``."""
    return Refusal(api, lambda argv: armed.append((api.now, argv)), 1.25, api.clock, sleep or api.sleep)


def test_a_refusal_routes_live_traffic_nowhere_and_back_stamped_around_each_call():
    api, armed = RuntimeApi(took=0.003), []
    stamps = refusal(api, armed).hold(0.5)
    away, back = api.log
    assert re.fullmatch(r"set map /etc/haproxy/routes.map live nowhere-[0-9a-f]{8}", away), away
    assert back == "set map /etc/haproxy/routes.map live blue" and api.live == "blue"
    assert stamps == pytest.approx((1000.5, 1000.503, 1001.0, 1001.003))  # the end sent 0.5 s after the start
    outage = KnownOutage("refusal", RATE, 0.5, stamps)
    assert outage.known == pytest.approx(0.5) and outage.uncertainty == pytest.approx(0.003)
    [(when, argv)] = armed  # the route back on the node's timer, SETTLE before the outage, for this outage only
    assert when == 1000.0 and argv == timer(away.split()[-1], "blue", SETTLE + 0.5 + 1.25)
    second = []
    refusal(api, second).hold(0.5)
    assert api.log[2] != away, "each outage routes to a name of its own"


def test_the_nodes_timer_returns_at_once_and_routes_back_only_its_own_outage(tmp_path):
    """With a stand-in ``socat`` whose map routes live to nowhere-a1 and which keeps every other line sent."""
    sent = tmp_path / "sent"
    (tmp_path / "map").write_text("0x55 live nowhere-a1\n0x56 preview green\n")
    (tmp_path / "socat").write_text(f"""#!/bin/sh
line=$(cat)
case "$line" in
  "show map"*) cat {tmp_path}/map ;;
  *) echo "$line" >> {sent} ;;
esac
""")
    (tmp_path / "socat").chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    started = time.monotonic()
    for away in ("nowhere-a1", "nowhere-b2", "nowhere-a"):
        subprocess.run(timer(away, "blue", 1.0), env=env, check=True, timeout=5)
    assert time.monotonic() - started < 0.8 and not sent.exists()
    while not sent.exists() and time.monotonic() < started + 5:
        time.sleep(0.05)
    assert time.monotonic() - started >= 1.0
    time.sleep(0.5)  # the other two timers have fired too
    assert sent.read_text() == "set map /etc/haproxy/routes.map live blue\n"


def test_a_refusal_interrupted_mid_outage_routes_back_at_once():
    api, armed = RuntimeApi(), []

    def interrupted_while_refusing(seconds: float) -> None:
        if api.live.startswith("nowhere"):
            raise KeyboardInterrupt
        api.sleep(seconds)

    with pytest.raises(KeyboardInterrupt):
        refusal(api, armed, interrupted_while_refusing).hold(0.5)
    assert len(api.log) == 2 and api.live == "blue" and len(armed) == 1


def test_a_refusal_ended_after_its_timer_could_have_is_not_trusted():
    api, armed = RuntimeApi(), []
    with pytest.raises(ClusterError, match="end was sent over 1.25s late, so its timer may have ended it first"):
        refusal(api, armed, lambda seconds: api.sleep(seconds + 1.3 * api.live.startswith("nowhere"))).hold(0.5)
    assert api.live == "blue"


@pytest.mark.parametrize("fail, message", [
    ({"live nowhere-": "entry not found."}, r"refused `set map /etc/haproxy/routes.map live nowhere-\w+`: entry not"),
    ({"live blue": "Unknown command."}, "refused `set map /etc/haproxy/routes.map live blue`: Unknown command."),
])
def test_a_runtime_api_that_refuses_a_call_fails_the_refusal_and_leaves_the_route_to_the_timer(fail, message):
    armed = []
    with pytest.raises(ClusterError, match=message):
        refusal(RuntimeApi(fail=fail), armed).hold(0.5)
    assert len(armed) == 1


def test_a_refusal_needs_a_live_backend_to_route_back_to():
    api, armed = RuntimeApi(), []
    api.live = "nowhere-0badf00d"  # a killed calibration's outage, its timer still to fire
    with pytest.raises(ClusterError, match="live route is 'nowhere-0badf00d', not a backend; deploy the app first"):
        refusal(api, armed).hold(0.5)
    assert armed == [] and api.log == []


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
