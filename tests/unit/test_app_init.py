"""``app init``: a profile for any compose file Swarm deploys, with TODOs where it cannot know; never written
through a link, over a file, or for a compose file that is none."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.app import load_profile
from harness.app.init import dockerfile_ports, starting_profile
from harness.cli import main
from harness.errors import ProfileError

NO_PORTS = "services:\n  web:\n    image: shop/web:1.4\n    build: web\n  db:\n    image: postgres:15\n" \
           "    volumes: ['pgdata:/var/lib/data']\nvolumes:\n  pgdata:\n"


@pytest.fixture
def stack(tmp_path) -> Path:
    """A compose file whose services declare no port, beside the build context of web."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "web").mkdir()
    (tmp_path / "shop" / "compose.yml").write_text(NO_PORTS)
    return tmp_path / "shop"


def no_image(image: str) -> set[int] | None:
    return None


def written(stack: Path, image_ports=no_image) -> tuple[str, Path]:
    """The profile ``app init`` makes for the stack (the host's images as ``image_ports`` says), saved and loaded."""
    text = starting_profile(stack / "compose.yml", stack / "chaos-app.yaml", image_ports)
    (stack / "chaos-app.yaml").write_text(text)
    load_profile(stack / "chaos-app.yaml")  # every profile it writes is valid as it stands
    return text, stack / "chaos-app.yaml"


def entry_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith("port:"))


def test_without_ports_the_image_on_this_host_names_the_entry_port(stack):
    text, _ = written(stack, lambda image: {8000, 9000} if image == "shop/web:1.4" else None)
    assert entry_line(text) == "  port: 8000  # TODO: check it: the image shop/web:1.4 exposes it (the compose file " \
                               "names no port)"


def test_without_ports_or_an_image_the_dockerfile_of_the_build_names_the_entry_port(stack):
    (stack / "web" / "Dockerfile").write_text("FROM base\nexpose 8081/tcp \\\n  9100\nEXPOSE ${PORT} 7000-7010\n")
    text, _ = written(stack)
    assert entry_line(text).startswith(f"  port: 8081  # TODO: check it: {stack / 'web' / 'Dockerfile'} exposes it")


def test_without_any_port_the_profile_is_written_with_a_todo_instead_of_refused(stack):
    text, path = written(stack)
    assert entry_line(text) == "  port: 80  # TODO: the container port web listens on: neither the compose file " \
                               "nor the image names one"
    assert load_profile(path).model.entry.port == 80


def test_ports_in_the_compose_file_are_taken_as_they_are(stack):
    (stack / "compose.yml").write_text(NO_PORTS.replace("    build: web\n", "    build: web\n    expose: [5000]\n"))
    text, _ = written(stack, lambda image: {8000})
    assert entry_line(text) == "  port: 5000"


def test_the_profile_shows_the_load_rate_a_body_check_and_writes_with_capture_and_read_back(stack):
    text, path = written(stack)
    assert "# rate: 50" in text and "load.rate" in text
    profile = load_profile(path)
    (request,) = profile.model.load.requests
    assert request.check.status == ["2xx"] and request.check.not_contains == ["Internal Server Error"]
    head, rest = text.split("# writes:\n")
    block, tail = rest.split("# Services whose data")
    path.write_text(head + "writes:\n" + re.sub(r"^# ", "", block, flags=re.MULTILINE) + "# Services" + tail)
    writes = load_profile(path).model.writes  # the commented example is a valid writes section
    assert writes is not None and writes.write.capture["id"].json_ == "id"
    assert writes.read.path == "/items/{captured.id}" and writes.read.check.contains == ["{id}"]
    assert writes.read.absent is not None and writes.read.absent.status == [404]


def test_names_that_yaml_would_read_as_numbers_or_booleans_stay_names(tmp_path):
    (tmp_path / "compose.yml").write_text("services:\n  'true':\n    image: 'x:1.0'\n    ports: [80]\n"
                                          "  '1':\n    image: y\n    volumes: [d:/d]\n")
    (tmp_path / "app.yaml").write_text(starting_profile(tmp_path / "compose.yml", tmp_path / "app.yaml", no_image))
    profile = load_profile(tmp_path / "app.yaml")
    assert list(profile.model.releases) == ["1.0", "next"] and profile.model.entry.service == "true"
    assert profile.model.stateful == ["1"]


def test_a_compose_file_swarm_would_refuse_is_refused_naming_the_key(stack):
    (stack / "compose.yml").write_text("services:\n  web:\n    image: 5\n    ports: '80'\n")
    with pytest.raises(ProfileError) as caught:
        starting_profile(stack / "compose.yml", stack / "chaos-app.yaml", no_image)
    message = str(caught.value)
    assert message.startswith(f"{stack / 'compose.yml'}: invalid compose file (2 problems)")
    assert "services.web.image: got 5: Input should be a valid string" in message
    assert "services.web.ports: got '80': Input should be a valid list" in message


def test_a_dockerfile_that_cannot_be_read_exposes_nothing(tmp_path):
    os.mkfifo(tmp_path / "Dockerfile")
    assert dockerfile_ports(tmp_path / "Dockerfile") == set() and dockerfile_ports(tmp_path / "none") == set()


def invoke(*args: str):
    return CliRunner().invoke(main, ["app", "init", *args])


@pytest.fixture
def no_engine(monkeypatch):
    monkeypatch.setattr("harness.app.init.host_image_ports", no_image)


