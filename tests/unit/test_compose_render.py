"""The compose documents the harness deploys: the user's stack from the cluster registry, behind the harness's LB."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from harness.app import DEFAULT_PROFILE, load_profile
from harness.engine.kubernetes.engine import KubernetesEngine
from harness.stack.compose import StackOptions, blue, green, haproxy_config

OPTIONS = StackOptions(registry="registry:5000", lb_image="registry:5000/chaos/harness/lb:abc")
DEMO = load_profile(DEFAULT_PROFILE)
SHOP_COMPOSE = """\
version: "3.8"
services:
  api:
    image: shop/api:1
    build: api
    env_file: [api.env]
    environment:
      MODE: prod
      LOG_LEVEL: debug
    configs:
      - {source: nginx, target: /etc/nginx/nginx.conf}
    secrets: [token]
    networks: [backend]
    ports: ["9000:9000"]
    deploy:
      replicas: 5
  db:
    image: postgres:15
    networks: [backend]
    volumes: ["pgdata:/var/lib/postgresql/data"]
    deploy:
      placement:
        constraints: ["node.platform.os == linux"]
networks:
  backend:
    driver: bridge
volumes:
  pgdata: {}
configs:
  nginx:
    file: ./nginx.conf
secrets:
  token:
    file: ./token.txt
"""
SHOP_PROFILE = """\
name: shop
compose: compose.yml
releases:
  "1.0": {api: "shop/api:1"}
  "1.1": {api: "shop/api:2"}
