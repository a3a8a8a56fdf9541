"""Request bodies as agents send them: chunked uploads read in full, oversized ones refused as JSON."""
from __future__ import annotations

import io

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, JsonResponse

_READ_SIZE = 64 * 1024  # bounded reads: a slow chunked sender never makes us allocate the whole limit


def body_too_large(limit: int | None = None) -> JsonResponse:
    """413 naming the limit, in the API's error shape, instead of Django's HTML 400."""
    limit = limit or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        {
            "detail": f"the request body is larger than the server accepts ({limit} bytes)",
            "code": "body_too_large",
            "limit": limit,
        },
        status=413,
    )


def declared_length(request: HttpRequest) -> int | None:
    """The body's `Content-Length`, None when absent or not a number."""
    raw = request.META.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _is_chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


class RequestBodyMiddleware:
    """Makes chunked bodies readable and refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE with 413.

    Django reads `CONTENT_LENGTH` bytes and treats a missing length as an empty body, but Go and
    Java agents stream with `Transfer-Encoding: chunked` and gunicorn hands such a body to the app
    de-chunked, without a length: the alert was read as `{}` and refused. Here the body is read
    (at most the limit plus one byte) and given a length, so every view and DRF parser sees it and
    the per-endpoint limits apply as for any other body.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = declared_length(request)
        if limit is not None and declared is not None and declared > limit:
            return body_too_large(limit)
        if declared is None and _is_chunked(request) and "wsgi.input" in request.META:
            body = self._read_all(request.META["wsgi.input"], limit)
            if body is None:
                return body_too_large(limit)
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))
        return self.get_response(request)

    @staticmethod
    def _read_all(stream, limit: int | None) -> bytes | None:
        """The whole body, or None once it passes `limit`."""
        parts: list[bytes] = []
        size = 0
        while True:
            part = stream.read(_READ_SIZE)
            if not part:
                return b"".join(parts)
            size += len(part)
            if limit is not None and size > limit:
                return None
            parts.append(part)
