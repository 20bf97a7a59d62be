"""What every input model shares: strict keys, durations, and errors that name file, key, value and what is allowed.

Files are read through ``harness.safe_yaml``; error messages quote values
shortened and list at most ``MAX_PROBLEMS`` problems, so they stay a few KB
whatever the input.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from harness.safe_yaml import as_text, clip, quote, read_yaml

MAX_PROBLEMS = 20
MAX_DURATION = 24 * 3600.0
DURATION_HINT = "a duration such as 5s, 500ms or 2m, at most 24h"

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


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


def format_errors(path: Path, errors: list[dict[str, Any]], model: type[BaseModel], what: str) -> str:
    """One line per problem (at most ``MAX_PROBLEMS``): file, key path, bad value (shortened), what is allowed."""
    lines = [f"{path}: invalid {what} ({len(errors)} problem{'s' if len(errors) != 1 else ''})"]
    lines += [_problem_line(error, model) for error in errors[:MAX_PROBLEMS]]
    if len(errors) > MAX_PROBLEMS:
        lines.append(f"  and {len(errors) - MAX_PROBLEMS} more")
    return "\n".join(lines)


def _problem_line(error: dict[str, Any], model: type[BaseModel]) -> str:
    error = resolved(error, model)
    key = clip(".".join(clip(as_text(part), 40) for part in error["loc"]) or "(top level)", 120)
    if error.get("file"):  # a problem in a file the input refers to (an app profile's compose file)
        key = f"{error['file']}: {key}"
    if error.get("missing"):
        return f"  {key}: got nothing: this key is required"
    return f"  {key}: got {quote(error.get('input'))}: {clip(as_text(error['msg']), 300)}"


def problems(error: ValidationError, model: type[BaseModel], file: Path | None = None) -> list[dict[str, Any]]:
    """pydantic's errors for ``model`` as problems ``format_errors`` shows as they are, whatever model it is given
    (a compose file's problems in a profile's message), each naming ``file``."""
    return [{**resolved(e, model), **({"file": file} if file else {})} for e in error.errors()]


def resolved(error: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """A pydantic error said for a user: the key path without the forms pydantic tried (``=text``), an unknown key
    with the keys allowed there, a missing key without its whole mapping quoted. Resolved ones pass unchanged."""
    if "type" not in error:
        return error
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("=")))
    kind, message = error["type"], _MODEL_WORDS.sub("", as_text(error["msg"]))
    if loc and loc[-1] == "[key]" and kind == "string_type":
        message = "a name here is text, not a number or another value"
    if kind == "extra_forbidden":
        allowed = _keys_at(model, loc[:-1])
        message = f"unknown key; allowed here: {', '.join(allowed)}" if allowed else "unknown key"
    found = {k: v for k, v in error.items() if k in ("file", "input")}
    return {"loc": loc, "msg": message, **found, **({"missing": True} if kind == "missing" else {})}


_MODEL_WORDS = re.compile(r" or instance of \w+")  # pydantic's words for a model instance, which no file holds


def _keys_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """The keys ``model`` accepts at ``loc`` (list indexes and mapping keys skipped)."""
    for part in loc:
        if not isinstance(part, str) or model is None:
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
