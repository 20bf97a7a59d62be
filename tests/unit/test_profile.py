"""App profiles: every problem named with file, key and value, before anything starts; warnings for what changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.app import DEFAULT_PROFILE, load_profile
from harness.cli import main
from harness.errors import ProfileError

GUESTBOOK = Path(__file__).parents[2] / "examples" / "guestbook" / "guestbook.yaml"
COMPOSE = {"version": "3.8",
           "services": {"web": {"image": "shop/web:1", "expose": [8080]},
                        "db": {"image": "postgres:15", "volumes": ["pgdata:/var/lib/postgresql/data"]}},
           "volumes": {"pgdata": {}}}
PROFILE = {"name": "shop", "compose": "compose.yml",
           "releases": {"1.0": {"web": "shop/web:1"}, "1.1": {"web": "shop/web:2"}},
           "entry": {"service": "web", "port": 8080}, "stateful": ["db"]}


def write(tmp_path, profile=None, compose=None, **changes):
    """A profile (PROFILE with ``changes``) and its compose file in tmp_path; the profile's path."""
    if compose is not False:
        (tmp_path / "compose.yml").write_text(yaml.safe_dump(compose or COMPOSE, sort_keys=False))
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump({**(profile or PROFILE), **changes}, sort_keys=False))
    return path


def error_of(path) -> str:
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid app profile")
    return message


def problems(message: str) -> dict[str, str]:
    """Key path -> the rest of its line (got <value>: why), one per problem line."""
    lines = [line.strip() for line in message.splitlines()[1:]]
    return dict(line.split(": got ", 1) for line in lines)


def test_the_demo_profile_is_valid_and_upgrades_web_from_v1_to_v2():
    profile = load_profile(DEFAULT_PROFILE)
    assert profile.name == "demo" and profile.upgraded == ("web",)
    assert (profile.release_name("old"), profile.release_name("new")) == ("v1", "v2")
    assert profile.model.entry.port == 8080 and profile.model.entry.health.path == "/healthz"
    assert profile.model.stateful == ["db"] and profile.model.writes is not None
    assert set(profile.compose["services"]) == {"web", "db"}
    assert profile.path == DEFAULT_PROFILE.resolve()
    assert profile.relative("demo/web") == DEFAULT_PROFILE.parent / "demo" / "web"


def test_the_demo_release_ready_too_early_is_v2_with_a_warm_up_and_neither_old_nor_new():
    profile = load_profile(DEFAULT_PROFILE)
    assert list(profile.model.releases) == ["v1", "v2-warmup", "v2"]
    warmup = profile.model.releases["v2-warmup"]["web"].build
    assert warmup.args == {"APP_VERSION": "v2-warmup", "APP_WARMUP": "15"}
    assert warmup.context == profile.model.releases["v2"]["web"].build.context  # the same Dockerfile
    assert all("APP_WARMUP" not in profile.model.releases[r]["web"].build.args for r in ("v1", "v2"))
    assert profile.release_name("v2-warmup") == "v2-warmup"


@pytest.mark.skipif(not GUESTBOOK.exists(), reason="the guestbook example has no profile yet")
def test_the_guestbook_profile_is_valid_and_names_its_releases_by_number():
    profile = load_profile(GUESTBOOK)
    assert profile.name == "guestbook" and profile.upgraded == ("app",)
    assert (profile.release_name("old"), profile.release_name("new")) == ("1.0", "1.1")
    assert profile.model.entry.service == "app" and profile.model.entry.health.path == "/status"
    assert "{id}" in profile.model.writes.write.body


def test_a_valid_profile_reads_its_compose_file_relative_to_itself(tmp_path):
    profile = load_profile(write(tmp_path))
    assert profile.compose == COMPOSE
    assert profile.warnings == ()
    assert profile.relative("compose.yml") == (tmp_path / "compose.yml").resolve()


def test_a_missing_compose_file_names_the_key_and_the_path(tmp_path):
    path = write(tmp_path, compose=False)
    found = problems(error_of(path))
    assert list(found) == ["compose"]
    assert found["compose"].startswith(f"'compose.yml': {tmp_path / 'compose.yml'}: cannot read the compose file")


