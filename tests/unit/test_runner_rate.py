"""The rate a run loads the app at: the scenario's, unless the app profile sets its own."""

from __future__ import annotations

from harness.app import DEFAULT_PROFILE, App, load_profile
from harness.app.images import LocalImages
from harness.runner import _at_app_rate
from harness.scenario import Scenario


def app_with(rate: float | None) -> App:
    profile = load_profile(DEFAULT_PROFILE)
    model = profile.model.model_copy(update={"load": profile.model.load.model_copy(update={"rate": rate})})
    return App(type(profile)(model, profile.path, profile.compose, profile.warnings), LocalImages("demo", {}, {}))


def test_the_scenario_rate_holds_unless_the_profile_sets_one():
    scenario = Scenario(name="s", load={"rate": 50})
    assert _at_app_rate(scenario, app_with(None)).load.rate == 50
    slower = _at_app_rate(scenario, app_with(15))
    assert slower.load.rate == 15 and slower.load.timeout == scenario.load.timeout and slower.name == "s"
