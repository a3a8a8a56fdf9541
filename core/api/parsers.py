"""DRF's JSON parser with a nesting limit: a deeply nested body is a 400 naming the limit, not a 500.

The standard json module recurses once per level and raises RecursionError (a 500) near 1,000
levels; what it does parse that deep breaks later (json.dumps, jsonb). No payload we take needs
more than a few dozen levels.
"""
from __future__ import annotations

from typing import Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 64  # Alertmanager, PagerDuty, OTLP and our own bodies stay under 20 levels


def json_too_deep(value: Any, *, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether objects and arrays nest more than `limit` levels (iterative: no recursion)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def depth_problem(limit: int = MAX_JSON_DEPTH) -> str:
    return f"JSON nested more than {limit} levels deep"


class DepthLimitedJSONParser(JSONParser):
    """Strict JSON (no NaN/Infinity, as DRF's), through orjson, which stops at 1,024 levels
    instead of recursing; then at most MAX_JSON_DEPTH levels."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if "depth limit" in str(exc) or "recursion" in str(exc).lower():
                raise ParseError(f"JSON parse error - {depth_problem()}.") from None
            raise ParseError(f"JSON parse error - {exc}") from None
        if json_too_deep(data):
            raise ParseError(f"JSON parse error - {depth_problem()}.")
        return data
