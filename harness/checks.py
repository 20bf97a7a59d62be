"""Response checks and captures: what counts as a good answer is stated by the profile, never read off a status.

One vocabulary for every response the harness judges (load requests, the
entry's health check, the write probe and its read-back):

    check:
      status: [200, 3xx]          accepted statuses (default 2xx); a 3xx fails unless accepted or followed
      follow_redirects: false     true: the final response after redirects is judged
      contains / not_contains     texts the body must (not) contain
      regex                       a pattern the body must match
      json                        JMESPath queries, each ``equals`` a value, ``exists`` or is ``not_empty``
      max_bytes                   a bound on the body's size
      headers                     response headers ``present``, ``equals`` or ``matches``

Texts may name ``{id}`` (the harness's id of a write) and ``{captured.NAME}``
(a value the server chose, taken from the write's answer by a ``capture``).
Judging returns the reason a check failed, worded from the profile (never
from the values substituted, so failures group by reason), or None. This
module is imported by the load process too: it depends on nothing that
gevent's patching would disturb.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Annotated, Any

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import BeforeValidator, Field, field_validator, model_validator

from harness.models import Strict

__all__ = ["ABSENT", "OUTCOMES", "PRESENT", "UNVERIFIABLE", "Capture", "Check", "HeaderCheck", "JsonCheck", "capture", "captured_of", "failure",
           "placeholders", "read_outcome", "substitute", "values_of", "write_outcome"]

PRESENT, ABSENT, UNVERIFIABLE = "present", "absent", "unverifiable"  # what a read-back says of a write
OUTCOMES = (PRESENT, ABSENT, UNVERIFIABLE)
RETRY_LATER = (408, 425, 429)  # 4xx answers that say nothing about the item

MAX_REASON = 80  # characters of a value quoted in a reason
_PLACEHOLDER = re.compile(r"\{(id|captured\.[A-Za-z0-9_]{1,40})\}")
_STATUS_CLASS = re.compile(r"^[1-5]xx$")


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, (str, dict)) else value


def _status(value: Any) -> int | str:
    """A status code (100-599, also as text) or a class such as ``2xx``."""
    if isinstance(value, str) and value.isdigit() and len(value) == 3:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    if isinstance(value, str) and _STATUS_CLASS.match(value.lower()):
        return value.lower()
    raise ValueError("a status is a code from 100 to 599 or a class such as 2xx")


def _pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"not a regular expression: {error}") from None
    return value


def _query(value: str) -> str:
    try:
        jmespath.compile(value)
    except JMESPathError as error:
        raise ValueError(f"not a JMESPath query ({str(error).splitlines()[0]})") from None
    return value


Status = Annotated[int | str, BeforeValidator(_status)]
Pattern = Annotated[str, Field(min_length=1, max_length=1000), BeforeValidator(_pattern)]
Query = Annotated[str, Field(min_length=1, max_length=500), BeforeValidator(_query)]
Text = Annotated[str, Field(min_length=1, max_length=1000)]


class JsonCheck(Strict):
    """A JMESPath query into the JSON body, and what its result must be: exactly one of the three."""

    query: Query
    equals: Any = None
    exists: bool | None = None
    not_empty: bool | None = None

    @model_validator(mode="after")
    def _one_expectation(self) -> JsonCheck:
        given = [k for k in ("exists", "not_empty") if getattr(self, k) is not None]
        if "equals" in self.model_fields_set and self.equals is not None:
            given.append("equals")
        if len(given) > 1 or not (given or "equals" in self.model_fields_set):
            raise ValueError(f"give exactly one of equals, exists or not_empty for query {self.query!r}")
        return self

    @field_validator("equals")
    @classmethod
    def _a_json_value(cls, value: Any) -> Any:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError("equals takes a JSON value: text, a finite number, true, false, null, a list or a "
                             "mapping of them") from None
        return value

    @property
    def compares(self) -> bool:
        """Whether the result must equal ``equals`` (also null), not merely exist or be non-empty."""
        return self.exists is None and self.not_empty is None


class HeaderCheck(Strict):
    """A response header: present (or, with ``present: false``, absent), equal to a text or matching a pattern."""

    present: bool = True
    equals: str | None = None
    matches: Pattern | None = None

    @model_validator(mode="after")
    def _consistent(self) -> HeaderCheck:
        if not self.present and (self.equals is not None or self.matches is not None):
            raise ValueError("a header that must be absent cannot also equal or match a value")
        return self


class Check(Strict):
    """What a response must be to count as a success."""

    status: list[Status] = Field(["2xx"], min_length=1, max_length=50)
    follow_redirects: bool = False
    contains: Annotated[list[Text], BeforeValidator(_as_list)] = []
    not_contains: Annotated[list[Text], BeforeValidator(_as_list)] = []
    regex: Pattern | None = None
    json_: Annotated[list[JsonCheck], BeforeValidator(_as_list)] = Field([], alias="json")
    max_bytes: int | None = Field(None, ge=0, le=1 << 30)
    headers: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")], HeaderCheck] = {}

    model_config = {**Strict.model_config, "populate_by_name": True}

    def accepts(self, status: int) -> bool:
        """Whether ``status`` is one this check accepts."""
        return any(status == s if isinstance(s, int) else str(status)[0] == s[0] for s in self.status)

    def texts(self) -> list[str]:
        """Every text of the check that may name placeholders."""
        headers = [t for h in self.headers.values() for t in (h.equals, h.matches) if t]
        equals = [j.equals for j in self.json_ if isinstance(j.equals, str)] + [j.query for j in self.json_]
        return [*self.contains, *self.not_contains, *([self.regex] if self.regex else []), *headers, *equals]


class Capture(Strict):
    """A value the server chose, taken from a write's answer: a JMESPath query into the JSON body, or a header
    or the body searched with a pattern (its first group, or the whole match)."""

    json_: Query | None = Field(None, alias="json")
    header: str | None = Field(None, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
    regex: Pattern | None = None

    model_config = {**Strict.model_config, "populate_by_name": True}

    @model_validator(mode="after")
    def _one_source(self) -> Capture:
        if self.json_ is not None and (self.header is not None or self.regex is not None):
            raise ValueError("capture from json, or from a header or the body with regex, not both")
        if self.json_ is None and self.regex is None and self.header is None:
            raise ValueError("give json (a JMESPath query), header (optionally with regex) or regex (on the body)")
        return self

    @field_validator("regex")
    @classmethod
    def _at_most_one_group(cls, value: str | None) -> str | None:
        if value is not None and re.compile(value).groups > 1:
            raise ValueError("a capture's pattern has at most one group: its value")
        return value


def values_of(write_id: str, captured: Mapping[str, str] | None) -> dict[str, str]:
    """The placeholders' values of one write: its id and what its answer captured (by capture name)."""
    return {"id": write_id, **{f"captured.{name}": value for name, value in (captured or {}).items()}}


