"""Tool arguments: checked against the published schema, refused in one clear line.

The SDK would answer a bad argument with pydantic's multi-line dump (naming an
internal ``…Arguments`` model and a documentation URL) and accept unknown
parameters silently. castoff validates itself, with the tool's argument model
made strict (unknown parameters are refused, and the published schema says
``additionalProperties: false``), and words each problem from the published
schema::

    orchestrator_plan_task: complexity must be one of trivial, simple, moderate,
    complex, very_complex; got 'huge'
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict, ValidationError

MAX_PROBLEMS = 3
_SHOWN = 60
_BOUNDS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "too_short",
    "too_long",
    "string_too_short",
    "string_too_long",
    "multiple_of",
}


def strict(model: type[Any]) -> type[Any]:
    """``model`` (a pydantic arguments model) refusing parameters it does not declare."""
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return type(model.__name__, (model,), {"model_config": config, "__module__": __name__})


def problem(tool: str, exc: ValidationError, schema: dict[str, Any]) -> str:
    """One line saying what is wrong with the arguments of ``tool``."""
    lines: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        path, node = _locate(error["loc"], schema)
        if path in lines:
            continue  # the other arms of a union: the schema already says what is accepted
        lines[path] = _describe_error(error, path, node, schema)
    shown = list(lines.values())[:MAX_PROBLEMS]
    more = len(lines) - len(shown)
    return f"{tool}: {'; '.join(shown)}" + (f" (and {more} more)" if more > 0 else "")


def _locate(loc: tuple[int | str, ...], schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The readable path of an error location (``status[0]``) and its schema node.

    pydantic adds union-arm tags (``dict[str,any]``) to locations; they name no
    property and end the path.
    """
    path = ""
    node: dict[str, Any] = schema
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node.get("items", {}) if isinstance(node.get("items"), dict) else {}
            continue
        properties = node.get("properties", {})
        if part not in properties and path:
            break
        path = f"{path}.{part}" if path else part
        node = properties.get(part, {})
    return path, node


def _describe_error(error: Any, path: str, node: dict[str, Any], schema: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"{path} is required"
    if kind == "extra_forbidden":
        accepted = ", ".join(schema.get("properties", {})) or "none"
        return f"unknown parameter {path!r} (accepted: {accepted})"
    got = _shown(error.get("input"))
    if kind in _BOUNDS:
        return f"{path} {_must(error['msg'])}; got {got}"
    expected = expectation(node)
    if expected is None:
        return f"{path} {_must(error['msg'])}; got {got}"
    return f"{path} must be {expected}; got {got}"


def _must(message: str) -> str:
    for prefix in ("Input should be ", "Value should be "):
        if message.startswith(prefix):
            return "must be " + message.removeprefix(prefix).split(",")[0]
    return message[:1].lower() + message[1:]


def expectation(node: dict[str, Any]) -> str | None:
    """What a schema node accepts, in words (``one of a, b``, ``an integer from 1 to 9``)."""
    if "enum" in node:
        values = [v for v in node["enum"] if v is not None]
        return "one of " + ", ".join(str(v) for v in values)
    if "const" in node:
        return json.dumps(node["const"])
    options = node.get("anyOf") or node.get("oneOf")
    if isinstance(options, list):
        words = [w for w in (expectation(o) for o in options) if w]
        return " or ".join(words) or None
    kind = node.get("type")
    kinds = [k for k in (kind if isinstance(kind, list) else [kind]) if k and k != "null"]
    if not kinds:
        return None
    return " or ".join(_kind(k, node) for k in kinds)


def _kind(kind: str, node: dict[str, Any]) -> str:
    if kind == "array":
        items = node.get("items")
        inner = expectation(items) if isinstance(items, dict) else None
        if inner is None:
            return "an array"
        if inner.startswith("one of "):
            return "an array of items from " + inner.removeprefix("one of ")
        plural = {"a string": "strings", "an object": "objects", "an integer": "integers"}
        return f"an array of {plural.get(inner, inner)}"
    if kind in ("integer", "number"):
        low, high = node.get("minimum"), node.get("maximum")
        noun = "an integer" if kind == "integer" else "a number"
        if low is not None and high is not None:
            return f"{noun} from {low} to {high}"
        if low is not None:
            return f"{noun} ≥ {low}"
        if high is not None:
            return f"{noun} ≤ {high}"
        return noun
    if kind == "string" and "pattern" in node:
        return f"a string matching {node['pattern']}"
    return {"boolean": "true or false", "string": "a string", "object": "an object"}.get(kind, kind)


def _shown(value: Any) -> str:
    text = f"'{value}'" if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