@pytest.mark.parametrize("output, said", [
    ("missing/dir/app.yaml", "cannot be written (No such file or directory); the directory"),
    ("a" * 300 + ".yaml", "cannot be written (File name too long)"),
])
def test_an_output_that_cannot_be_written_is_exit_2_and_nothing_is_written(stack, no_engine, output, said):
    result = invoke(str(stack / "compose.yml"), "-o", str(stack / output))
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())
    assert sorted(p.name for p in stack.iterdir()) == ["compose.yml", "web"]


def test_an_output_through_a_dangling_link_is_refused_and_its_target_never_made(stack, no_engine):
    (stack / "app.yaml").symlink_to(stack.parent / "elsewhere.yaml")
    result = invoke(str(stack / "compose.yml"), "-o", str(stack / "app.yaml"))
    assert result.exit_code == 2 and "exists as a symbolic link" in " ".join(result.output.split())
    assert not (stack.parent / "elsewhere.yaml").exists()


def test_an_existing_profile_is_never_overwritten(stack, no_engine):
    assert invoke(str(stack / "compose.yml")).exit_code == 0
    (stack / "chaos-app.yaml").write_text("mine")
    result = invoke(str(stack / "compose.yml"))
    assert result.exit_code == 2 and "exists; remove it" in result.output
    assert (stack / "chaos-app.yaml").read_text() == "mine"


@pytest.mark.parametrize("compose", ["/dev/zero", "missing.yml"])
def test_a_compose_file_that_is_no_regular_file_is_exit_2(stack, no_engine, compose):
    result = invoke(compose if compose.startswith("/") else str(stack / compose), "-o", str(stack / "app.yaml"))
    assert result.exit_code == 2 and "compose file" in result.output
    assert not (stack / "app.yaml").exists()


def test_a_build_context_that_is_no_directory_is_refused_and_nothing_written(stack, no_engine):
    (stack / "web").rmdir()
    result = invoke(str(stack / "compose.yml"))
    assert result.exit_code == 2
    assert "services.web.build: got 'web': no such directory" in " ".join(result.output.split())
    assert not (stack / "chaos-app.yaml").exists()


EXAMPLES = Path(__file__).parents[2] / "examples"


def test_kubernetes_objects_give_a_profile_whose_entry_is_the_first_stateless_deployment_with_a_port(tmp_path):
    """A directory of manifests (no tool needed) and a Helm chart: the profile written loads as it is, rendering
    the objects the same way; the StatefulSet and the Deployment that mounts a claim are its stateful services."""
    demo = tmp_path / "demo"
    (demo / "k8s").mkdir(parents=True)
    for path in (Path(__file__).parents[2] / "harness/shipped/apps/demo/kubernetes").iterdir():
        (demo / "k8s" / path.name).write_text(path.read_text())
    result = invoke(str(demo / "k8s"))
    assert result.exit_code == 0, result.output
    profile = load_profile(demo / "chaos-app.yaml")  # beside the directory, named after the app's directory
    assert (profile.name, profile.model.entry.service, profile.model.entry.port) == ("demo", "web", 8080)
    assert profile.model.kubernetes.manifests == "k8s" and profile.model.stateful == ["db"]
    assert list(profile.model.releases) == ["v1", "next"]

    chart = starting_profile(EXAMPLES / "guestbook" / "chart", tmp_path / "gb.yaml")
    assert "name: guestbook\n" in chart and 'service: "app"' in chart and 'stateful: ["db"]' in chart
    assert re.search(r'kubernetes: \{chart: ".*examples/guestbook/chart"\}', chart)


def test_kubernetes_objects_without_a_deployment_are_refused_naming_what_they_hold(tmp_path):
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "db.yaml").write_text("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\n"
                                              "spec: {template: {spec: {containers: [{name: db, image: pg:15}]}}}\n")
    result = invoke(str(tmp_path / "k8s"))
    assert result.exit_code == 2 and "renders no Deployment" in result.output and "StatefulSet/db" in result.output


def test_init_from_a_chart_writes_a_workflow_on_the_kubernetes_engine(tmp_path):
    from harness.scaffold import WORKFLOW, project_files

    files = project_files(EXAMPLES / "guestbook" / "chart", tmp_path / "chaos")
    workflow = files[tmp_path / "chaos" / WORKFLOW]
    assert "chaos-harness --engine kubernetes setup" in workflow
    assert "chaos-harness --engine kubernetes run " in workflow
    compose = project_files(EXAMPLES / "guestbook" / "compose.yml", tmp_path / "chaos")[tmp_path / "chaos" / WORKFLOW]
    assert "chaos-harness setup" in compose and "--engine" not in compose


def test_the_entry_is_the_deployment_a_nodeport_or_loadbalancer_service_exposes(tmp_path):
    def deployment(name: str, port: int) -> str:
        return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  selector: {{matchLabels: "
                f"{{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: {{containers: "
                f"[{{name: {name}, image: 'shop/{name}:1.2', ports: [{{containerPort: {port}}}]}}]}}\n")
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "a-db.yaml").write_text(deployment("db", 5432))  # first, with a port, but not exposed
    (tmp_path / "k8s" / "b-vote.yaml").write_text(
        deployment("vote", 80) + "---\napiVersion: v1\nkind: Service\nmetadata: {name: vote}\nspec: {type: "
                                 "NodePort, selector: {app: vote}, ports: [{port: 8080, targetPort: 80}]}\n")
    text = starting_profile(tmp_path / "k8s", tmp_path / "app.yaml")
    assert 'service: "vote"' in text and "port: 80\n" in text and '"1.2":' in text
