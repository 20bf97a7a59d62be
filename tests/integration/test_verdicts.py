"""Verdicts on a stack whose status codes lie: the itemstore example (PHP, MariaDB, server-assigned ids).

Its traps: a search that answers ``200 []``, a redirect of every page to
``/setup`` while the database is not ready, ids the server assigns. Each test
makes the harness meet one of them for real and checks that the verdict
tells the truth: a planted loss is counted exactly, a redirected site is
down, a status-only read-back is refused, and reads during the run show when
acknowledged writes could not be read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from harness.app import App, load_profile
from harness.checks import ABSENT, PRESENT
from harness.runner import Runner
from harness.stack import BLUE
from tests.integration.conftest import lint_proofs, relocatable
from tests.integration.test_end_to_end import events_of, shortened

pytestmark = pytest.mark.docker
ITEMSTORE = Path(__file__).resolve().parents[2] / "examples" / "itemstore" / "itemstore.yaml"
PLANTED = 5  # acknowledged writes deleted behind the app's back
SETUP_SECONDS = 4.0  # how long the table is renamed away: every page redirects to /setup


@pytest.fixture(scope="module")
def itemstore(cluster) -> App:
    return App.prepare(load_profile(ITEMSTORE), cluster.builder, ["old", "new"])


def database(cluster, sql: str) -> str:
    """Run ``sql`` in the itemstore database, inside the db task's container on its node."""
    node = cluster.engine.service(BLUE.service("db")).running()[0].node
    script = ('docker exec "$(docker ps -q --filter label=com.docker.swarm.service.name=chaos_db | head -n 1)" '
              'mariadb -N itemstore -e "$1"')
    result = cluster.exec(node, ["sh", "-c", script, "sql", sql])
    assert result.ok, result.output
    return result.output


def when_upgrading(run_dir_parent: Path, action) -> threading.Thread:
    """Run ``action(run_dir)`` in the background two seconds after the run's upgrade phase began."""
    def wait_then_act():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            for journal in run_dir_parent.glob("*/journal.jsonl"):
                if '"phase": "upgrade"' in journal.read_text():
                    time.sleep(2)
                    action(journal.parent)
                    return
            time.sleep(0.2)
    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


def acknowledged_ids(run_dir: Path) -> list[str]:
    """Server-assigned ids of the writes acknowledged so far, from the samples the load wrote."""
    samples = (json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line)
    return [s["captured"]["id"] for s in samples if s["ok"] and s.get("captured")]


def test_a_planted_loss_is_counted_exactly_and_a_site_redirecting_to_its_setup_page_is_down(cluster, itemstore,
                                                                                           tmp_path):
    planted: list[str] = []

    def plant_then_break(run_dir: Path) -> None:
        planted.extend(acknowledged_ids(run_dir)[:PLANTED])
        database(cluster, f"DELETE FROM items WHERE id IN ({', '.join(planted)})")
        database(cluster, "RENAME TABLE items TO items_away")  # the app now redirects every page to /setup
        time.sleep(SETUP_SECONDS)
        database(cluster, "RENAME TABLE items_away TO items")

    helper = when_upgrading(tmp_path, plant_then_break)
    result = Runner(shortened("clean-upgrade", "in-service", warmup=8, observe=10), cluster, tmp_path,
                    itemstore).run()
    helper.join(timeout=30)
    report, writes = result.report, result.report["writes"]
    assert len(planted) == PLANTED, "the run acknowledged too few writes before the upgrade"

    assert writes["absent"] == PLANTED and writes["unverifiable"] == 0, writes
    lost = [json.loads(line) for line in (result.run_dir / "readback.jsonl").read_text().splitlines()
            if json.loads(line)["outcome"] == ABSENT]
    assert sorted(r["captured"]["id"] for r in lost) == sorted(planted)
    assert all(r["status"] == 404 for r in lost)
    assert writes["present"] == writes["acknowledged"] - PLANTED
    assert report["verdicts"][-1]["name"] == "max_lost_writes" and not report["verdicts"][-1]["passed"]

    errors = report["load"]["errors"]
    assert "http_302" in errors or any(kind.startswith("check ") for kind in errors), errors
    assert report["longest_outage"] >= SETUP_SECONDS * 0.75, (report["outages"], errors)
    during = writes["during_run"]
    assert during["absent"] + during["unverifiable"] > 0 and during["missing_windows"], during


