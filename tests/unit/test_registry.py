"""Pushing into the cluster's registry: what it holds already is not pushed again."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from docker.errors import ImageNotFound
from requests.structures import CaseInsensitiveDict

from harness.cluster import registry as registry_module
from harness.cluster.registry import MANIFEST_TYPES, Registry
from harness.errors import EnvironmentProblem
from harness.http import Answer

IMAGE_ID = "sha256:c0ffee"


class FakeImages:
    """docker-py's ``client.images``: one local image; tags and pushes recorded, pushes answered from ``output``."""

    def __init__(self, output: list[dict], held: dict[str, str] | None = None) -> None:
        self.output = output
        self.held = held or {}  # a push tag left on this machine before -> the image that carries it
        self.tagged: list[tuple[str, str]] = []
        self.given_back: list[tuple[str, str, str]] = []
        self.pushed: list[tuple[str, str]] = []
        self.removed: list[str] = []

    def get(self, name: str) -> SimpleNamespace:
        if name.startswith("127.0.0.1:"):  # a push tag: carried by an image only where one was left before
            if name not in self.held:
                raise ImageNotFound(name)
            other = self.held[name]
            return SimpleNamespace(id=other, tag=lambda repository, tag: self.given_back.append((other, repository, tag)))
        return SimpleNamespace(id=IMAGE_ID, tags=[name], tag=lambda repository, tag: self.tagged.append((repository, tag)))

    def push(self, repository: str, tag: str, stream: bool, decode: bool) -> list[dict]:
        self.pushed.append((repository, tag))
        return self.output

    def remove(self, name: str, noprune: bool) -> None:
        self.removed.append(name)


def registry_answering(monkeypatch, answer: Answer | None, output: list[dict] | None = None,
                       held: dict[str, str] | None = None):
    """A registry on port 5555 whose manifest request gets ``answer``; returns it, its images and the requests."""
    asked: list[tuple[str, dict]] = []

    class FakeHttp:
        def __init__(self, base_url: str) -> None:
            assert base_url == "http://127.0.0.1:5555"

        def get(self, path: str, headers: dict) -> Answer | None:
            asked.append((path, headers))
            return answer

    monkeypatch.setattr(registry_module, "HttpClient", FakeHttp)
    images = FakeImages(output if output is not None else [{"status": "Pushed"}], held)
    return Registry(SimpleNamespace(images=images), "c", "c-net", 5555), images, asked


def manifest(config_digest: str) -> Answer:
    body = json.dumps({"schemaVersion": 2, "config": {"digest": config_digest}, "layers": []}).encode()
    return Answer(200, CaseInsensitiveDict(), body)


def test_an_image_the_registry_holds_under_that_tag_is_not_pushed_again(monkeypatch):
    registry, images, asked = registry_answering(monkeypatch, manifest(IMAGE_ID))
    assert registry.push("demo/web:v1", "demo/web", "v1") == "registry:5000/chaos/demo/web:v1"
    assert images.pushed == [] and images.tagged == []
    assert asked == [("/v2/chaos/demo/web/manifests/v1", {"Accept": MANIFEST_TYPES})]


@pytest.mark.parametrize("answer", [manifest("sha256:other"), Answer(404), None,
                                    Answer(200, CaseInsensitiveDict(), b'{"schemaVersion": 1}')],
                         ids=["another image", "no such tag", "no answer", "a manifest without a config"])
def test_an_image_the_registry_may_not_hold_is_pushed(monkeypatch, answer):
    registry, images, _ = registry_answering(monkeypatch, answer)
    assert registry.push("demo/web:v1", "demo/web", "v1") == "registry:5000/chaos/demo/web:v1"
    assert images.tagged == [("127.0.0.1:5555/chaos/demo/web", "v1")]
    assert images.pushed == [("127.0.0.1:5555/chaos/demo/web", "v1")]
    assert images.removed == ["127.0.0.1:5555/chaos/demo/web:v1"]  # the push tag lives only while it is pushed


def test_a_push_the_registry_refuses_is_an_environment_problem(monkeypatch):
    registry, images, _ = registry_answering(monkeypatch, None, [{"status": "Preparing"}, {"error": "disk full"}])
    with pytest.raises(EnvironmentProblem, match="pushing 127.0.0.1:5555/chaos/demo/web:v1 failed: disk full"):
        registry.push("demo/web:v1", "demo/web", "v1")
    assert images.removed == ["127.0.0.1:5555/chaos/demo/web:v1"]


@pytest.mark.parametrize("holder, removed, given_back", [
    (IMAGE_ID, [], []), ("sha256:older", [], [("sha256:older", "127.0.0.1:5555/chaos/demo/web", "v1")])],
    ids=["on this image", "on an older build"])
def test_a_push_tag_left_before_is_there_again_after_the_push(monkeypatch, holder, removed, given_back):
    """An earlier run's push tag (a run killed mid-push, or one on an image since rebuilt) is left as it was: the
    machine's fingerprint from before up must match after down."""
    registry, images, _ = registry_answering(monkeypatch, Answer(404),
                                             held={"127.0.0.1:5555/chaos/demo/web:v1": holder})
    registry.push("demo/web:v1", "demo/web", "v1")
    assert images.pushed == [("127.0.0.1:5555/chaos/demo/web", "v1")]
    assert images.removed == removed and images.given_back == given_back
