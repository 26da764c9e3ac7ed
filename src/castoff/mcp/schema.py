"""Compact JSON Schemas for tools/list: every byte is paid in every agent's context.

pydantic's schemas are correct but chatty: an auto ``title`` on every property,
enums behind ``$ref`` into ``$defs``, ``anyOf [X, null]`` for optional values.
:func:`compact` rewrites them to an equivalent, smaller form: titles dropped
(descriptions kept), local references inlined (recursive ones kept), and
``anyOf [{"type": T}, {"type": "null"}]`` folded to ``{"type": [T, "null"]}``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import sys
import types
import typing
from datetime import date
from pathlib import PurePath
from typing import Any

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "contains", "propertyNames")
_DEFS_PREFIX = "#/$defs/"


def compact(schema: dict[str, Any]) -> dict[str, Any]:
    """A smaller schema that accepts exactly the same documents as ``schema``."""
    defs: dict[str, Any] = dict(schema.get("$defs", {}))
    kept: dict[str, Any] = {}

    def walk(node: Any, stack: tuple[str, ...]) -> Any:
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
            name = ref.removeprefix(_DEFS_PREFIX)
            if name in stack:  # recursive type: keep the reference and its definition
                kept[name] = defs[name]
                return {k: v for k, v in node.items() if k != "title"}
            target = walk(defs[name], (*stack, name))
            target.pop("description", None)  # the class docstring; the property says what it means
            siblings = {k: walk(v, stack) for k, v in node.items() if k not in ("$ref", "title")}
            return {**target, **siblings}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in {"title", "$defs"} or (key == "additionalProperties" and value is True):
                continue  # additionalProperties true is the default
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {name: walk(sub, stack) for name, sub in value.items()}
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                out[key] = [walk(sub, stack) for sub in value]
            elif key in _SCHEMA_VALUES:
                out[key] = walk(value, stack)
            else:
                out[key] = value
        return _fold_nullable(_fold_types(out))

    result = walk(schema, ())
    if kept:
        result["$defs"] = {name: walk(defs[name], (name,)) for name in kept}
    return result  # type: ignore[no-any-return]


def _fold_types(node: dict[str, Any]) -> dict[str, Any]:
    """``anyOf`` of bare types (``[{"type": "object"}, {"type": "string"}, …]``) → a type list."""
    options = node.get("anyOf")
    if not isinstance(options, list) or len(options) < 3:
        return node  # two arms are _fold_nullable's (it keeps an enum or format on the arm)
    kinds = [o.get("type") for o in options if isinstance(o, dict) and o.keys() == {"type"}]
    if len(kinds) != len(options) or not all(isinstance(k, str) for k in kinds):
        return node
    folded = {k: v for k, v in node.items() if k != "anyOf"}
    return {"type": kinds, **folded}


def _fold_nullable(node: dict[str, Any]) -> dict[str, Any]:
    """``anyOf [{"type": T, ...}, {"type": "null"}]`` → ``{"type": [T, "null"], ...}``."""
    options = node.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return node
    other = options[0] if options[1] == {"type": "null"} else options[1]
    kind = other.get("type")
    if not isinstance(kind, str) or "anyOf" in other:
        return node
    folded = {k: v for k, v in node.items() if k != "anyOf"}
    merged = {**other, **folded, "type": [kind, "null"]}
    if "enum" in merged:
        merged["enum"] = [*merged["enum"], None]
    return merged


def input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's input schema, compacted; optional parameters drop their ``null`` arm.

    The server accepts ``null`` for them as well; the published schema only
    tells clients to leave an optional parameter out rather than send null.
    """
    result = compact(schema)
    for name, prop in result.get("properties", {}).items():
        if name in result.get("required", []) or prop.get("default", 0) is not None:
            continue
        prop.pop("default")
        kind = prop.get("type")
        if isinstance(kind, list) and "null" in kind:
            rest = [k for k in kind if k != "null"]
            prop["type"] = rest[0] if len(rest) == 1 else rest
            if "enum" in prop:
                prop["enum"] = [v for v in prop["enum"] if v is not None]
    return result


def output_schema(result_type: type) -> dict[str, Any]:
    """A tool's output schema, kept shallow: every field of the result and its JSON type.

    Results are our own dataclasses (or TypedDicts), always complete; nested
    objects are described by their type only. That keeps tools/list small, and
    every result still validates against the schema.
    """
    if dataclasses.is_dataclass(result_type):
        fields = {f.name: f.type for f in dataclasses.fields(result_type)}
    else:
        fields = dict(getattr(result_type, "__annotations__", {}))
    namespace = vars(sys.modules[result_type.__module__])
    properties = {name: _json_type(_resolve(hint, namespace)) for name, hint in fields.items()}
    return {"type": "object", "properties": properties}


def _resolve(hint: Any, namespace: dict[str, Any]) -> Any:
    """A string annotation evaluated in its module (not the class, whose fields shadow types)."""
    if isinstance(hint, str):
        return eval(hint, dict(namespace))  # our own annotations, evaluated in their module
    return hint


_SCALARS: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _json_type(hint: Any) -> dict[str, Any]:
    """``{"type": ...}`` for a Python annotation; ``{}`` when any value is possible."""
    kinds: list[str] = []
    for option in _options(hint):
        kind = _kind_of(option)
        if kind is None:
            return {}
        if kind not in kinds:
            kinds.append(kind)
    return {"type": kinds[0] if len(kinds) == 1 else kinds}


def _options(hint: Any) -> list[Any]:
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _options(typing.get_args(hint)[0])
    if origin in (typing.Union, types.UnionType):
        return [o for arg in typing.get_args(hint) for o in _options(arg)]
    return [hint]


def _kind_of(hint: Any) -> str | None:
    if hint is None or hint is type(None):
        return "null"
    if hint is Any:
        return None
    origin = typing.get_origin(hint) or hint
    if typing.get_origin(hint) is typing.Literal:
        return "string"
    if isinstance(origin, type):
        if issubclass(origin, enum.Enum | date | PurePath):
            return "string"
        for kind, name in _SCALARS.items():
            if issubclass(origin, kind):
                return name
        if issubclass(origin, list | tuple | set | frozenset):
            return "array"
        if (
            issubclass(origin, dict)
            or dataclasses.is_dataclass(origin)
            or typing.is_typeddict(origin)
        ):
            return "object"
    if isinstance(origin, type) and issubclass(origin, collections.abc.Mapping):
        return "object"
    if isinstance(origin, type) and issubclass(origin, collections.abc.Sequence):
        return "array"
    return None