def test_a_compose_file_of_version_2_names_the_compose_file_and_its_version_key(tmp_path):
    message = error_of(write(tmp_path, compose={**COMPOSE, "version": "2.4"}))
    found = problems(message)
    assert list(found) == [f"{tmp_path / 'compose.yml'}: version"]
    assert found[f"{tmp_path / 'compose.yml'}: version"].startswith("'2.4': Swarm deploys compose files of version 3.x")


def test_a_release_naming_a_service_the_compose_file_lacks_lists_the_services_there_are(tmp_path):
    releases = {"1.0": {"web": "shop/web:1", "api": "shop/api:1"}, "1.1": {"web": "shop/web:2", "api": "shop/api:2"}}
    found = problems(error_of(write(tmp_path, releases=releases)))
    assert found == {f"releases.{r}.api": "'api': the compose file has no such service; it has web, db"
                     for r in ("1.0", "1.1")}


def test_a_stateful_service_the_compose_file_lacks_is_named_by_index(tmp_path):
    found = problems(error_of(write(tmp_path, stateful=["db", "cache"])))
    assert found == {"stateful.1": "'cache': the compose file has no such service; it has web, db"}


def test_an_entry_port_the_compose_file_does_not_expose_says_which_ports_it_does(tmp_path):
    found = problems(error_of(write(tmp_path, entry={"service": "web", "port": 9000})))
    assert found == {"entry.port": "9000: service web exposes 8080 in the compose file, not this port"}


def test_a_published_port_counts_as_exposed(tmp_path):
    compose = {**COMPOSE, "services": {**COMPOSE["services"], "web": {"image": "shop/web:1", "ports": ["80:8080"]}}}
    assert load_profile(write(tmp_path, compose=compose)).model.entry.port == 8080
    found = problems(error_of(write(tmp_path, compose=compose, entry={"service": "web", "port": 80})))
    assert found == {"entry.port": "80: service web exposes 8080 in the compose file, not this port"}


def test_the_entry_must_be_an_upgraded_service(tmp_path):
    found = problems(error_of(write(tmp_path, entry={"service": "db", "port": 5432})))
    assert list(found) == ["entry.service"]
    assert found["entry.service"].startswith("'db': the entry must be a service the releases upgrade (web)")


def test_an_entry_service_the_compose_file_lacks_is_named(tmp_path):
    found = problems(error_of(write(tmp_path, entry={"service": "frontend", "port": 80})))
    assert found == {"entry.service": "'frontend': the compose file has no such service; it has web, db"}


def test_a_compose_service_without_an_image_names_the_compose_file_and_the_service(tmp_path):
    compose = {**COMPOSE, "services": {**COMPOSE["services"], "db": {"build": "db"}}}
    found = problems(error_of(write(tmp_path, compose=compose)))
    assert found == {f"{tmp_path / 'compose.yml'}: services.db.image": "nothing: this key is required"}


def test_a_release_called_broken_is_refused(tmp_path):
    releases = {**PROFILE["releases"], "broken": {"web": "shop/web:3"}}
    message = error_of(write(tmp_path, releases=releases))
    assert "a release may not be called 'broken': the harness synthesises that one" in message


def test_a_release_called_broken_is_named_by_its_key_path(tmp_path):
    releases = {**PROFILE["releases"], "broken": {"web": "shop/web:3"}}
    (key, rest), = problems(error_of(write(tmp_path, releases=releases))).items()
    assert key in ("releases", "releases.broken")
    assert "'name': 'shop'" not in rest  # the value is the releases, not the whole profile


def test_releases_that_upgrade_different_services_are_refused(tmp_path):
    releases = {"1.0": {"web": "shop/web:1"}, "1.1": {"web": "shop/web:2", "db": "postgres:16"}}
    message = error_of(write(tmp_path, releases=releases))
    assert "every release must name the same, non-empty set of services" in message
    assert "'postgres:16'" in message  # the bad value is shown


def test_releases_that_upgrade_different_services_are_named_by_their_key_path(tmp_path):
    releases = {"1.0": {"web": "shop/web:1"}, "1.1": {"web": "shop/web:2", "db": "postgres:16"}}
    (key, _), = problems(error_of(write(tmp_path, releases=releases))).items()
    assert key.startswith("releases")


