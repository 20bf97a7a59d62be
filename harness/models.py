"""What every input model shares: strict keys, durations, and errors that name file, key, value and what is allowed.

Input files are read defensively, so that any file gives a result or a short
error within a fraction of a second: only regular files up to
``MAX_FILE_BYTES``, UTF-8 only, and YAML without duplicate keys, nested at
most ``MAX_DEPTH`` deep, with at most ``MAX_ALIASES`` aliases, ``MAX_VALUES``
values once aliases are expanded, and integers of at most ``MAX_INT_DIGITS``
digits. Error messages quote values shortened and list at most
``MAX_PROBLEMS`` problems, so they stay a few KB whatever the input.
"""

from __future__ import annotations

import os
import re
import reprlib
import stat
from itertools import islice
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 100
MAX_VALUES = 10_000
MAX_INT_DIGITS = 30
MAX_PROBLEMS = 20
MAX_QUOTE = 80
MAX_DURATION = 24 * 3600.0
DURATION_HINT = "a duration such as 5s, 500ms or 2m, at most 24h"

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_CONSTRUCTOR_SLIPS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


def parse_duration(value: Any) -> float:
    """``"500ms"``, ``"5s"``, ``"2m"``, ``"1h"`` or a number of seconds -> seconds, from 0 to 24 h."""
    seconds = _seconds(value)
    if seconds is None or not 0 <= seconds <= MAX_DURATION:  # nan fails both comparisons
        raise ValueError(DURATION_HINT)
    return seconds


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if abs(value) <= MAX_DURATION else None  # first: float(10**400) overflows
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) and len(value) <= 40 else None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None


M = TypeVar("M", bound=BaseModel)
Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0, le=MAX_DURATION)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently change a run. Infinity and NaN are no numbers here."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def load_model(path: Path, model: type[M], what: str, error: type[Exception]) -> M:
    """A YAML file validated as ``model``, or ``error`` naming the file and every problem in it."""
    document = read_yaml_mapping(path, what, error)
    try:
        return model.model_validate(document)
    except ValidationError as problem:
        raise error(format_errors(path, problem.errors(), model, what)) from problem


def read_yaml_mapping(path: Path, what: str, error: type[Exception]) -> dict:
    """The YAML mapping in ``path``, or ``error`` naming the file and what is wrong with it."""
    document = read_yaml(path, what, error)
    if not isinstance(document, dict):
        raise error(f"{path}: a {what} is a mapping of keys, got {quote(document)}")
    return document


def read_yaml(path: Path, what: str, error: type[Exception]) -> Any:
    """The YAML document in ``path``, or ``error`` naming the file, the line and what is wrong; quick for any file."""
    text = _read_text(path, what, error)
    loader = None
    try:
        loader = _GuardedLoader(text)  # PyYAML checks for unprintable characters here
        return loader.get_single_data()
    except _Refused as problem:
        raise error(f"{path}: {problem}") from problem
    except yaml.YAMLError as problem:
        raise error(f"{path}: not valid YAML: {_clip(_described(problem), 400)}") from problem
    except (RecursionError, ValueError) as problem:  # the limits should prevent both; a clean error if they do not
        raise error(f"{path}: not valid YAML: {_clip(str(problem), 200)}") from problem
    finally:
        if loader is not None:
            loader.dispose()


def _read_text(path: Path, what: str, error: type[Exception]) -> str:
    data = _read_bytes(path, what, error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = data.count(b"\n", 0, problem.start) + 1
        raise error(f"{path}: line {line}: byte {data[problem.start]:#04x} is not UTF-8; "
                    f"save the {what} as UTF-8 text") from problem


def _read_bytes(path: Path, what: str, error: type[Exception]) -> bytes:
    """At most ``MAX_FILE_BYTES`` of a regular file; a FIFO or device is refused before it is opened."""
    try:
        _check_file(os.stat(path), path, what, error)
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1) or b""  # None if it became a FIFO since the stat
    except (OSError, ValueError) as problem:  # ValueError: a path with a NUL byte
        raise error(f"{path}: cannot read the {what}: {getattr(problem, 'strerror', None) or problem}") from problem
    _check_size(len(data), path, what, error)
    return data


