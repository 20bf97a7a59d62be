"""What the checks of an app's files need of its profile (a protocol, so that they need not import the profile)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class EntryShape(Protocol):
    @property
    def service(self) -> str: ...

    @property
    def port(self) -> int: ...


class AppShape(Protocol):
    """The services a profile's releases upgrade, its stateful services and its entry."""

    @property
    def releases(self) -> Mapping[str, Mapping[str, Any]]: ...

    @property
    def stateful(self) -> Sequence[str]: ...

    @property
    def entry(self) -> EntryShape: ...
