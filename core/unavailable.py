"""Answers for "the database is unreachable": 503 with Retry-After, in the endpoint's own format.

A sender that gets 503 + Retry-After retries (Alertmanager, Grafana, PagerDuty clients and OTLP
exporters all do); a 500 HTML page tells it nothing, and a 2xx would lose what was not stored.
"""
from __future__ import annotations

import re

import orjson
import psycopg
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse

# Long enough for a restart or a fail-over to finish, short enough that pages are not held up.
RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is unavailable; nothing was stored. Retry later."
DATABASE_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)

_PAGERDUTY = re.compile(r"^/api/v1/integrations/pagerduty")
_PROTOBUF = "application/x-protobuf"


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, DATABASE_ERRORS)


def database_unavailable_response(request) -> HttpResponse:
    path = request.path_info
    body: bytes | str
    if _PAGERDUTY.match(path):  # PagerDuty Events v2's error body
        body, content_type = orjson.dumps(
            {"status": "unavailable", "message": MESSAGE, "errors": ["database unavailable"]}
        ), "application/json"
    elif path.startswith("/otlp/"):  # OTLP/HTTP: a google.rpc.Status in the request's encoding
        body, content_type = _rpc_status(request)
    elif path.startswith("/api/"):
        body, content_type = orjson.dumps({"detail": MESSAGE, "code": "database_unavailable"}), "application/json"
    else:
        body, content_type = (
            "<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1>"
            f"<p>{MESSAGE} This page will work again in a moment.</p>"
        ), "text/html; charset=utf-8"
    response = HttpResponse(body, status=503, content_type=content_type)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _rpc_status(request) -> tuple[bytes, str]:
    code = 14  # google.rpc.Code UNAVAILABLE: OTLP exporters retry it
    media = (request.content_type or "").split(";")[0].strip().lower()
    if media == _PROTOBUF:
        text = MESSAGE.encode()  # Status{code=1: varint, message=2: string}, short enough for 1-byte lengths
        return bytes([0x08, code, 0x12, len(text)]) + text, _PROTOBUF
    return orjson.dumps({"code": code, "message": MESSAGE}), "application/json"
