"""One exception handler for the whole API: domain errors to 4xx, never a bare 500 for bad input."""
from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import DomainError
from core.http import body_too_large
from core.unavailable import database_unavailable_response, is_database_unavailable


def exception_handler(exc, context):
    if is_database_unavailable(exc):  # 503 + Retry-After in the endpoint's format, not a 500 page
        return database_unavailable_response(context["request"])
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body["field"] = exc.field
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):  # Django would answer it as an HTML 400
        return body_too_large()
    if isinstance(exc, ProtectedError | RestrictedError):
        return _still_referenced(exc)
    return drf_exception_handler(exc, context)


def _still_referenced(exc: ProtectedError | RestrictedError) -> Response:
    """409 naming what still refers to the row (a team's services, a service's incidents...)."""
    objects = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    counts: dict[str, int] = {}
    for obj in objects:
        name = str(obj._meta.verbose_name_plural)
        counts[name] = counts.get(name, 0) + 1
    listed = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    return Response({"detail": f"Cannot delete it: still referred to by {listed}. Remove or reassign those first.",
                     "code": "still_referenced", "referenced_by": counts}, status=status.HTTP_409_CONFLICT)
