"""Request bodies for the API: DRF's JSON parser with a nesting limit, the raw body for agents' formats,
and orjson for the models API's batches.

A deeply nested JSON body is a 400 naming the limit, not a 500: the standard json module recurses
once per level and raises RecursionError near 1,000 levels; what it does parse that deep breaks
later (json.dumps, jsonb). No payload we take needs more than a few dozen levels.
"""
from __future__ import annotations

from typing import Any

import orjson
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.request import Request

from core.exceptions import InvalidInput
from core.http import declared_length

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


class RawBodyParser(BaseParser):
    """Any media type, parsed by nobody: the view reads the bytes with `read_body` and stores them
    verbatim or decodes them itself (orjson, protobuf), answering a bad body in its own format."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


class BodyTooLarge(Exception):
    """The body passes the endpoint's limit; `declared` is its Content-Length when that said so."""

    def __init__(self, *, limit: int | None, declared: int | None = None) -> None:
        super().__init__(f"body larger than {limit} bytes" if limit else "body larger than the server accepts")
        self.limit = limit
        self.declared = declared


def read_body(request: Request | HttpRequest, *, limit: int | None = None) -> bytes:
    """The raw request body, or BodyTooLarge: before reading it when its declared length passes
    `limit`, and when Django refuses it (over DATA_UPLOAD_MAX_MEMORY_SIZE; core.http answers most
    of those with 413 before any view runs)."""
    http = request._request if isinstance(request, Request) else request
    if limit is not None:
        declared = declared_length(http) or 0
        if declared > limit:
            raise BodyTooLarge(limit=limit, declared=declared)
    try:
        return http.body
    except RequestDataTooBig:
        raise BodyTooLarge(limit=limit) from None


class OrjsonParser(BaseParser):
    """JSON bodies through orjson (4x faster than the json module on a 100-record batch).

    Like DRF's strict JSONParser it refuses NaN and Infinity; a bad body is a 400 naming `body`.
    """

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return orjson.loads(stream.read() if stream is not None else b"")
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from None
