"""The image builder: content-hash tags, skipped rebuilds, streamed steps and build errors, on a fake engine."""

from __future__ import annotations

import pytest

from harness.build import UPSTREAM_BASE, ImageBuilder, ImageSpec
from harness.errors import HarnessError
from harness.testing import FakeDockerClient

LB = ImageSpec("lb", {"HAPROXY_LOG": "warning"})  # a harness image: its context is under harness/dockerfiles
STEPS = [{"stream": "Step 1/2 : FROM base\n"}, {"stream": " ---> abc\n"}, {"stream": "Step 2/2 : COPY app.py /app/\n"}]


def test_each_dockerfile_step_is_reported_as_it_starts_and_the_image_is_tagged_by_content():
    client = FakeDockerClient({UPSTREAM_BASE: "sha256:base"}, STEPS)
    lines: list[str] = []
    tag = ImageBuilder(client, lines.append).build(LB)
    assert tag == f"chaos-harness/lb:{LB.content_hash('sha256:base')}"
    assert lines == [f"building {tag}", "  lb Step 1/2 : FROM base", "  lb Step 2/2 : COPY app.py /app/"]
    assert client.builds[0]["buildargs"] == {"BASE_IMAGE": UPSTREAM_BASE, "HAPROXY_LOG": "warning"}
    assert LB.content_hash("sha256:other") != LB.content_hash("sha256:base")  # a new base means a new tag


def test_an_image_whose_inputs_did_not_change_is_not_rebuilt():
    client = FakeDockerClient({UPSTREAM_BASE: "sha256:base"}, STEPS)
    builder = ImageBuilder(client)
    assert builder.build(LB) == builder.build(LB)
    assert len(client.builds) == 1


def test_a_failed_step_raises_with_the_engine_error_and_the_log_tail():
    failing = STEPS[:1] + [{"stream": "E: Unable to locate package nope\n"},
                           {"error": "The command '/bin/sh -c apt-get install nope' returned a non-zero code: 100"}]
    client = FakeDockerClient({UPSTREAM_BASE: "sha256:base"}, failing)
    with pytest.raises(HarnessError) as raised:
        ImageBuilder(client).build(LB)
    message = str(raised.value)
    assert "returned a non-zero code: 100" in message and "Unable to locate package nope" in message