def test_the_negative_control_refuses_a_read_back_that_only_checks_the_status(cluster, itemstore, tmp_path):
    document = relocatable(ITEMSTORE)  # the copy lives elsewhere
    document["writes"]["read"] = {"name": "search", "path": "/items?search={id}", "status": [200]}
    careless = tmp_path / "careless-search.yaml"
    careless.write_text(yaml.safe_dump(document, sort_keys=False))
    env = {**os.environ, "CHAOS_HOME": str(cluster.config.workdir)}
    check = subprocess.run([sys.executable, "-m", "harness.cli", "--cluster", cluster.config.name, "app",
                            "check", str(careless)], env=env, capture_output=True, text=True, timeout=600)
    assert check.returncode == 2, check.stderr[-3000:]
    assert "your read-back finds items that were never written" in check.stderr
    assert "200" in check.stderr and "[]" in check.stderr  # what the search answered for an id never written


def test_lint_proves_a_database_free_to_move_loses_acknowledged_writes_and_pinning_it_loses_none(cluster, itemstore,
                                                                                                  tmp_path):
    """swarm-stateful-without-placement on the itemstore (its db's volume is local, its placement free): the proof
    (moving-stateful-db: the db's node halted, MariaDB starts over on an empty volume elsewhere) loses writes; the
    read-back lists them and reads during the run show the window. The fixed variant pins the db to its node: no
    write is lost, and its prepare removes the volume the proof's db left behind."""
    proof, lint_dir = lint_proofs(cluster, str(ITEMSTORE), "swarm-stateful-without-placement", tmp_path,
                                  "warmup=5s", "observe=10s", "upgrade=30s")
    assert proof["reproduced"] is True and proof["fix_removed"] is True, proof
    (run_dir,) = (path.parent for path in lint_dir.glob("*-db-in-service/report.json"))
    (fixed_dir,) = (path.parent for path in lint_dir.glob("*-fixed-in-service/report.json"))
    report = json.loads((run_dir / "report.json").read_text())
    writes = report["writes"]
    assert writes["lost"] and writes["lost"] > 0, writes
    assert len(writes["lost_ids"]) == min(writes["lost"], 100)
    assert any(v["name"] == "max_lost_writes" and not v["passed"] for v in report["verdicts"])
    during = writes["during_run"]
    (inject,) = events_of(run_dir, "fault.inject")
    assert inject.get("kind") == "node-halt"
    assert during["missing_windows"], during
    first = during["missing_windows"][0]
    assert first["start"] >= inject.t - 1 and first["reads"] >= 2, (first, inject.t)
    assert during["by_phase"]["upgrade"]["missing"] > 0
    outcomes = [json.loads(line)["outcome"] for line in (run_dir / "readback.jsonl").read_text().splitlines()]
    assert outcomes.count(ABSENT) == writes["absent"] and outcomes.count(PRESENT) == writes["present"]
    assert writes["absent"] + writes["present"] + writes["unverifiable"] == writes["acknowledged"]

    fixed = json.loads((fixed_dir / "report.json").read_text())
    assert fixed["writes"]["acknowledged"] > 0 and fixed["writes"]["lost"] == 0, fixed["writes"]
    cleared = [e.data for e in events_of(fixed_dir, "stack.stale_volume")]
    assert any(e["node"] == inject.get("target") and e["volume"] == f"{BLUE.stack}_itemdata" and e["removed"]
               for e in cleared), cleared
    assert {task.node for task in cluster.engine.service(BLUE.service("db")).running()} == {cluster.stateful_node}
