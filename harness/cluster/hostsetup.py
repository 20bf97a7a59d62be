"""What the harness changes on a user's host so that it pulls from the cluster's registries, and how it undoes it.

Two changes, both marked with the cluster's name:

- ``/etc/hosts`` gains one line mapping ``registry`` and ``registry-secure``
  to the address where this machine publishes them;
- the Docker engine trusts those two registries without TLS: the names are
  merged into ``insecure-registries`` of ``/etc/docker/daemon.json`` (the
  file as it was is kept beside it) and the engine reloads its configuration
  (SIGHUP; running containers are not touched). An engine that trusts them
  already is left alone.

``undo`` removes the line, makes the engine forget the registries and puts
``daemon.json`` back as it was (or removes the file the harness made).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from harness.cluster.registry import NODE_REGISTRY, REGISTRY_ALIAS, SECURE_ALIAS, SECURE_REGISTRY
from harness.cluster.vagrant import ExecResult
from harness.errors import ClusterError

DAEMON_JSON = "/etc/docker/daemon.json"
TRUSTED = (NODE_REGISTRY, SECURE_REGISTRY)
RunOn = Callable[[list[str], bytes | None], ExecResult]  # one host's command runner (argv, stdin)

_HOSTS_LINE = r"""
marker="# chaos-harness $1"
grep -v -F "$marker" /etc/hosts > /etc/hosts.chaos-harness.new || true
[ -n "$2" ] && printf '%s %s %s %s\n' "$2" "$3" "$4" "$marker" >> /etc/hosts.chaos-harness.new
cat /etc/hosts.chaos-harness.new > /etc/hosts && rm -f /etc/hosts.chaos-harness.new
"""
_RELOAD_ENGINE = "kill -HUP $(pidof dockerd)"
# Reload the engine (daemon.json now names insecure-registries as the original has them); once it no longer
# trusts the harness's registries ($2...), put the original file back byte for byte, or remove the harness's.
RESTORE_ENGINE = f"""
backup=$1; shift
{_RELOAD_ENGINE}
for attempt in $(seq 100); do
  trusted=$(docker info --format '{{{{range $name, $index := .RegistryConfig.IndexConfigs}}}}{{{{if not $index.Secure}}}}{{{{$name}}}} {{{{end}}}}{{{{end}}}}')
  still=""; for name; do case " $trusted " in *" $name "*) still="$still $name";; esac; done
  [ -z "$still" ] && break; sleep 0.2
done
if [ -e "$backup" ]; then mv "$backup" {DAEMON_JSON}; else rm -f {DAEMON_JSON}; fi
[ -z "$still" ] || {{ echo "the engine still trusts$still after reloading the original settings"; exit 1; }}
"""


def backup_path(cluster: str) -> str:
    return f"{DAEMON_JSON}.chaos-harness-{cluster}"


def point_registry_names(run: RunOn, cluster: str, address: str) -> None:
    """``registry`` and ``registry-secure`` resolve to ``address`` on the host (one marked /etc/hosts line)."""
    _checked(run, ["sh", "-c", _HOSTS_LINE, "hosts", cluster, address, REGISTRY_ALIAS, SECURE_ALIAS],
             "point the registry names at this machine in /etc/hosts")


def trust_registries(run: RunOn, cluster: str, trusted_now: set[str]) -> bool:
    """Make the engine trust ``TRUSTED`` without TLS unless it does (``trusted_now``); True when it was changed."""
    missing = [name for name in TRUSTED if name not in trusted_now]
    if not missing:
        return False
    current = run(["cat", DAEMON_JSON], None)
    config = _parsed(current.output) if current.ok else {}
    if current.ok:  # keep the file as it was, once: the first copy is the user's
        _checked(run, ["sh", "-c", f'[ -e "$1" ] || cp -p {DAEMON_JSON} "$1"', "backup", backup_path(cluster)],
                 f"keep a copy of {DAEMON_JSON}")
    config["insecure-registries"] = sorted({*config.get("insecure-registries", []), *missing})
    _write_daemon_json(run, config)
    _checked(run, ["sh", "-c", _RELOAD_ENGINE], "reload the Docker engine's configuration")
    return True


def undo(run: RunOn, cluster: str, changed_engine: bool) -> None:
    """Remove the /etc/hosts line; when the harness changed the engine, make it forget the registries and put
    daemon.json back as it was.

    A reload keeps every setting the file does not name: removing the harness's daemon.json (or putting back one
    without insecure-registries) would leave the registries trusted. So the engine first reloads the original
    settings with insecure-registries named (``[]`` where the original has none), then the original file returns.
    """
    point_registry_names(run, cluster, "")
    if not changed_engine:
        return
    backup = backup_path(cluster)
    saved = run(["cat", backup], None)
    original = _parsed(saved.output) if saved.ok else {}
    kept = original.get("insecure-registries", [])
    _write_daemon_json(run, {**original, "insecure-registries": kept})
    _checked(run, ["sh", "-c", RESTORE_ENGINE, "restore", backup, *(name for name in TRUSTED if name not in kept)],
             f"restore {DAEMON_JSON} and the engine's trusted registries")


def _write_daemon_json(run: RunOn, config: dict) -> None:
    text = (json.dumps(config, indent=2) + "\n").encode()
    _checked(run, ["sh", "-c", f"mkdir -p /etc/docker && cat > {DAEMON_JSON}.new && mv {DAEMON_JSON}.new {DAEMON_JSON}"],
             f"write {DAEMON_JSON}", stdin=text)


def _parsed(text: str) -> dict:
    try:
        config = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise ClusterError(f"{DAEMON_JSON} on the host is not JSON ({error}); fix it before the harness adds "
                           "the cluster's registries to it") from error
    if not isinstance(config, dict):
        raise ClusterError(f"{DAEMON_JSON} on the host is not a JSON object")
    return config


def _checked(run: RunOn, argv: list[str], what: str, stdin: bytes | None = None) -> str:
    result = run(argv, stdin)
    if not result.ok:
        raise ClusterError(f"cannot {what}: {result.output.strip()[-500:]}")
    return result.output