entry: {service: api, port: 9000, health: {path: /ready, status: [200, 204]}}
stateful: [db]
"""
NGINX_CONF = b"worker_processes 1;\n"


@pytest.fixture
def shop(tmp_path):
    (tmp_path / "compose.yml").write_text(SHOP_COMPOSE)
    (tmp_path / "api.env").write_text("# the file's own comment\nLOG_LEVEL=info\nTOKEN_FILE = /run/secrets/token\n\n")
    (tmp_path / "nginx.conf").write_bytes(NGINX_CONF)
    (tmp_path / "token.txt").write_bytes(b"s3cret\n")
    (tmp_path / "shop.yaml").write_text(SHOP_PROFILE)
    return load_profile(tmp_path / "shop.yaml")


def document(rendered):
    return yaml.safe_load(rendered.compose)


def content_name(kind, data):
    return f"chaos-{kind}-{hashlib.sha256(data).hexdigest()[:16]}"


def test_blue_pulls_every_image_from_the_cluster_registry_the_upgraded_ones_by_release():
    services = document(blue(DEMO, "v1", OPTIONS))["services"]
    assert list(services) == ["web", "db", "harness-lb"]
    assert services["web"]["image"] == "registry:5000/chaos/demo/web:v1"
    assert services["db"]["image"] == "registry:5000/chaos/demo/db:stack"  # no release changes it
    assert services["harness-lb"]["image"] == OPTIONS.lb_image
    authenticated = StackOptions(registry="registry:5443")
    assert document(blue(DEMO, "v2", authenticated))["services"]["web"]["image"] == \
        "registry:5443/chaos/demo/web:v2"


def test_blue_uses_dnsrr_everywhere_and_publishes_only_the_load_balancers_ports():
    services = document(blue(DEMO, "v1", OPTIONS))["services"]
    assert {name: s["deploy"]["endpoint_mode"] for name, s in services.items()} == dict.fromkeys(services, "dnsrr")
    assert [name for name, s in services.items() if "ports" in s] == ["harness-lb"]
    assert services["harness-lb"]["ports"] == [
        {"target": 8080, "published": 8080, "protocol": "tcp", "mode": "host"},
        {"target": 9999, "published": 9999, "protocol": "tcp", "mode": "host"}]
    for dropped in ("build", "depends_on", "ports"):
        assert dropped not in services["web"], dropped


def test_the_scenarios_replicas_apply_to_upgraded_services_and_the_rest_of_the_spec_is_kept():
    options = StackOptions(registry="registry:5000", replicas=5)
    services = document(blue(DEMO, "v1", options))["services"]
    assert services["web"]["deploy"]["replicas"] == 5
    assert services["web"]["deploy"]["restart_policy"] == {"condition": "any", "delay": "2s"}
    assert services["web"]["environment"]["DB_HOST"] == "db"
    assert services["db"]["volumes"] == ["dbdata:/data"]
    assert "replicas" not in services["db"]["deploy"]
    assert services["harness-lb"]["deploy"]["replicas"] == 1


def test_a_stateful_service_is_pinned_to_the_labelled_node_or_floats_over_the_workers(shop):
    pinned = document(blue(DEMO, "v1", OPTIONS))["services"]
    assert pinned["db"]["deploy"]["placement"]["constraints"] == ["node.labels.chaos.stateful == true"]
    assert "placement" not in pinned["web"]["deploy"]
    floating = StackOptions(registry="registry:5000", stateful_placement="floating")
    assert document(blue(DEMO, "v1", floating))["services"]["db"]["deploy"]["placement"]["constraints"] == \
        ["node.role == worker"]
    own = document(blue(shop, "1.0", OPTIONS))["services"]["db"]["deploy"]["placement"]["constraints"]
    assert own == ["node.platform.os == linux", "node.labels.chaos.stateful == true"]  # the user's kept


def test_the_load_balancer_config_is_a_content_named_engine_object_the_lb_mounts():
    rendered = blue(DEMO, "v1", OPTIONS)
    config = haproxy_config(DEMO, OPTIONS).encode()
    (lb_config,) = rendered.objects
    assert (lb_config.kind, lb_config.name, lb_config.data) == ("config", content_name("config", config), config)
    doc = document(rendered)
    assert doc["configs"]["harness-lb-cfg"] == {"external": True, "name": lb_config.name}
    assert doc["services"]["harness-lb"]["configs"] == [{"source": "harness-lb-cfg",
                                                         "target": "/etc/haproxy/haproxy.cfg"}]
    assert doc["services"]["harness-lb"]["deploy"]["placement"]["constraints"] == ["node.labels.chaos.lb == true"]
    assert doc["volumes"] == {"dbdata": {}} and doc["networks"] == {"default": {}}


def test_green_is_only_the_upgraded_services_at_the_new_release_on_blues_networks():
    rendered = green(DEMO, "v2", OPTIONS)
    doc = document(rendered)
    assert list(doc["services"]) == ["web"]
    web = doc["services"]["web"]
    assert web["image"] == "registry:5000/chaos/demo/web:v2"
    assert web["networks"] == ["default"] and web["deploy"]["endpoint_mode"] == "dnsrr"
    assert doc["networks"] == {"default": {"external": True, "name": "chaos_default"}}
    assert "ports" not in web
    assert rendered.objects == ()  # the LB's config belongs to blue


def test_green_publishes_the_entry_port_on_the_hosts_only_when_asked():
    web = document(green(DEMO, "v2", OPTIONS, publish=8081))["services"]["web"]
    assert web["ports"] == [{"target": 8080, "published": 8081, "protocol": "tcp", "mode": "host"}]


def test_env_files_are_inlined_under_the_services_own_environment(shop):
    api = document(blue(shop, "1.0", OPTIONS))["services"]["api"]
    assert "env_file" not in api
    assert api["environment"] == {"LOG_LEVEL": "debug", "TOKEN_FILE": "/run/secrets/token", "MODE": "prod"}


def test_configs_and_secrets_from_files_become_external_content_named_objects(shop):
    rendered = blue(shop, "1.0", OPTIONS)
    objects = {o.name: o for o in rendered.objects}
    nginx, token = content_name("config", NGINX_CONF), content_name("secret", b"s3cret\n")
    assert (objects[nginx].kind, objects[nginx].data) == ("config", NGINX_CONF)
    assert (objects[token].kind, objects[token].data) == ("secret", b"s3cret\n")
    doc = document(rendered)
    assert doc["configs"]["nginx"] == {"external": True, "name": nginx}
    assert doc["secrets"] == {"token": {"external": True, "name": token}}
    assert doc["services"]["api"]["configs"] == [{"source": "nginx", "target": "/etc/nginx/nginx.conf"}]
    green_rendered = green(shop, "1.1", OPTIONS)
    assert {o.name for o in green_rendered.objects} == {nginx, token}  # the same objects: same content
    assert document(green_rendered)["configs"] == {"nginx": {"external": True, "name": nginx}}


def test_a_custom_network_becomes_an_overlay_the_lb_joins_and_green_joins_by_its_stack_name(shop):
    doc = document(blue(shop, "1.0", OPTIONS))
    assert doc["networks"]["backend"] == {}  # the bridge driver dropped: Swarm's default, overlay
    assert doc["services"]["harness-lb"]["networks"] == ["backend"]
    assert doc["services"]["api"]["networks"] == ["backend"]
    assert doc["services"]["api"]["deploy"]["replicas"] == 3  # the scenario's, not the compose file's 5
    green_doc = document(green(shop, "1.1", OPTIONS))
    assert green_doc["networks"] == {"backend": {"external": True, "name": "chaos_backend"}}
    assert green_doc["services"]["api"]["image"] == "registry:5000/chaos/shop/api:1.1"
    assert [name for name, s in green_doc["services"].items() if "ports" in s] == []


def test_rendering_never_changes_the_users_compose_file(shop):
    before = (shop.path.parent / "compose.yml").read_text()
    blue(shop, "1.0", OPTIONS), green(shop, "1.1", OPTIONS, publish=9001)
    assert (shop.path.parent / "compose.yml").read_text() == before
    assert "ports" in shop.compose["services"]["api"]  # nor the profile's copy of it


def test_a_global_upgraded_service_stays_global_without_replicas(tmp_path):
    (tmp_path / "compose.yml").write_text("services:\n  agent:\n    image: a:1\n    deploy: {mode: global}\n")
    (tmp_path / "p.yaml").write_text("name: agents\ncompose: compose.yml\nreleases:\n  '1': {agent: 'a:1'}\n"
                                     "  '2': {agent: 'a:2'}\nentry: {service: agent, port: 80}\n")
    agent = document(blue(load_profile(tmp_path / "p.yaml"), "1", OPTIONS))["services"]["agent"]
    assert agent["deploy"] == {"mode": "global", "endpoint_mode": "dnsrr"}


def test_haproxy_checks_the_entry_health_path_and_status():
    config = haproxy_config(DEMO, OPTIONS)
    assert config.count("option httpchk GET /healthz") == 2  # blue and green
    assert config.count("http-check expect status 200\n") == 2
    assert "${" not in config  # every placeholder filled


def test_haproxy_accepts_any_of_several_health_statuses(shop):
    config = haproxy_config(shop, OPTIONS)
    assert config.count("option httpchk GET /ready") == 2
    assert config.count("http-check expect rstatus ^(200|204)$\n") == 2
    assert "expect status" not in config


def test_haproxy_finds_the_entry_tasks_of_each_stack_by_dns_with_enough_server_slots(shop):
    config = haproxy_config(shop, StackOptions(registry="registry:5000", replicas=8, server_timeout=3.5))
    assert "server-template srv 16 tasks.chaos_api:9000 check resolvers cluster" in config
    assert "server-template srv 16 tasks.chaos-green_api:9000 check resolvers cluster" in config
    assert "nameserver dns 127.0.0.11:53" in config  # Swarm's DNS, inside every container
    assert "timeout server 3.5s" in config
    assert "server-template srv 12 tasks.chaos_web:8080 " in haproxy_config(DEMO, OPTIONS)  # at least 12
    assert "set-header X-Chaos-Server %si:%sp" in config and "set-header X-Chaos-Backend %b" in config


def test_on_kubernetes_haproxy_finds_the_entry_pods_through_a_headless_service_in_the_clusters_dns(shop):
    options = StackOptions(registry="registry:5000", discovery=KubernetesEngine.discovery)
    config = haproxy_config(shop, options)
    assert "server-template srv 12 api.chaos.svc.cluster.local:9000 check resolvers cluster" in config
    assert "server-template srv 12 api.chaos-green.svc.cluster.local:9000 check resolvers cluster" in config
    assert "nameserver dns 10.96.0.10:53" in config


def test_green_joins_a_network_the_compose_file_names_by_that_name(shop):
    compose = shop.compose | {"networks": {"backend": {"name": "shop-net"}}}
    named = type(shop)(shop.model, shop.path, compose, shop.warnings)
    assert document(blue(named, "1.0", OPTIONS))["networks"]["backend"] == {"name": "shop-net"}
    assert document(green(named, "1.1", OPTIONS))["networks"]["backend"] == {"external": True, "name": "shop-net"}