def _check_file(status: os.stat_result, path: Path, what: str, error: type[Exception]) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise error(f"{path}: the {what} must be a regular file, not {_file_kind(status.st_mode)}")
    _check_size(status.st_size, path, what, error)


def _check_size(size: int, path: Path, what: str, error: type[Exception]) -> None:
    if size > MAX_FILE_BYTES:
        raise error(f"{path}: the {what} is larger than {MAX_FILE_BYTES // 1024} KiB; it should be a short YAML file")


def _file_kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a named pipe (FIFO)", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}
    return next((name for test, name in kinds.items() if test(mode)), "a special file")


def _described(problem: yaml.YAMLError) -> str:
    """PyYAML's error on one line: where, then what (its own text repeats the source around the mark)."""
    mark = getattr(problem, "problem_mark", None)
    if not isinstance(problem, yaml.MarkedYAMLError) or mark is None:
        return " ".join(str(problem).split())
    what = "; ".join(part for part in (problem.context, problem.problem) if part)
    return f"line {mark.line + 1}, column {mark.column + 1}: {what}"


class _Refused(yaml.YAMLError):
    """A document the loader will not build; the message says where and why."""


class _GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing what would make a small file slow, huge or silently lossy.

    The composer keeps the key path, the nesting depth and the number of
    values (an alias counts every value it stands for, so a "billion laughs"
    stops at ``MAX_VALUES``) and refuses duplicate keys and huge integers
    before anything is converted.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._path: list[str | None] = []
        self._aliases = 0
        self._values = 0
        self._shapes: dict[int, tuple[int, int]] = {}  # id(node) -> (values once expanded, height)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._path.append(_step(index))
        try:
            if self.check_event(yaml.AliasEvent):
                return self._compose_alias()
            return self._compose_value(parent, index)
        finally:
            self._path.pop()

    def _compose_value(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if len(self._path) > MAX_DEPTH:
            self._refuse(f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
        before = self._values
        self._count(1)
        node = super().compose_node(parent, index)
        height = 1 + max((self._shapes[id(child)][1] for child in _children(node)), default=0)
        self._shapes[id(node)] = (self._values - before, height)
        return node

    def _compose_alias(self) -> yaml.Node:
        event = self.peek_event()
        known = self.anchors.get(event.anchor)
        if known is not None and id(known) not in self._shapes:
            self._refuse(f"alias *{_clip(event.anchor, 40)} refers to a value that contains it (a cycle)",
                         event.start_mark)
        node = super().compose_node(None, None)  # an unknown anchor is PyYAML's own error
        self._aliases += 1
        if self._aliases > MAX_ALIASES:
            self._refuse(f"more than {MAX_ALIASES} aliases; write the values out instead", event.start_mark)
        values, height = self._shapes[id(node)]
        if len(self._path) + height - 1 > MAX_DEPTH:
            self._refuse(f"nested deeper than {MAX_DEPTH} levels once aliases are expanded", event.start_mark)
        self._count(values, event.start_mark)
        return node

    def _count(self, values: int, mark: yaml.Mark | None = None) -> None:
        self._values += values
        if self._values > MAX_VALUES:
            self._refuse(f"more than {MAX_VALUES:,} values once aliases are expanded; "
                         "an input file is much smaller (is it an alias bomb?)", mark or self.peek_event().start_mark)

    def compose_scalar_node(self, anchor: str | None) -> yaml.ScalarNode:
        node = super().compose_scalar_node(anchor)
        if node.tag == _INT_TAG and len(node.value.lstrip("+-").replace("_", "")) > MAX_INT_DIGITS:
            self._refuse(f"an integer of more than {MAX_INT_DIGITS} digits", node.start_mark)
        return node

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        first: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                self._refuse_duplicate(first, key_node)
        return node

    def _refuse_duplicate(self, first: dict[Any, yaml.Node], key_node: yaml.ScalarNode) -> None:
        key = self.construct_object(key_node)
        earlier = first.setdefault(key, key_node) if _hashable(key) else key_node
        if earlier is not key_node:
            self._path.append(_step(key_node))
            self._refuse(f"duplicate key {quote(key)} (first at line {earlier.start_mark.line + 1}); the second "
                         "would silently replace the first: keep one", key_node.start_mark)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except _CONSTRUCTOR_SLIPS as problem:  # PyYAML's converters raise these for values like `!!int ''`
            shown = f" {quote(node.value)}" if isinstance(node, yaml.ScalarNode) else ""
            raise _Refused(f"line {node.start_mark.line + 1}: not a valid {node.tag.rsplit(':', 1)[-1]}{shown} "
                           f"({_clip(str(problem), 100)})") from problem

    def _refuse(self, problem: str, mark: yaml.Mark) -> NoReturn:
        where = _clip(".".join(part for part in self._path if part is not None), 120)
        raise _Refused(f"line {mark.line + 1}{f', key {where}' if where else ''}: {problem}")


def _step(index: Any) -> str | None:
    """The key-path part of a node: its key, its list index, or None (the document, or a key itself)."""
    if isinstance(index, yaml.ScalarNode):
        return _clip(index.value, 40)
    if isinstance(index, yaml.Node):
        return "(complex key)"
    return None if index is None else str(index)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return node.value if isinstance(node, yaml.SequenceNode) else []


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def format_errors(path: Path, errors: list[dict[str, Any]], model: type[BaseModel], what: str) -> str:
    """One line per problem (at most ``MAX_PROBLEMS``): file, key path, bad value (shortened), what is allowed."""
    lines = [f"{path}: invalid {what} ({len(errors)} problem{'s' if len(errors) != 1 else ''})"]
    lines += [_problem_line(error, model) for error in errors[:MAX_PROBLEMS]]
    if len(errors) > MAX_PROBLEMS:
        lines.append(f"  and {len(errors) - MAX_PROBLEMS} more")
    return "\n".join(lines)


def _problem_line(error: dict[str, Any], model: type[BaseModel]) -> str:
    key = _clip(".".join(_clip(_text(part), 40) for part in error["loc"]) or "(top level)", 120)
    if error.get("file"):  # a problem in a file the input refers to (an app profile's compose file)
        key = f"{error['file']}: {key}"
    message = error["msg"]
    if error.get("type") == "extra_forbidden":
        allowed = _keys_at(model, tuple(error["loc"][:-1]))
        message = f"unknown key; allowed here: {', '.join(allowed)}" if allowed else "unknown key"
    return f"  {key}: got {quote(error.get('input'))}: {_clip(_text(message), 300)}"


class _ShortRepr(reprlib.Repr):
    """reprlib's bounded repr, keeping a mapping's keys in the order the file gave them (reprlib sorts them)."""

    def repr_dict(self, x: dict, level: int) -> str:
        if not x or level <= 0:
            return "{...}" if x else "{}"
        pieces = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}" for k, v in islice(x.items(), self.maxdict)]
        return "{" + ", ".join(pieces + ["..."] * (len(x) > self.maxdict)) + "}"


_SHORT = _ShortRepr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 3, MAX_QUOTE, MAX_QUOTE, 40
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxset = _SHORT.maxdict = 6


def quote(value: Any) -> str:
    """``repr(value)`` cut to ``MAX_QUOTE`` characters; reprlib never walks more than a few items of a big value."""
    try:
        return _clip(_SHORT.repr(value), MAX_QUOTE)
    except ValueError:  # an int beyond Python's 4,300-digit conversion limit
        return "(a number too large to show)"


def _text(value: Any) -> str:
    try:
        return str(value)
    except ValueError:  # an int beyond Python's 4,300-digit conversion limit
        return "(a number too large to show)"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _keys_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """The keys ``model`` accepts at ``loc`` (list indexes and mapping keys skipped)."""
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            continue  # a free mapping key (a release or service name)
        model = _model_in(field.annotation)
    return sorted(f.alias or name for name, f in model.model_fields.items()) if model else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for arg in get_args(annotation) if (m := _model_in(arg))), None)
