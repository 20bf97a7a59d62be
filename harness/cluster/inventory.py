"""Hosts that already exist, reached over SSH only: the inventory file and what it must say.

An inventory names every host once (address, SSH user and key, how commands
get root), which host manages the Swarm, which holds the stateful services,
and optionally how to power a host off and on from this machine (a
hypervisor's or a cloud's command line). It is validated, key files
included, before any host is contacted; every problem names the file, the
key, the bad value and what is allowed (exit 2).
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from harness.cluster.config import MAX_NODES, check_name
from harness.errors import InventoryError
from harness.models import Strict, format_errors, load_model

ErrorDict = dict[str, Any]
ADDRESS = re.compile(r"[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,252}")
ADDRESS_RULE = "a DNS name or an IP address: letters, digits, dots, dashes, colons, not starting with a dash"
USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
USER_RULE = "a login name: a lowercase letter or underscore, then up to 31 letters, digits, underscores or dashes"
Command = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class Host(Strict):
    """One host: where it is, how to log in, its part in the Swarm and how to power it."""

    name: str = Field(description="the node's name in reports and scenarios; also its Swarm hostname label")
    address: str
    port: int = Field(22, ge=1, le=65535)
    user: str
    key: Path | None = Field(None, description="private key file (relative to the inventory); default: the SSH agent")
    become: Literal["sudo", "root"] = Field("sudo", description="how fault commands get root: sudo -n, or the user is root")
    role: Literal["manager", "worker"] = "worker"
    stateful: bool = Field(False, description="stateful services are pinned to this host (one host at most)")
    power_off: Command | None = Field(None, description="command run on this machine to power the host off "
                                                        "(gracefully, when power_off_force is given too)")
    power_off_force: Command | None = Field(None, description="command run on this machine to cut the host's power "
                                                              "(node-halt mode: forced); default: power_off")
    power_on: Command | None = Field(None, description="command run on this machine to power the host on")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "host name")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not ADDRESS.fullmatch(value):
            raise ValueError(ADDRESS_RULE)  # a leading dash would be read by ssh as an option
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not USER.fullmatch(value):
            raise ValueError(USER_RULE)
        return value

    @field_validator("power_off", "power_off_force", "power_on")
    @classmethod
    def _splits(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                shlex.split(value)
            except ValueError as error:
                raise ValueError(f"not a command line ({error}); it runs without a shell, quoted like one") from None
        return value

    @model_validator(mode="after")
    def _root_means_root(self) -> Host:
        if self.become == "root" and self.user != "root":
            raise ValueError(f"become: root needs user: root (got user {self.user}); use become: sudo")
        return self

    @model_validator(mode="after")
    def _forced_beside_graceful(self) -> Host:
        if self.power_off_force is not None and self.power_off is None:
            raise ValueError("power_off_force is the forced variant of power_off; give power_off (and power_on) too")
        return self

    @property
    def can_power_cycle(self) -> bool:
        return self.power_off is not None and self.power_on is not None

    def power_command(self, action: Literal["off", "off_force", "on"]) -> list[str]:
        """The argv of ``power_off``, ``power_off_force`` or ``power_on`` (validated to exist by whoever asks)."""
        command = {"off": self.power_off, "off_force": self.power_off_force, "on": self.power_on}[action]
        if command is None:
            raise InventoryError(f"host {self.name} has no power_{action} command in the inventory")
        return shlex.split(command)


class Inventory(Strict):
    """The hosts, and whether the harness forms the Swarm on them or uses the one they run."""

    swarm: Literal["form", "existing"] = Field(
        "form", description="form: the harness forms a Swarm (the hosts must be in none); existing: use theirs")
    on_failure: Literal["rollback", "leave"] = Field(
        "rollback", description="a Swarm the harness was forming when a step failed: rolled back, or left as it is")
    registry_address: str | None = Field(
        None, description="this machine's address as the hosts reach it (the registries are published there); "
                          "default: the address this machine uses to reach the manager")
    hosts: list[Host] = Field(min_length=2, max_length=MAX_NODES)

    @property
    def manager(self) -> Host:
        """The first manager: it runs the load balancer and answers the harness's Swarm calls."""
        return next(h for h in self.hosts if h.role == "manager")

    @property
    def stateful(self) -> Host:
        """The host stateful services are pinned to: the one marked, else the last that is not the manager."""
        return next((h for h in self.hosts if h.stateful), [h for h in self.hosts if h is not self.manager][-1])

    def ordered(self) -> list[Host]:
        """The hosts as the cluster lists its nodes: the manager first, the stateful host last."""
        middle = [h for h in self.hosts if h is not self.manager and h is not self.stateful]
        return [self.manager, *middle, self.stateful]

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise InventoryError(f"no host {name!r} in the inventory; hosts: {', '.join(h.name for h in self.hosts)}")


