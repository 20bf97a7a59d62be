"""The command line: invalid input is refused before anything starts, with exit code 2."""

import json

from click.testing import CliRunner

from harness.cli import main
from harness.testing import DEMO_APP, write_run_dir
from harness.scenario import Scenario


def test_run_refuses_an_invalid_scenario_before_touching_docker(tmp_path, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nload: {rate: 0}\n")

    def no_cluster(*args, **kwargs):
        raise AssertionError("the cluster must not be touched for an invalid scenario")

    monkeypatch.setattr("harness.cli.runs.Cluster", no_cluster)
    result = CliRunner().invoke(main, ["run", str(bad)])
    assert result.exit_code == 2
    assert "load.rate" in result.output and "greater than or equal to 1" in result.output


def test_run_refuses_an_invalid_app_profile_with_exit_2(tmp_path, monkeypatch):
    (tmp_path / "app.yaml").write_text("name: shop\ncompose: missing.yml\nreleases: {'1': {web: 'w:1'}}\n"
                                       "entry: {service: web, port: 80}\n")

    class NoBuilds:
        def __init__(self, *args, **kwargs):
            pass

        @property
        def builder(self):
            raise AssertionError("no image may be built for an invalid profile")

        def up(self):
            raise AssertionError("the cluster must not start for an invalid profile")

    monkeypatch.setattr("harness.cli.runs.Cluster", NoBuilds)
    result = CliRunner().invoke(main, ["run", "--app", str(tmp_path / "app.yaml"), "clean-upgrade"])
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())  # the console wraps long lines
    assert "app.yaml: invalid app profile" in output and "compose: got 'missing.yml'" in output


def test_run_refuses_an_invalid_app_profile_before_touching_docker(tmp_path, monkeypatch):
    (tmp_path / "app.yaml").write_text("name: shop\ncompose: missing.yml\nreleases: {'1': {web: 'w:1'}}\n"
                                       "entry: {service: web, port: 80}\n")

    def no_cluster(*args, **kwargs):
        raise AssertionError("the cluster must not be touched for an invalid app profile")

    monkeypatch.setattr("harness.cli.runs.Cluster", no_cluster)
    result = CliRunner().invoke(main, ["run", "--app", str(tmp_path / "app.yaml"), "clean-upgrade"])
    assert result.exit_code == 2, result.output
    assert "compose: got 'missing.yml'" in " ".join(result.output.split())


def test_validate_accepts_the_shipped_scenarios():
    result = CliRunner().invoke(main, ["validate", "halted-node", "bad-release-rollback"])
    assert result.exit_code == 0, result.output


def test_faults_list_names_every_fault_with_its_parameters():
    result = CliRunner().invoke(main, ["faults", "list"])
    assert result.exit_code == 0
    assert "node-halt" in result.output and "mode='graceful'" in result.output


def test_report_re_renders_from_the_run_directory_and_exits_1_on_a_failed_expectation(tmp_path):
    scenario = Scenario(name="x", expect={"max_downtime": 0.5}).model_dump(mode="json")
    run_dir = write_run_dir(tmp_path / "run", [
        {"t": 0, "type": "run.start", "scenario": scenario, "run_id": "run", "app": DEMO_APP,
         "load": {"rate": 1, "timeout": 1}},
        {"t": 0, "type": "engine.task", "service": "chaos_web", "task": "t1", "node": "node2", "version": "v1",
         "state": "running", "addresses": ["10.0.1.5"]},
        {"t": 9, "type": "readback", "ok": True, "measured": True, "ids": []},
        {"t": 10, "type": "run.end", "status": "completed"},
    ], [
        {"t": 1, "end": 1.1, "ok": True, "server": "10.0.1.5:8080", "backend": "blue"},
        {"t": 2, "end": 3.0, "ok": False, "error": "timeout"},
        {"t": 3, "end": 3.1, "ok": True, "server": "10.0.1.5:8080", "backend": "blue"},
    ])
    result = CliRunner().invoke(main, ["report", str(run_dir)])
    assert result.exit_code == 1
    assert (run_dir / "report.json").exists()
    assert "max_downtime" in result.output and "FAIL" in result.output
    report = json.loads((run_dir / "report.json").read_text())
    assert report["versions"]["counts"] == {"v1": 2}  # attributed from the server that answered