def captured_of(values: Mapping[str, str]) -> dict[str, str]:
    """The captured values among a write's placeholder values, by capture name."""
    return {name.removeprefix("captured."): value for name, value in values.items() if name != "id"}


def placeholders(text: str) -> set[str]:
    """The placeholders a text names: ``id`` and ``captured.NAME``."""
    return set(_PLACEHOLDER.findall(text))


def substitute(text: str, values: Mapping[str, str], escape: bool = False,
               quote: Callable[[str], str] | None = None) -> str:
    """``text`` with ``{id}`` and ``{captured.NAME}`` replaced (regex-escaped with ``escape``, or made safe by
    ``quote``); unknown ones kept."""
    def replace(match: re.Match) -> str:
        value = values.get(match.group(1))
        if value is None:
            return match.group(0)
        return re.escape(value) if escape else quote(value) if quote else value
    return _PLACEHOLDER.sub(replace, text)


def _jmespath_raw(value: str) -> str:
    """A value inside a JMESPath raw string literal ('...'): its quotes escaped (the library reads a backslash
    as itself otherwise)."""
    return value.replace("'", "\\'")


def failure(check: Check, status: int, headers: Mapping[str, str], body: bytes,
            values: Mapping[str, str] = {}) -> str | None:
    """Why the response fails ``check``, or None when it passes. ``headers`` are looked up without regard to case."""
    if not check.accepts(status):  # a success the check does not take is the check's word, any other the server's
        wanted = "/".join(map(str, check.status))
        return f"check status {wanted}: got {status}" if 200 <= status < 300 else f"status {status}"
    if check.max_bytes is not None and len(body) > check.max_bytes:
        return f"check max_bytes {check.max_bytes}: got {len(body)}"
    return (_header_failure(check, headers, values) or _text_failure(check, body, values)
            or _json_failure(check, body, values))


def _header_failure(check: Check, headers: Mapping[str, str], values: Mapping[str, str]) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, rule in check.headers.items():
        value = lowered.get(name.lower())
        if (value is not None) != rule.present:
            return f"check header {name}: {'missing' if rule.present else 'present'}"
        if rule.equals is not None and value != substitute(rule.equals, values):
            return f"check header {name} equals {_quote(rule.equals)}: got {_quote(value)}"
        if rule.matches is not None and not _compiled(substitute(rule.matches, values, escape=True)).search(value):
            return f"check header {name} matches {_quote(rule.matches)}: got {_quote(value)}"
    return None


def _text_failure(check: Check, body: bytes, values: Mapping[str, str]) -> str | None:
    if not (check.contains or check.not_contains or check.regex):
        return None
    text = _text(body)
    for wanted in check.contains:
        if substitute(wanted, values) not in text:
            return f"check contains {_quote(wanted)}: not in the body"
    for unwanted in check.not_contains:
        if substitute(unwanted, values) in text:
            return f"check not_contains {_quote(unwanted)}: in the body"
    if check.regex and not _compiled(substitute(check.regex, values, escape=True)).search(text):
        return f"check regex {_quote(check.regex)}: no match"
    return None


