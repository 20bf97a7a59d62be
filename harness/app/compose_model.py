"""A compose file as Swarm reads it (the compose file format 3.x), typed like every other input of the harness.

The model follows Swarm's own schema for ``docker stack deploy``: the short
forms it allows are accepted (``build: dir``, ``env_file: file``, ports as
numbers or ``"8080:80/tcp"``, ``networks: [a, b]``, a ``null`` volume), anything
else is refused with its key path and what is allowed there; keys starting
with ``x-`` are extensions and ignored. Values are taken as they are (strict
types: ``image: 5`` or ``replicas: "3"`` are refused, as Swarm refuses them).
The harness then reads the document it validated; nothing here changes it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

NAME = r"^[a-zA-Z0-9._-]+$"  # services, networks, volumes, configs and secrets
PORT_RANGE = (1, 65535)
_PORT = re.compile(r"(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9]+(?:\.[0-9]+){3}):)?(?:(?P<published>[0-9]*(?:-[0-9]+)?):)?"
                   r"(?P<target>[0-9]+(?:-[0-9]+)?)(?:/(?:tcp|udp|sctp))?")
_EXPOSE = re.compile(r"(?P<target>[0-9]+(?:-[0-9]+)?)(?:/(?:tcp|udp|sctp))?")
_GO_DURATION = re.compile(r"[-+]?(?:0|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|ms|s|m|h))+")


def _port_numbers(text: str) -> list[int]:
    return [int(part) for part in re.split(r"[-:]", text) if part]


def _in_port_range(numbers: list[int], text: str) -> None:
    if any(not PORT_RANGE[0] <= n <= PORT_RANGE[1] for n in numbers):
        raise ValueError(f"{text!r}: ports are 1 to 65535")


def _port_text(pattern: re.Pattern[str], example: str) -> Any:
    """A check of a port given as a number or as a text such as ``127.0.0.1:8080:80/tcp``: its form and ranges."""
    def check(value: str | int) -> str | int:
        if isinstance(value, int):
            _in_port_range([value], str(value))
            return value
        match = pattern.fullmatch(value)
        if match is None:
            raise ValueError(f"a port such as {example}")
        _in_port_range(_port_numbers(match.group("target")) + _port_numbers(match.groupdict().get("published") or ""),
                       value)
        return value
    return AfterValidator(check)


def _go_duration(value: str) -> str:
    if not _GO_DURATION.fullmatch(value):
        raise ValueError("a duration such as 10s, 1m30s or 500ms")
    return value


def _path(value: str) -> str:
    if "\x00" in value:
        raise ValueError("a path without NUL bytes")
    return value


def _unique(items: list) -> list:
    seen: set = set()
    for item in items:
        key = item if isinstance(item, (str, int)) else repr(item)
        if key in seen:
            raise ValueError(f"{str(item)[:80]!r} is given twice; Swarm wants each once")
        seen.add(key)
    return items


def form_of(value: Any) -> str | None:
    """The JSON kind of ``value``, which picks the form of a key that Swarm takes in several forms."""
    kinds = ((bool, "=bool"), ((int, float), "=number"), (type(None), "=null"), (str, "=text"), (list, "=list"),
             (dict, "=mapping"))
    return next((kind for types, kind in kinds if isinstance(value, types)), None)


def either(what: str, **forms: Any) -> Any:
    """A key Swarm takes in several forms (``text=str, mapping=Build``), picked by the value's kind; any other kind
    is one error saying ``what`` is allowed (not one per form tried). Forms show in error paths as ``=text``."""
    tagged = tuple(Annotated[form, Tag(f"={kind}")] for kind, form in forms.items())
    return Annotated[Union[tagged], Discriminator(form_of, custom_error_type="form",  # noqa: UP007
                                                  custom_error_message=f"Swarm takes {what} here")]


Name = Annotated[str, Field(pattern=NAME, max_length=255)]
Text = Annotated[str, Field(max_length=10_000)]
PathText = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_path)]
GoDuration = Annotated[str, AfterValidator(_go_duration)]
Strings = Annotated[list[Text], AfterValidator(_unique)]
StringOrList = either("a text or a list of texts", text=Text, list=Strings)
Scalar = either("a text, a number or nothing (null)", text=Text, number=float, null=None)
ListOrDict = either("a mapping (KEY: value) or a list of KEY=value texts",
                    mapping=dict[Annotated[str, Field(min_length=1)], Scalar], list=Strings)
PortNumber = Annotated[int, Field(ge=PORT_RANGE[0], le=PORT_RANGE[1])]
TextOrNumber = either("a text or a number", text=Text, number=float)
TextOrTexts = either("a text or a list of texts", text=Text, list=list[Text])
Size = either("a number or a text such as 2gb", number=float, text=Text)
ExposeItem = Annotated[either("a port as a number or a text", text=Text, number=int),
                       _port_text(_EXPOSE, "80 or 8000-8010/udp")]


class Part(BaseModel):
    """A mapping of the compose file: unknown keys refused (``x-`` extensions ignored), JSON types exactly."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _without_extensions(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if not (isinstance(k, str) and k.startswith("x-"))}
        return value