def test_quiet_prints_nothing_but_keeps_the_exit_code(tmp_path):
    from harness.testing import make_run_dir

    run_dir = make_run_dir(tmp_path, "r", "in-service", outage=2.0, expect={"max_downtime": 1})
    result = CliRunner().invoke(main, ["--quiet", "report", str(run_dir)])
    assert result.exit_code == 1
    assert result.output == ""
    assert (run_dir / "report.html").exists()


def test_no_docker_engine_is_exit_3_with_what_to_do(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = CliRunner().invoke(main, ["cluster", "status"])
    assert result.exit_code == 3
    assert "no Docker engine answers" in result.output and "setup command" in result.output


def test_report_json_is_the_report_document_on_stdout(tmp_path):
    from harness.testing import make_run_dir

    run_dir = make_run_dir(tmp_path, "r", "blue-green", outage=0.0)
    result = CliRunner().invoke(main, ["--quiet", "report", "--json", str(run_dir)])
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert document["schema"] == "chaos-harness/report@1" and document["run_id"] == "r"


def test_validate_checks_an_app_profile_and_the_releases_the_scenarios_ask_for(tmp_path):
    ok = CliRunner().invoke(main, ["validate", "--app", "demo", "bad-release-rollback"])
    assert ok.exit_code == 0, ok.output
    assert "demo: valid" in ok.output
    unknown = tmp_path / "to-v9.yaml"
    unknown.write_text("name: to-v9\nstack: {to: v9}\nexpect: {max_downtime: 1s}\n")
    result = CliRunner().invoke(main, ["validate", "--app", "demo", str(unknown)])
    assert result.exit_code == 2
    assert "asks for release 'v9'; this profile has v1, v2" in " ".join(result.output.split())


def test_app_init_writes_a_profile_that_loads_and_never_overwrites_one(tmp_path):
    from harness.app import load_profile

    stack = tmp_path / "shop"
    stack.mkdir()
    (stack / "compose.yml").write_text("services:\n  web:\n    image: shop/web:1.4\n    ports: ['80:8080']\n"
                                       "  db:\n    image: postgres:15\n    volumes: ['pgdata:/var/lib/data']\n"
                                       "volumes:\n  pgdata: {}\n")
    result = CliRunner().invoke(main, ["app", "init", str(stack / "compose.yml")])
    assert result.exit_code == 0, result.output
    profile = load_profile(stack / "chaos-app.yaml")
    assert profile.name == "shop" and profile.upgraded == ("web",)
    assert {name: images["web"].image for name, images in profile.model.releases.items()} == {
        "1.4": "shop/web:1.4", "next": "shop/web:NEXT"}
    assert (profile.model.entry.service, profile.model.entry.port) == ("web", 8080)
    assert profile.model.stateful == ["db"]
    again = CliRunner().invoke(main, ["app", "init", str(stack / "compose.yml")])
    assert again.exit_code == 2 and "exists" in again.output


def test_app_init_builds_the_first_release_as_the_compose_file_does(tmp_path):
    from harness.app import load_profile

    (tmp_path / "app").mkdir()
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    image: shop/web:2\n    expose: [3000]\n"
                                          "    build: {context: app, args: {FLAVOUR: plain}}\n")
    profile_path = tmp_path / "profiles" / "shop.yaml"
    profile_path.parent.mkdir()
    result = CliRunner().invoke(main, ["app", "init", str(tmp_path / "compose.yml"), "-o", str(profile_path)])
    assert result.exit_code == 0, result.output
    first = load_profile(profile_path).model.releases["2"]["web"]
    assert first.image == "shop/web:2" and first.build.args == {"FLAVOUR": "plain"}
    assert (profile_path.parent / first.build.context).resolve() == (tmp_path / "app").resolve()


