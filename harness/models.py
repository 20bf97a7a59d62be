"""What every input model shares: strict keys, durations, and errors that name file, key, value and what is allowed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> Any:
    """``"500ms"``, ``"5s"``, ``"2m"``, ``"1h"`` or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 5s, 500ms or 2m")
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError("a duration such as 5s, 500ms or 2m")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


M = TypeVar("M", bound=BaseModel)
Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently change a run."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def load_model(path: Path, model: type[M], what: str, error: type[Exception]) -> M:
    """A YAML file validated as ``model``, or ``error`` naming the file and every problem in it."""
    document = read_yaml_mapping(path, what, error)
    try:
        return model.model_validate(document)
    except ValidationError as problem:
        raise error(format_errors(path, problem.errors(), model, what)) from problem


def read_yaml_mapping(path: Path, what: str, error: type[Exception]) -> dict:
    """The YAML mapping in ``path``, or ``error`` naming the file and what is wrong with it."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as problem:
        raise error(f"{path}: cannot read the {what}: {problem.strerror}") from problem
    except yaml.YAMLError as problem:
        raise error(f"{path}: not valid YAML: {problem}") from problem
    if not isinstance(document, dict):
        raise error(f"{path}: a {what} is a mapping of keys, got {document!r}")
    return document


def format_errors(path: Path, errors: list[dict[str, Any]], model: type[BaseModel], what: str) -> str:
    """One line per problem: file, key path, bad value, what is allowed."""
    lines = [f"{path}: invalid {what} ({len(errors)} problem{'s' if len(errors) != 1 else ''})"]
    for error in errors:
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error.get("file"):  # a problem in a file the input refers to (an app profile's compose file)
            key = f"{error['file']}: {key}"
        message = error["msg"]
        if error.get("type") == "extra_forbidden":
            allowed = _keys_at(model, tuple(error["loc"][:-1]))
            message = f"unknown key; allowed here: {', '.join(allowed)}" if allowed else "unknown key"
        lines.append(f"  {key}: got {error.get('input')!r}: {message}")
    return "\n".join(lines)


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