def test_a_write_probe_without_the_id_is_refused(tmp_path):
    writes = {"write": {"name": "w", "method": "POST", "path": "/entries", "body": '{"text": "x"}'},
              "read": {"name": "r", "path": "/entries/{id}"}}
    found = problems(error_of(write(tmp_path, writes=writes)))
    assert list(found) == ["writes"]
    assert "'/entries'" in found["writes"]
    assert found["writes"].endswith("the write must carry {id} in its path, body or headers, or capture what the "
                                    "server assigned (write.capture)")
    readback = {**writes, "write": {**writes["write"], "path": "/entries/{id}"}, "read": {"path": "/entries"}}
    assert problems(error_of(write(tmp_path, writes=readback)))["writes"].endswith(
        "otherwise it reads the same thing for every write")
    unknown = {**readback, "read": {"path": "/entries/{captured.id}"}}
    assert problems(error_of(write(tmp_path, writes=unknown)))["writes"].endswith(
        "the read names {captured.id}; the write captures nothing")


def test_an_id_in_the_body_is_enough_for_the_write(tmp_path):
    writes = {"write": {"method": "POST", "path": "/entries", "body": '{"id": "{id}"}'},
              "read": {"path": "/entries/{id}"}}
    assert load_profile(write(tmp_path, writes=writes)).model.writes.write.method == "POST"


def test_an_unknown_key_lists_the_keys_allowed_there(tmp_path):
    found = problems(error_of(write(tmp_path, entrypoint="web")))
    assert found == {"entrypoint": "'web': unknown key; allowed here: compose, description, entry, kubernetes, load, "
                                   "name, releases, stateful, writes"}
    nested = problems(error_of(write(tmp_path, entry={"service": "web", "port": 8080, "healthz": "/"})))
    assert nested == {"entry.healthz": "'/': unknown key; allowed here: health, port, service"}
    in_release = problems(error_of(write(tmp_path, releases={"1.0": {"web": {"image": "a:1", "tag": "x"}},
                                                             "1.1": {"web": "a:2"}})))
    assert in_release == {"releases.1.0.web.tag": "'x': unknown key; allowed here: build, image"}


def test_every_problem_of_the_profile_is_reported_at_once(tmp_path):
    message = error_of(write(tmp_path, name="Shop!", entry={"service": "web", "port": 0}))
    assert "(2 problems)" in message
    assert set(problems(message)) == {"name", "entry.port"}


def test_every_problem_the_compose_file_shows_is_reported_at_once(tmp_path):
    message = error_of(write(tmp_path, entry={"service": "web", "port": 9000}, stateful=["cache"]))
    assert "(2 problems)" in message
    assert set(problems(message)) == {"stateful.0", "entry.port"}


def test_a_release_name_must_be_usable_as_an_image_tag(tmp_path):
    found = problems(error_of(write(tmp_path, releases={"1 0": {"web": "a:1"}, "1.1": {"web": "a:2"}})))
    assert list(found) == ["releases.1 0.[key]"]
    assert found["releases.1 0.[key]"].startswith("'1 0': String should match pattern")


def test_what_swarm_or_the_harness_changes_is_a_warning_not_an_error(tmp_path):
    web = {"image": "shop/web:1", "ports": ["8080:8080"], "depends_on": ["db"], "container_name": "shop-web"}
    compose = {**COMPOSE, "services": {**COMPOSE["services"], "web": web}}
    warnings = load_profile(write(tmp_path, compose=compose)).warnings
    assert len(warnings) == 3
    assert [w.split(" ", 2)[1] for w in warnings] == ["services.web.depends_on", "services.web.container_name",
                                                     "services.web.ports"]
    assert all(w.startswith("compose.yml: ") for w in warnings)
    assert all(" ignored: " in w for w in warnings[:2])
    assert "not published" in warnings[2] and "load balancer" in warnings[2]
    (tmp_path / "web").mkdir()
    built = {**compose, "services": {**compose["services"], "web": {**web, "build": "web"}}}
    said = load_profile(write(tmp_path, compose=built)).warnings  # a new user read "build is ignored" as unused
    assert "compose.yml: services.web.build is used by the harness, not by Swarm: the image is built on this host" \
        in " ".join(said) and not any("build is ignored" in w for w in said)