def test_validate_checks_an_app_profile_alone_and_needs_something_to_check(tmp_path):
    alone = CliRunner().invoke(main, ["validate", "--app", "demo"])
    assert alone.exit_code == 0 and "demo: valid" in alone.output
    broken = tmp_path / "app.yaml"
    broken.write_text("name: x\ncompose: missing.yml\n")
    refused = CliRunner().invoke(main, ["validate", "--app", str(broken)])
    assert refused.exit_code == 2 and str(broken) in refused.output
    nothing = CliRunner().invoke(main, ["validate"])
    assert nothing.exit_code == 2 and "give scenario files, --app PROFILE, or both" in nothing.output


def test_matrix_and_sweep_refuse_an_unknown_engine_or_a_form_an_engine_cannot_deploy_before_touching_docker(
        tmp_path, monkeypatch):
    def no_cluster(*args, **kwargs):
        raise AssertionError("the cluster must not be touched for invalid input")

    monkeypatch.setattr("harness.cluster.Cluster", no_cluster)
    monkeypatch.setenv("CHAOS_HOME", str(tmp_path / "home"))
    for command in (["matrix", "clean-upgrade"], ["sweep", "halted-node"]):
        result = CliRunner().invoke(main, [*command, "--engines", "swarm,nomad"])
        assert result.exit_code == 2, result.output
        assert "--engines: got 'swarm,nomad'; give a comma-separated list of swarm, kubernetes" in \
            " ".join(result.output.split())
    profile = tmp_path / "app.yaml"
    profile.write_text("name: shop\nkubernetes: {manifests: k8s}\nreleases: {'1': {web: 'w:1'}, '2': {web: 'w:2'}}\n"
                       "entry: {service: web, port: 80}\n")
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "web.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {a: b}}\n"
        "  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: web, image: w:1, ports: "
        "[{containerPort: 80}]}]}\n")
    result = CliRunner().invoke(main, ["matrix", "clean-upgrade", "--apps", str(profile), "--engines",
                                       "kubernetes,swarm"])
    assert result.exit_code == 2, result.output
    assert "swarm deploys compose: add compose: to the profile" in " ".join(result.output.split())


def test_an_engine_given_for_a_cluster_that_is_up_as_another_is_refused(tmp_path):
    """--engine chooses the engine when a cluster is made; given for a Swarm cluster that is up, it is refused
    (a new user's `--engine kubernetes app check` was silently run on Swarm)."""
    from harness.cluster.config import ClusterState

    ClusterState(name="chaos", provider="docker", nodes=["node1", "node2"], node_ips={}, lb_port=1, lb_admin_port=2,
                 registry_port=3, toxiproxy_port=4, node_image="").save(tmp_path / "clusters" / "chaos")
    refused = CliRunner().invoke(main, ["--engine", "kubernetes", "validate", "--app", "demo"],
                                 env={"CHAOS_HOME": str(tmp_path)})
    assert refused.exit_code == 2 and "is up as a swarm cluster" in " ".join(refused.output.split())
    for argv in (["validate", "--app", "demo"], ["--engine", "swarm", "validate", "--app", "demo"]):
        assert CliRunner().invoke(main, argv, env={"CHAOS_HOME": str(tmp_path)}).exit_code == 0


def test_a_reports_directory_that_cannot_be_made_is_refused_before_anything_starts(tmp_path):
    (tmp_path / "file").write_text("")
    for command in (["run", "halted-node"], ["matrix", "halted-node"], ["sweep", "halted-node"], ["calibrate"],
                    ["lint", "demo", "--prove"]):
        for reports, why in ((tmp_path / "file", "is not a directory"),
                             (tmp_path / "file" / "runs", "is not a directory"), ("x" * 5000, "File name too long")):
            done = CliRunner().invoke(main, [*command, "--reports", str(reports)], env={"CHAOS_HOME": str(tmp_path)})
            assert done.exit_code == 2 and why in done.output and "--reports" in done.output, (command, done.output)