class Build(Part):
    """``build:`` as a mapping; Swarm's schema lets other keys through, and so does the harness (it ignores them)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True, allow_inf_nan=False)

    context: PathText
    dockerfile: PathText | None = None
    args: ListOrDict = {}
    labels: ListOrDict = {}
    cache_from: Strings = []
    network: Text | None = None
    target: Text | None = None
    shm_size: Size = None
    extra_hosts: ListOrDict = {}


BuildForm = either("a path (the build context) or a mapping with context (dockerfile, args, ...)", text=PathText,
                   mapping=Build)


class PortSpec(Part):
    mode: Literal["host", "ingress"] = "ingress"
    target: PortNumber
    published: PortNumber | None = None
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"


PortItem = either("a port as a number, a text such as 8080:80 or 127.0.0.1:8080:80/tcp, or a mapping with target "
                  "(published, protocol, mode)",
                  text=Annotated[Text, _port_text(_PORT, "80, 8080:80 or 127.0.0.1:8080:80/tcp")],
                  number=Annotated[int, _port_text(_PORT, "80")], mapping=PortSpec)


class FileReference(Part):
    """A service's use of a config or secret (long form)."""

    source: Name
    target: Text | None = None
    uid: Text | None = None
    gid: Text | None = None
    mode: float | None = None


ConfigUse = either("a config's name or a mapping with source (target, uid, gid, mode)", text=Name,
                   mapping=FileReference)
SecretUse = either("a secret's name or a mapping with source (target, uid, gid, mode)", text=Name,
                   mapping=FileReference)


class EnvFile(Part):
    """An ``env_file`` entry in the long form: the harness reads the file, so it must exist."""

    path: PathText
    required: bool = True


EnvFiles = either("a path or a list of paths (or of mappings with path)", text=PathText,
                  list=list[either("a path or a mapping with path", text=PathText, mapping=EnvFile)])


class Healthcheck(Part):
    disable: bool = False
    interval: GoDuration | None = None
    retries: float | None = None
    test: TextOrTexts = None
    timeout: GoDuration | None = None
    start_period: GoDuration | None = None
    start_interval: GoDuration | None = None


class Logging(Part):
    driver: Text | None = None
    options: dict[str, Scalar] = {}


class ServiceNetwork(Part):
    aliases: Strings = []
    driver_opts: dict[str, TextOrNumber] = {}
    ipv4_address: Text | None = None
    ipv6_address: Text | None = None


ServiceNetworks = either("a list of network names or a mapping of them",
                         list=Annotated[list[Name], AfterValidator(_unique)],
                         mapping=dict[Name, either("a mapping (aliases, ...) or nothing", mapping=ServiceNetwork,
                                                   null=None)])


class Ulimit(Part):
    soft: int
    hard: int


UlimitForm = either("a number or a mapping with soft and hard", number=int, mapping=Ulimit)


class VolumeMount(Part):
    """A service volume in the long form."""

    type: Literal["volume", "bind", "tmpfs", "npipe", "cluster"]
    source: Text | None = None
    target: Text | None = None
    read_only: bool = False
    consistency: Text | None = None
    bind: dict[Literal["propagation"], Text] = {}
    volume: dict[Literal["nocopy"], bool] = {}
    tmpfs: dict[Literal["size"], Annotated[int, Field(ge=0)]] = {}


VolumeItem = either("a text such as data:/var/lib/data or a mapping with type (source, target, ...)",
                    text=Annotated[Text, Field(min_length=1)], mapping=VolumeMount)


class UpdateConfig(Part):
    parallelism: int | None = None
    delay: GoDuration | None = None
    failure_action: Literal["pause", "continue", "rollback"] | None = None
    monitor: GoDuration | None = None
    max_failure_ratio: float | None = None
    order: Literal["start-first", "stop-first"] | None = None


class Limits(Part):
    cpus: TextOrNumber = None
    memory: Text | None = None
    pids: int | None = None


class Reservations(Part):
    cpus: TextOrNumber = None
    memory: Text | None = None
    generic_resources: list[dict[str, Any]] = []


class Resources(Part):
    limits: Limits | None = None
    reservations: Reservations | None = None
    memory_swap: int | None = None
    memory_swappiness: int | None = None


