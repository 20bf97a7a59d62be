"""An app's images on a fake engine: found or built (once), a broken release synthesised, pushes named by release."""

from __future__ import annotations

import threading

import pytest

from harness.app import App, load_profile
from harness.app.images import BROKEN_PROBE, LocalImages, check_sources, prepare
from harness.build import BUILD_HASH_LABEL, UPSTREAM_BASE, ImageBuilder
from harness.errors import EnvironmentProblem, ProfileError
from harness.testing import FakeDockerClient

COMPOSE = """\
services:
  web:
    image: shop/web:1
    expose: [8080]
  db:
    image: postgres:15
"""
PREBUILT = """\
name: shop
compose: compose.yml
releases:
  "1.0": {web: "shop/web:1"}
  "1.1": {web: "shop/web:2"}
entry: {service: web, port: 8080}
"""
BUILT = """\
name: shop
compose: compose.yml
releases:
  "1.0": {web: {image: "shop/web:1", build: {context: web, args: {RELEASE: "1.0"}}}}
  "1.1": {web: {image: "shop/web:2", build: {context: web, args: {RELEASE: "1.1"}}}}
entry: {service: web, port: 8080}
"""
HOST_IMAGES = {UPSTREAM_BASE: "sha256:base", "shop/web:1": "sha256:w1", "shop/web:2": "sha256:w2",
               "postgres:15": "sha256:pg"}


