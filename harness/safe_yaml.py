"""Reading YAML input defensively: any file gives a result or a short error within a fraction of a second.

Only regular files up to ``MAX_FILE_BYTES`` are read (through
``harness.files``: a FIFO or device is refused before it is opened), UTF-8 only, and YAML without duplicate keys,
nested at most ``MAX_DEPTH`` deep, with at most ``MAX_ALIASES`` aliases,
``MAX_VALUES`` values once aliases are expanded, and integers of at most
``MAX_INT_DIGITS`` digits. Values quoted in messages are shortened.
"""

from __future__ import annotations

import reprlib
from itertools import islice
from pathlib import Path
from typing import Any, NoReturn

import yaml

from harness.files import read_bytes

MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 100
MAX_VALUES = 10_000
MAX_INT_DIGITS = 30
MAX_QUOTE = 80
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_CONSTRUCTOR_SLIPS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


def read_yaml(path: Path, what: str, error: type[Exception]) -> Any:
    """The YAML document in ``path``, or ``error`` naming the file, the line and what is wrong; quick for any file."""
    return _load(_read_text(path, what, error), str(path), error, lambda loader: loader.get_single_data())


def read_yaml_documents(path: Path, what: str, error: type[Exception]) -> list[Any]:
    """Every YAML document in ``path`` (``---`` between them; empty ones left out), each within ``read_yaml``'s
    limits."""
    return yaml_documents(_read_text(path, what, error), str(path), error)


def yaml_documents(text: str, source: str, error: type[Exception]) -> list[Any]:
    """Every YAML document in ``text`` (what ``source`` produced), each within ``read_yaml``'s limits."""
    def every(loader: _GuardedLoader) -> list[Any]:
        found = []
        while loader.check_data():
            loader.restart_count()
            document = loader.get_data()
            if document is not None:
                found.append(document)
        return found
    return _load(text, source, error, every)


def _load(text: str, source: str, error: type[Exception], read: Any) -> Any:
    loader = None
    try:
        loader = _GuardedLoader(text)  # PyYAML checks for unprintable characters here
        return read(loader)
    except _Refused as problem:
        raise error(f"{source}: {problem}") from problem
    except yaml.YAMLError as problem:
        raise error(f"{source}: not valid YAML: {clip(_described(problem), 400)}") from problem
    except (RecursionError, ValueError) as problem:  # the limits should prevent both; a clean error if they do not
        raise error(f"{source}: not valid YAML: {clip(str(problem), 200)}") from problem
    finally:
        if loader is not None:
            loader.dispose()


def _read_text(path: Path, what: str, error: type[Exception]) -> str:
    data = read_bytes(path, what, error, MAX_FILE_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = data.count(b"\n", 0, problem.start) + 1
        raise error(f"{path}: line {line}: byte {data[problem.start]:#04x} is not UTF-8; "
                    f"save the {what} as UTF-8 text") from problem


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

    def restart_count(self) -> None:
        """The next document's values and aliases count from zero (each document is within the limits)."""
        self._aliases = self._values = 0

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
            self._refuse(f"alias *{clip(event.anchor, 40)} refers to a value that contains it (a cycle)",
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
                           f"({clip(str(problem), 100)})") from problem

    def _refuse(self, problem: str, mark: yaml.Mark) -> NoReturn:
        where = clip(".".join(part for part in self._path if part is not None), 120)
        raise _Refused(f"line {mark.line + 1}{f', key {where}' if where else ''}: {problem}")


def _step(index: Any) -> str | None:
    """The key-path part of a node: its key, its list index, or None (the document, or a key itself)."""
    if isinstance(index, yaml.ScalarNode):
        return clip(index.value, 40)
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
        return clip(_SHORT.repr(value), MAX_QUOTE)
    except ValueError:  # an int beyond Python's 4,300-digit conversion limit
        return "(a number too large to show)"


def as_text(value: Any) -> str:
    try:
        return str(value)
    except ValueError:  # an int beyond Python's 4,300-digit conversion limit
        return "(a number too large to show)"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