class RestartPolicy(Part):
    condition: Literal["none", "on-failure", "any"] | None = None
    delay: GoDuration | None = None
    max_attempts: int | None = None
    window: GoDuration | None = None


class Placement(Part):
    constraints: list[Text] = []
    preferences: list[dict[Literal["spread"], Text]] = []
    max_replicas_per_node: int | None = None


class Deploy(Part):
    mode: Literal["replicated", "global", "replicated-job", "global-job"] = "replicated"
    endpoint_mode: Literal["vip", "dnsrr"] | None = None
    replicas: Annotated[int, Field(ge=0)] | None = None
    labels: ListOrDict = {}
    rollback_config: UpdateConfig | None = None
    update_config: UpdateConfig | None = None
    resources: Resources | None = None
    restart_policy: RestartPolicy | None = None
    placement: Placement | None = None


class CredentialSpec(Part):
    config: Text | None = None
    file: Text | None = None
    registry: Text | None = None


class Service(Part):
    """One service; ``image`` is required here (Swarm takes ``build`` alone, but the harness tags what it builds
    with the image name and pushes it to the cluster's registry under it)."""

    image: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\s]+$")]
    build: BuildForm = None
    deploy: Deploy | None = None
    cap_add: Strings = []
    cap_drop: Strings = []
    cgroupns_mode: Text | None = None
    cgroup_parent: Text | None = None
    command: TextOrTexts = None
    configs: list[ConfigUse] = []
    container_name: Text | None = None
    credential_spec: CredentialSpec | None = None
    depends_on: Strings = []
    devices: Strings = []
    dns: StringOrList = []
    dns_search: StringOrList = []
    domainname: Text | None = None
    entrypoint: TextOrTexts = None
    env_file: EnvFiles = []
    environment: ListOrDict = {}
    expose: Annotated[list[ExposeItem], AfterValidator(_unique)] = []
    external_links: Strings = []
    extra_hosts: ListOrDict = {}
    healthcheck: Healthcheck | None = None
    hostname: Text | None = None
    init: bool | None = None
    ipc: Text | None = None
    isolation: Text | None = None
    labels: ListOrDict = {}
    links: Strings = []
    logging: Logging | None = None
    mac_address: Text | None = None
    network_mode: Text | None = None
    networks: ServiceNetworks = []
    pid: Text | None = None
    ports: Annotated[list[PortItem], AfterValidator(_unique)] = []
    privileged: bool | None = None
    read_only: bool | None = None
    restart: Text | None = None
    security_opt: Strings = []
    shm_size: Size = None
    secrets: list[SecretUse] = []
    sysctls: ListOrDict = {}
    stdin_open: bool | None = None
    stop_grace_period: GoDuration | None = None
    stop_signal: Text | None = None
    tmpfs: StringOrList = []
    tty: bool | None = None
    ulimits: dict[Annotated[str, Field(pattern=r"^[a-z]+$")], UlimitForm] = {}
    oom_score_adj: int | None = None
    user: Text | None = None
    userns_mode: Text | None = None
    volumes: Annotated[list[VolumeItem], AfterValidator(_unique)] = []
    working_dir: Text | None = None


class External(Part):
    name: Text | None = None


ExternalForm = either("true, false or a mapping with name", bool=bool, mapping=External)


class Network(Part):
    name: Text | None = None
    driver: Text | None = None
    driver_opts: dict[str, TextOrNumber] = {}
    ipam: dict[Literal["driver", "config"], Any] = {}
    external: ExternalForm = False
    internal: bool = False
    attachable: bool = False
    labels: ListOrDict = {}


class Volume(Part):
    name: Text | None = None
    driver: Text | None = None
    driver_opts: dict[str, TextOrNumber] = {}
    external: ExternalForm = False
    labels: ListOrDict = {}


class Config(Part):
    """A config made from a file beside the compose file (``file``), or one that exists already (``external``)."""

    name: Text | None = None
    file: PathText | None = None
    external: ExternalForm = False
    labels: ListOrDict = {}
    template_driver: Text | None = None


class Secret(Config):
    driver: Text | None = None
    driver_opts: dict[str, TextOrNumber] = {}


Version = either('a version such as "3.8"', text=Text, number=float)
NetworkEntry = either("a mapping (driver, ...) or nothing", mapping=Network, null=None)
VolumeEntry = either("a mapping (driver, ...) or nothing", mapping=Volume, null=None)


class ComposeFile(Part):
    """The whole file. ``version``, when given, is 3.x (the harness writes its own when it deploys)."""

    version: Version = None
    services: dict[Name, Service] = Field(min_length=1)
    networks: dict[Name, NetworkEntry] = {}
    volumes: dict[Name, VolumeEntry] = {}
    secrets: dict[Name, Secret] = {}
    configs: dict[Name, Config] = {}