def profile(tmp_path, text=PREBUILT, compose=COMPOSE):
    (tmp_path / "compose.yml").write_text(compose)
    (tmp_path / "web").mkdir(exist_ok=True)
    (tmp_path / "web" / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nEXPOSE 8080\n")
    (tmp_path / "shop.yaml").write_text(text)
    return load_profile(tmp_path / "shop.yaml")


def error_of(call) -> str:
    with pytest.raises(ProfileError) as caught:
        call()
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_images_the_host_has_are_used_as_they_are(tmp_path):
    client = FakeDockerClient(HOST_IMAGES)
    images = prepare(profile(tmp_path), ImageBuilder(client))
    assert images == LocalImages("shop", {"1.0": {"web": "shop/web:1"}, "1.1": {"web": "shop/web:2"}},
                                 {"db": "postgres:15"})
    assert client.builds == []


def test_a_missing_image_without_a_build_section_names_where_the_profile_names_it(tmp_path):
    shop = profile(tmp_path)
    client = FakeDockerClient({UPSTREAM_BASE: "sha256:base", "shop/web:1": "sha256:w1"})
    message = error_of(lambda: prepare(shop, ImageBuilder(client)))
    assert message.startswith(f"{shop.path}: invalid app profile (2 problems)")  # every missing image at once
    assert ("  releases.1.1.web: got 'shop/web:2': no such image on this host's Docker engine, "
            "and no build section to make it") in message
    assert f"  {tmp_path / 'compose.yml'}: services.db.image: got 'postgres:15': no such image" in message


def test_validate_finds_the_missing_images_prepare_would_without_building_anything(tmp_path):
    shop = profile(tmp_path)
    client = FakeDockerClient({UPSTREAM_BASE: "sha256:base", "shop/web:1": "sha256:w1"})
    expected = error_of(lambda: prepare(shop, ImageBuilder(client)))
    assert error_of(lambda: check_sources(shop, ImageBuilder(client))) == expected
    check_sources(shop, ImageBuilder(FakeDockerClient(HOST_IMAGES)))  # all there: nothing to say
    assert client.builds == []


def test_a_build_context_is_built_once_and_skipped_while_its_inputs_are_unchanged(tmp_path):
    shop = profile(tmp_path, BUILT)
    client = FakeDockerClient(HOST_IMAGES)
    first = prepare(shop, ImageBuilder(client))
    assert first.releases == {"1.0": {"web": "shop/web:1"}, "1.1": {"web": "shop/web:2"}}
    assert [(b["tag"], b["buildargs"]) for b in client.builds] == [
        ("shop/web:1", {"BASE_IMAGE": UPSTREAM_BASE, "RELEASE": "1.0"}),
        ("shop/web:2", {"BASE_IMAGE": UPSTREAM_BASE, "RELEASE": "1.1"})]
    assert client.builds[0]["path"] == str(tmp_path / "web")
    hashes = {tag: client.labels[tag][BUILD_HASH_LABEL] for tag in ("shop/web:1", "shop/web:2")}
    assert hashes["shop/web:1"] != hashes["shop/web:2"]  # the build args are inputs

    prepare(shop, ImageBuilder(client))  # a later run: nothing changed
    assert len(client.builds) == 2

    (tmp_path / "web" / "app.py").write_text("print('changed')\n")
    prepare(shop, ImageBuilder(client))
    assert [b["tag"] for b in client.builds[2:]] == ["shop/web:1", "shop/web:2"]


def test_a_host_image_built_without_the_harness_label_is_rebuilt_from_its_context(tmp_path):
    client = FakeDockerClient(HOST_IMAGES)  # shop/web:1 exists, built by someone else
    prepare(profile(tmp_path, BUILT), ImageBuilder(client))
    assert {b["tag"] for b in client.builds} == {"shop/web:1", "shop/web:2"}


def test_a_build_context_that_is_no_directory_or_fails_to_build_is_a_profile_error(tmp_path):
    message = error_of(lambda: profile(tmp_path, BUILT.replace("context: web, args: {RELEASE: \"1.1\"}",
                                                               "context: nowhere")))  # refused before any build
    assert f"releases.1.1.web.build.context: got 'nowhere': no such directory (relative to {tmp_path})" in message
    failing = FakeDockerClient(HOST_IMAGES, [{"stream": "Step 1/3 : FROM base\n"}, {"error": "no space left"}])
    message = error_of(lambda: prepare(profile(tmp_path, BUILT), ImageBuilder(failing)))
    assert "releases.1.0.web: got 'shop/web:1': building image shop/web:1 failed: no space left" in message


def test_the_broken_release_is_the_new_one_with_a_health_check_that_never_passes(tmp_path):
    client = FakeDockerClient(HOST_IMAGES)
    images = prepare(profile(tmp_path), ImageBuilder(client), broken_from="1.1")
    assert images.releases["broken"] == {"web": "chaos-harness/shop-web:broken"}
    dockerfile = client.dockerfiles["chaos-harness/shop-web:broken"]
    assert dockerfile.splitlines()[:2] == ["# synthesised from sha256:w2", "FROM shop/web:2"]
    (healthcheck,) = [line for line in dockerfile.splitlines() if line.startswith("HEALTHCHECK")]
    assert healthcheck.endswith(f'CMD ["{BROKEN_PROBE}"]')
    assert "path" not in client.builds[-1]  # no build context: only the Dockerfile

    prepare(profile(tmp_path), ImageBuilder(client), broken_from="1.1")
    assert len(client.builds) == 1  # the same new image: not built again
    client.known["shop/web:2"] = "sha256:w2-rebuilt"
    prepare(profile(tmp_path), ImageBuilder(client), broken_from="1.1")
    assert len(client.builds) == 2 and "sha256:w2-rebuilt" in client.dockerfiles["chaos-harness/shop-web:broken"]


def test_pushes_tag_upgraded_images_by_release_and_the_others_as_the_stack(tmp_path):
    images = prepare(profile(tmp_path), ImageBuilder(FakeDockerClient(HOST_IMAGES)), broken_from="1.1")
    assert images.pushes() == [("shop/web:1", "shop/web", "1.0"), ("shop/web:2", "shop/web", "1.1"),
                               ("chaos-harness/shop-web:broken", "shop/web", "broken"),
                               ("postgres:15", "shop/db", "stack")]


def test_repositories_are_pushed_side_by_side_and_the_tags_of_one_repository_in_order(tmp_path):
    images = prepare(profile(tmp_path), ImageBuilder(FakeDockerClient(HOST_IMAGES)), broken_from="1.1")
    both_started = threading.Barrier(2, timeout=5)  # broken if shop/web and shop/db were pushed one after the other
    pushed = []

    def push_one(local, repo, tag):
        if tag in ("1.0", "stack"):
            both_started.wait()
        pushed.append((local, repo, tag))

    App(profile(tmp_path), images).push(push_one)
    assert sorted(pushed) == sorted(images.pushes())
    assert [p for p in pushed if p[1] == "shop/web"] == [p for p in images.pushes() if p[1] == "shop/web"]


def test_a_failed_push_fails_the_whole_push_once_the_others_finished(tmp_path):
    images = prepare(profile(tmp_path), ImageBuilder(FakeDockerClient(HOST_IMAGES)))
    pushed = []

    def push_one(local, repo, tag):
        if repo == "shop/web":
            raise EnvironmentProblem(f"pushing {repo}:{tag} failed: no space left")
        pushed.append(repo)

    with pytest.raises(EnvironmentProblem, match="shop/web:1.0 failed"):
        App(profile(tmp_path), images).push(push_one)
    assert pushed == ["shop/db"]


def test_an_app_synthesises_the_broken_release_only_when_a_scenario_asks_for_it(tmp_path):
    shop, client = profile(tmp_path), FakeDockerClient(HOST_IMAGES)
    assert set(App.prepare(shop, ImageBuilder(client), ["old", "new"]).images.releases) == {"1.0", "1.1"}
    assert set(App.prepare(shop, ImageBuilder(client), ["1.0", "broken"]).images.releases) == {"1.0", "1.1", "broken"}
    with pytest.raises(ProfileError, match="asks for release 'v3-broken'"):
        App.prepare(shop, ImageBuilder(client), ["old", "v3-broken"])


def test_without_a_port_in_the_compose_file_the_entry_image_must_expose_the_entry_port(tmp_path):
    compose = COMPOSE.replace("    expose: [8080]\n", "")
    shop = profile(tmp_path, compose=compose)
    exposing_3000 = FakeDockerClient(HOST_IMAGES, exposed={"shop/web:1": [3000]})
    message = error_of(lambda: prepare(shop, ImageBuilder(exposing_3000)))
    assert message == (f"{shop.path}: entry.port: got 8080: the image of web exposes 3000, and the compose file "
                       "declares no port")
    exposing_8080 = FakeDockerClient(HOST_IMAGES, exposed={"shop/web:1": [8080, 9090]})
    assert prepare(shop, ImageBuilder(exposing_8080)).releases["1.0"] == {"web": "shop/web:1"}
    assert prepare(shop, ImageBuilder(FakeDockerClient(HOST_IMAGES))).base == {"db": "postgres:15"}  # none: trusted


def test_a_kubernetes_container_whose_image_a_compose_service_builds_is_made_by_that_build(tmp_path):
    """A new user's profile: the chart's redis container runs the image its compose service builds. validate
    refused it ("no build section to make it") where run built it."""
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "app.yaml").write_text(
        "".join(f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  selector: "
                f"{{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: "
                f"{{containers: [{{name: {name}, image: '{image}', ports: [{{containerPort: 8080}}]}}]}}\n"
                for name, image in (("web", "shop/web:1"), ("db", "shop/db:1"))))
    shop = profile(tmp_path, PREBUILT.replace("compose: compose.yml", "compose: compose.yml\nkubernetes: "
                                                                      "{manifests: k8s}"),
                   COMPOSE.replace("    image: postgres:15", "    image: shop/db:1\n    build: db"))
    check_sources(shop, ImageBuilder(FakeDockerClient(HOST_IMAGES)))  # shop/db:1 is not there, but built