def test_a_profile_that_is_no_mapping_or_no_yaml_is_a_profile_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("- a\n- list\n")
    with pytest.raises(ProfileError, match="is a mapping of keys"):
        load_profile(path)
    path.write_text("name: [unclosed\n")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(path)
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "missing.yaml")


def test_release_names_and_roles(tmp_path):
    releases = {"1.0": {"web": "a:1"}, "1.1": {"web": "a:2"}, "2.0": {"web": "a:3"}}
    profile = load_profile(write(tmp_path, releases=releases))
    assert [profile.release_name(r) for r in ("old", "new", "broken", "1.1")] == ["1.0", "2.0", "broken", "1.1"]
    with pytest.raises(ProfileError, match=r"asks for release 'v9'; this profile has 1.0, 1.1, 2.0 "
                                           r"\(or use the roles old, new, broken\)") as unknown:
        profile.release_name("v9")
    assert str(unknown.value).startswith(f"{profile.path}: releases:")
    single = load_profile(write(tmp_path, releases={"1.0": {"web": "a:1"}}))
    assert single.release_name("old") == "1.0"
    with pytest.raises(ProfileError, match=r"has one release \(1.0\); an upgrade to `new` needs a second one"):
        single.release_name("new")


def test_the_upgraded_services_follow_the_compose_order(tmp_path):
    compose = {**COMPOSE, "services": {"web": {"image": "w", "expose": [8080]}, "worker": {"image": "k"},
                                       "db": {"image": "d"}}}
    releases = {"1.0": {"worker": "k:1", "web": "w:1"}, "1.1": {"worker": "k:2", "web": "w:2"}}
    assert load_profile(write(tmp_path, compose=compose, releases=releases)).upgraded == ("web", "worker")


@pytest.mark.parametrize("service, top_level", [
    ({"image": "shop/web:1", "expose": [8080], "env_file": ["web.env"]}, {}),
    ({"image": "shop/web:1", "expose": [8080], "configs": ["site"]}, {"configs": {"site": {"file": "site.conf"}}}),
], ids=["env_file", "config"])
def test_a_file_the_compose_file_refers_to_must_exist(tmp_path, service, top_level):
    compose = {**COMPOSE, "services": {**COMPOSE["services"], "web": service}, **top_level}
    message = error_of(write(tmp_path, compose=compose))
    assert f"{tmp_path / 'compose.yml'}: " in message
    assert "web.env" in message or "site.conf" in message


@pytest.mark.parametrize("spec", [None, "postgres:15"], ids=["empty", "string"])
def test_a_compose_service_that_is_no_mapping_is_a_problem_not_a_crash(tmp_path, spec):
    compose = {**COMPOSE, "services": {**COMPOSE["services"], "db": spec}}
    found = problems(error_of(write(tmp_path, compose=compose)))
    assert f"{tmp_path / 'compose.yml'}: services.db" in found


def test_a_compose_file_gets_the_loaders_guards_duplicate_keys_and_alias_bombs(tmp_path):
    path = write(tmp_path)
    (tmp_path / "compose.yml").write_text("services:\n  web: {image: a}\nservices:\n  web: {image: b}\n")
    assert "duplicate key 'services'" in problems(error_of(path))["compose"]
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    (tmp_path / "compose.yml").write_text(bomb)
    assert "compose.yml" in problems(error_of(path))["compose"]


@pytest.mark.parametrize("engine, shown, hidden", [("kubernetes", "demo/kubernetes:", "demo/compose.yml:"),
                                                   ("swarm", "demo/compose.yml:", "demo/kubernetes:")])
def test_the_notes_shown_are_those_of_the_form_the_engine_deploys(tmp_path, engine, shown, hidden):
    result = CliRunner().invoke(main, ["--engine", engine, "validate", "--app", "demo"],
                                env={"CHAOS_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"note: {shown}" in said and f"note: {hidden}" not in said

