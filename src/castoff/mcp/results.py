"""Tool results on the wire: structured content plus a readable text copy.

Each tool's return type gets one pydantic serializer, built on its first call
and reused: ``structuredContent`` is its ``to_python(mode="json")`` and the text
copy (the MCP spec says a tool with structured output SHOULD also return it as
text) is one readable line followed by its ``to_json`` bytes; the structured
content is those bytes parsed back (``json.loads`` of a page of 50 tasks takes
0.14 ms, a second walk by ``to_python`` 0.24 ms). One walk of the result, in
Rust, instead of a recursive Python conversion plus ``json.dumps``. Results are
built in their wire form (camelCase dicts), ready to be sent as they are.

Values are spelled exactly as the CLI's ``--json`` spells them
(:func:`castoff.serialize.to_data`): enums by value, paths as strings, and
datetimes by :meth:`datetime.isoformat` (``+00:00``, where pydantic would
write ``Z``). A type pydantic cannot describe falls back to ``to_data``.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from datetime import datetime
from typing import Any

from pydantic import PydanticSchemaGenerationError, TypeAdapter
from pydantic_core import SchemaSerializer, core_schema

from castoff.mcp.text import describe
from castoff.serialize import to_data

logger = logging.getLogger("castoff.mcp")

_ISOFORMAT = core_schema.plain_serializer_function_ser_schema(
    datetime.isoformat, when_used="json-unless-none"
)


class ResultShape:
    """How one tool's results become a :class:`CallToolResult` (serializer built lazily)."""

    def __init__(self, result_type: Any) -> None:
        self.result_type = result_type
        self._serializer: SchemaSerializer | None = None
        self._fallback = False
        self._lock = threading.Lock()

    def serializer(self) -> SchemaSerializer | None:
        """The serializer for the result type, or None when pydantic cannot describe it."""
        if self._serializer is None and not self._fallback:
            with self._lock:
                if self._serializer is None and not self._fallback:
                    self._serializer = _build(self.result_type)
                    self._fallback = self._serializer is None
        return self._serializer

    def result(self, value: Any) -> dict[str, Any]:
        """The ``CallToolResult`` on the wire: structured content, and the line plus JSON."""
        serializer = self.serializer()
        if serializer is None:
            data = to_data(value)
            raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        else:
            # One walk of the result: parsing its JSON back costs less than to_python.
            raw = serializer.to_json(value, fallback=str).decode()
            data = json.loads(raw)
        text = f"{describe(value)}\n{raw}"
        return {"content": [{"type": "text", "text": text}], "structuredContent": data}


def error_result(message: str, *, kind: str, exit_code: int = 1) -> dict[str, Any]:
    """A tool error the model can read and act on, on the wire."""
    return {
        "content": [{"type": "text", "text": message}],
        "isError": True,
        "_meta": {"castoff/error": kind, "castoff/exit_code": exit_code},
    }


def _build(result_type: Any) -> SchemaSerializer | None:
    try:
        schema = copy.deepcopy(TypeAdapter(result_type).core_schema)
    except PydanticSchemaGenerationError as exc:
        logger.debug("results of %r are converted by to_data: %s", result_type, exc)
        return None
    _isoformat_datetimes(schema)
    return SchemaSerializer(schema)


def _isoformat_datetimes(node: Any) -> None:
    """Serialize every ``datetime`` in a core schema with :meth:`datetime.isoformat`."""
    if isinstance(node, dict):
        if node.get("type") == "datetime" and "serialization" not in node:
            node["serialization"] = _ISOFORMAT
        for value in node.values():
            _isoformat_datetimes(value)
    elif isinstance(node, list):
        for value in node:
            _isoformat_datetimes(value)