def load_inventory(path: Path | str, kind: str | None = "swarm") -> Inventory:
    """Read and validate an inventory: its keys, the hosts taken together, and every key file. ``kind``: the
    hosts of a ``swarm`` or of a ``kubernetes`` cluster the harness forms (the manager is Kubernetes' control
    plane), or ``nodes`` of an existing cluster (``--provider existing``), where the keys of the Swarm's roles
    are refused: Kubernetes places the harness's load balancer and stateful services itself. ``None``: the
    logins only (a recorded inventory of any kind)."""
    path = Path(path)
    inventory = load_model(path, Inventory, "inventory", InventoryError)
    inventory = inventory.model_copy(update={"hosts": [_resolved(h, path.parent) for h in inventory.hosts]})
    together = {"swarm": _together, "kubernetes": _kubernetes_formed, "nodes": _not_swarm}.get(kind or "",
                                                                                               _listed_once)
    problems = [*together(inventory), *_key_problems(inventory)]
    if problems:
        raise InventoryError(format_errors(path, problems, Inventory, "inventory"))
    return inventory


def _resolved(host: Host, base: Path) -> Host:
    """``host`` with its key path made absolute (``~`` expanded, relative to the inventory's directory)."""
    if host.key is None:
        return host
    return host.model_copy(update={"key": (base / host.key.expanduser()).resolve()})


def _together(inventory: Inventory) -> list[ErrorDict]:
    """What no single host of a Swarm's shows: names and addresses given twice, no manager, two stateful hosts."""
    problems = _listed_once(inventory)
    if not any(h.role == "manager" for h in inventory.hosts):
        problems.append({"loc": ("hosts",), "input": [h.name for h in inventory.hosts],
                         "msg": "no host has role: manager; mark the host that manages the Swarm"})
    marked = [index for index, host in enumerate(inventory.hosts) if host.stateful]
    problems += [{"loc": ("hosts", index, "stateful"), "input": True,
                  "msg": f"hosts[{marked[0]}] is stateful already; stateful services are pinned to one host"}
                 for index in marked[1:]]
    problems += [{"loc": ("hosts", index, "stateful"), "input": True,
                  "msg": "the manager runs the load balancer; pin stateful services to another host"}
                 for index in marked[:1] if inventory.hosts[index].role == "manager"]
    return problems


def _listed_once(inventory: Inventory) -> list[ErrorDict]:
    """The hosts given twice (by name or by address and port)."""
    problems: list[ErrorDict] = []
    for key, value_of in (("name", lambda h: h.name), ("address", lambda h: f"{h.address}:{h.port}")):
        seen: dict[str, int] = {}
        for index, host in enumerate(inventory.hosts):
            value = value_of(host)
            if value in seen:
                problems.append({"loc": ("hosts", index, key), "input": value,
                                 "msg": f"the same {key} as hosts[{seen[value]}]; every host is listed once"})
            seen.setdefault(value, index)
    return problems


def _not_swarm(inventory: Inventory) -> list[ErrorDict]:
    """The hosts given twice, and each key that only a Swarm's inventory may set."""
    problems = _listed_once(inventory)
    defaults = {"swarm": "form", "on_failure": "rollback", "registry_address": None}
    problems += [{"loc": (key,), "input": getattr(inventory, key), "msg": _SWARM_ONLY}
                 for key, default in defaults.items() if getattr(inventory, key) != default]
    problems += [{"loc": ("hosts", index, key), "input": getattr(host, key), "msg": _SWARM_ONLY}
                 for index, host in enumerate(inventory.hosts)
                 for key, default in (("role", "worker"), ("stateful", False)) if getattr(host, key) != default]
    return problems


def _kubernetes_formed(inventory: Inventory) -> list[ErrorDict]:
    """What a Swarm's hosts must show, and none of the keys about a Swarm of the hosts' own."""
    problems = _together(inventory)
    problems += [{"loc": (key,), "input": getattr(inventory, key), "msg": message}
                 for key, default, message in (
                     ("swarm", "form", "a Swarm's key: the harness forms Kubernetes on the hosts itself (an existing "
                                       "Kubernetes cluster is --provider existing); remove it"),
                     ("on_failure", "rollback", "a Swarm's key: a failed first up of Kubernetes is always taken "
                                                "off the hosts again; remove it"))
                 if getattr(inventory, key) != default]
    return problems


_SWARM_ONLY = ("a Swarm's key: on an existing Kubernetes cluster the harness takes the nodes as Kubernetes has "
               "them; remove it")


def _key_problems(inventory: Inventory) -> list[ErrorDict]:
    """Every key file exists, is a regular file, and is readable by its owner only (as ssh demands)."""
    problems = []
    for index, host in enumerate(inventory.hosts):
        if host.key is not None and (problem := _key_problem(host.key)):
            problems.append({"loc": ("hosts", index, "key"), "input": str(host.key), "msg": problem})
    return problems


def _key_problem(key: Path) -> str | None:
    try:
        info = key.stat()
    except OSError as error:
        return f"cannot read the key file: {error.strerror}"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file; give the private key file"
    if info.st_mode & 0o077:
        return f"mode {stat.S_IMODE(info.st_mode):o} lets others read it; ssh refuses such keys: chmod 600 {key}"
    if not os.access(key, os.R_OK):
        return "not readable by this user"
    return None