def _json_failure(check: Check, body: bytes, values: Mapping[str, str]) -> str | None:
    if not check.json_:
        return None
    document, problem = _json(body)
    if problem:
        return f"check json: {problem}"
    for rule in check.json_:
        result = _search(substitute(rule.query, values, quote=_jmespath_raw), document)
        if rule.exists is not None and (result is not None) != rule.exists:
            return f"check json {rule.query} exists {str(rule.exists).lower()}: got {_shown(result)}"
        if rule.not_empty is not None and _empty(result) == rule.not_empty:
            return f"check json {rule.query} not_empty {str(rule.not_empty).lower()}: got {_shown(result)}"
        if rule.compares and not _equal(result, rule.equals, values):
            return f"check json {rule.query} equals {_shown(rule.equals)}: got {_shown(result)}"
    return None


def says_try_again(status: int | None) -> bool:
    """Whether an answer (``None`` or 0: none at all) asks to be tried again later: 5xx, 408, 425 or 429."""
    return not status or status >= 500 or status in RETRY_LATER


def read_outcome(check: Check, absent: Check | None, status: int, headers: Mapping[str, str], body: bytes,
                 values: Mapping[str, str]) -> tuple[str, str | None]:
    """What a read-back answer says of a write: present, absent or unverifiable, with the reason it is not present.

    Without an ``absent`` check, a 2xx or 4xx answer that fails ``check`` is
    absent (a search answering ``200 []``, a 404); no answer, a redirect, a 5xx
    or a "try again" status (408, 425, 429) is unverifiable: it does not say.
    """
    if not status:
        return UNVERIFIABLE, "no answer"
    reason = failure(check, status, headers, body, values)
    if reason is None:
        return PRESENT, None
    if absent is not None:
        return (ABSENT, reason) if failure(absent, status, headers, body, values) is None else (UNVERIFIABLE, reason)
    says = 200 <= status < 300 or (400 <= status < 500 and status not in RETRY_LATER)
    return (ABSENT if says else UNVERIFIABLE), reason


def write_outcome(check: Check, captures: Mapping[str, Capture], status: int, headers: Mapping[str, str],
                  body: bytes, values: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """What a write's answer captured, and why the write is not acknowledged (None: it is)."""
    reason = failure(check, status, headers, body, values)
    if reason is not None:
        return {}, reason
    captured, problem = capture(captures, headers, body)
    return captured, problem and f"acknowledged status, {problem}"


def capture(captures: Mapping[str, Capture], headers: Mapping[str, str], body: bytes) -> tuple[dict[str, str], str | None]:
    """The values ``captures`` take from a response (``captured.NAME`` -> text), and the reason one failed."""
    found: dict[str, str] = {}
    lowered = {k.lower(): v for k, v in headers.items()}
    document: Any = None
    for name, rule in captures.items():
        if rule.json_ is not None:
            if document is None:
                document, problem = _json(body)
                if problem:
                    return found, f"capture {name}: {problem}"
            value = _text_of(_search(rule.json_, document))
        else:
            source = lowered.get(rule.header.lower()) if rule.header else body.decode("utf-8", "replace")
            value = _matched(rule.regex, source)
        if value is None or value == "":
            return found, f"capture {name}: nothing found"
        found[f"captured.{name}"] = value
    return found, None


def _matched(pattern: str | None, source: str | None) -> str | None:
    if source is None or pattern is None:
        return source
    match = _compiled(pattern).search(source)
    return None if match is None else match.group(1 if match.re.groups else 0)


def _text_of(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return value if isinstance(value, str) else json.dumps(value)


@lru_cache(maxsize=8)  # a listing's body is judged once per write: decoded once
def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


@lru_cache(maxsize=8)  # parsed once per body (bytes cache their hash); queries never change the document
def _json(body: bytes) -> tuple[Any, str | None]:
    try:
        return json.loads(body), None
    except (ValueError, RecursionError):
        return None, "the body is not JSON"


def _search(query: str, document: Any) -> Any:
    try:
        return _jmespath(query).search(document)
    except JMESPathError:
        return None  # a type error in a function (``length(`5`)``) finds nothing


def _empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def _equal(found: Any, expected: Any, values: Mapping[str, str]) -> bool:
    if isinstance(expected, str):
        expected = substitute(expected, values)
        if not isinstance(found, str) and found is not None:
            return json.dumps(found) == expected  # a captured id (text) against a number in the body
    if isinstance(found, bool) or isinstance(expected, bool):
        return found is expected  # true is not 1
    return found == expected


def _shown(value: Any) -> str:
    return _quote(json.dumps(value, default=str))


def _quote(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 3] + "..."


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


@lru_cache(maxsize=256)
def _jmespath(query: str) -> Any:
    return jmespath.compile(query)
