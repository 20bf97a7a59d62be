"""Seed scenarios, shortened, on the real cluster: each report shows the symptom the seed describes."""

from __future__ import annotations

import base64
import io
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest

from harness.dockerhost import CLUSTER_LABEL, host_docker
from harness.runner import Runner
from tests.integration.test_end_to_end import events_of, shortened

pytestmark = pytest.mark.docker


def task_errors(run_dir) -> list[str]:
    return [e.get("error") for e in events_of(run_dir, "engine.task") if e.get("error")]


def test_port_conflict_fails_the_task_with_address_in_use_and_rolls_back(cluster, demo, tmp_path):
    result = Runner(shortened("port-conflict", warmup=5, observe=10, verify_window=5), cluster, tmp_path, demo).run()
    assert any("address already in use" in error for error in task_errors(result.run_dir))
    assert result.report["upgrade"]["outcome"] == "rolled_back"
    assert result.report["rollback"]["success"] is True, result.report["rollback"]["reasons"]


def test_rotated_registry_credentials_reject_the_pull_and_never_leak(cluster, demo, tmp_path):
    with exec_records(cluster) as records:
        result = Runner(shortened("registry-auth", warmup=5, observe=10, verify_window=5), cluster, tmp_path,
                        demo).run()
    rejected = [e for e in events_of(result.run_dir, "engine.task") if e.get("state") == "rejected"]
    assert rejected, "no task was rejected for its image"
    assert result.report["upgrade"]["outcome"] == "rolled_back"
    secrets = secret_forms(cluster)
    written = [path for path in result.run_dir.rglob("*") if path.is_file()]
    assert result.run_dir / "logs" / "node2.engine.log" in written
    for path in written:  # reports, journal and the collected engine and task logs
        text = path.read_text(errors="replace")
        assert not [form for form, secret in secrets.items() if secret in text], f"a secret leaked into {path.name}"
    assert any("--password-stdin" in record for record in records), "the docker login was not recorded"
    for record in records:
        assert not [form for form, secret in secrets.items() if secret in record], f"a secret in {record}"


def test_a_rollback_the_engine_calls_complete_fails_while_a_frozen_node_still_runs_v2(cluster, demo, tmp_path):
    result = Runner(shortened("frozen-daemon-rollback", "in-service", warmup=5, observe=10, verify_window=5),
                    cluster, tmp_path, demo).run()
    (inject,) = events_of(result.run_dir, "fault.inject")
    rollback = result.report["rollback"]
    assert result.report["upgrade"]["outcome"] == "completed"
    assert rollback["triggered"] is True and rollback["success"] is False
    assert any(reason.startswith(f"{inject.get('target')} still runs") and "x v2" in reason
               for reason in rollback["reasons"]), rollback["reasons"]


def secret_forms(cluster) -> dict[str, str]:
    """The registry password as it could leak: plain, base64, in a basic-auth header, and its bcrypt hash."""
    auth = cluster.secure_registry().auth()
    container = host_docker().containers.get(f"{cluster.config.name}-registry-secure")
    archive = b"".join(container.get_archive("/auth/htpasswd")[0])
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        hashed = tar.extractfile("htpasswd").read().decode().strip().split(":", 1)[1]
    return {"password": auth.password, "base64": base64.b64encode(auth.password.encode()).decode().rstrip("="),
            "basic auth": base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode().rstrip("="),
            "bcrypt hash": hashed}


@contextmanager
def exec_records(cluster) -> Iterator[list[str]]:
    """Every command the host engine reports run in the cluster's containers while the block runs (its exec
    events), received as they happen: the engine keeps only its last 256 events for a later query."""
    records: list[str] = []
    stream = host_docker().events(decode=True, filters={"type": "container",
                                                        "label": f"{CLUSTER_LABEL}={cluster.config.name}"})

    def receive() -> None:
        with suppress(Exception):  # the stream ends when it is closed
            records.extend(e["Action"] for e in stream if e.get("Action", "").startswith("exec_"))

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    try:
        yield records
    finally:
        time.sleep(1)  # the last events reach the stream
        stream.close()
        receiver.join(timeout=10)
