"""The OpenAPI schema: our authentication schemes, nullable fields and documented error answers."""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.validators import UniqueValidator


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = "core.authentication.IntegrationTokenAuthentication"
    name = "integrationToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Integration token of a monitoring agent (`aiops_...`), shown once at creation.",
        }


class PersonTokenScheme(OpenApiAuthenticationExtension):
    target_class = "core.authentication.BearerTokenAuthentication"
    name = "personToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A person's API token: `Token <key>`.",
        }


# --- Generated schema that tells the truth ----------------------------------------------------------

ERROR_COMPONENT = "Error"
VALIDATION_ERROR_COMPONENT = "ValidationError"

_ERROR_SCHEMA = {
    "type": "object",
    "description": "An error: what went wrong (`detail`), a stable `code`, and the `field` when one is to blame.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "field": {"type": "string", "nullable": True},
    },
    "required": ["detail"],
    "additionalProperties": True,
}
_VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Invalid input: each offending field maps to its messages (`non_field_errors` for the whole body), "
        "or a `detail` with a `code` and `field`."
    ),
    "additionalProperties": True,
}

_ERROR_DESCRIPTIONS = {
    "400": "Invalid input; the body names each offending field.",
    "401": "No credentials, or credentials that are unknown or revoked.",
    "403": "Authenticated, but the role does not allow this.",
    "404": "No such object (or not visible to the caller).",
    "409": "Not allowed in the object's current state, or still referred to by other objects.",
    "413": "The request body is larger than the server accepts; the body names the limit.",
    "429": "Rate limit of the integration reached; retry after `Retry-After` seconds.",
}

# Only the intake endpoints count requests against an integration's rate limit (core.ratelimit).
_RATE_LIMITED_PREFIXES = ("/api/v1/telemetry", "/api/v1/integrations/")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _through_nullable_relation(serializer, field) -> bool:
    """True when `field`'s source walks through a nullable foreign key: DRF then answers null."""
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    for attr in getattr(field, "source_attrs", None) or []:
        if model is None:
            return False
        try:
            model_field = model._meta.get_field(attr)
        except Exception:  # noqa: BLE001 - a property or method, not a model field
            return False
        if not model_field.is_relation:
            return False
        if model_field.null:
            return True
        model = model_field.related_model
    return False


class AutoSchema(BaseAutoSchema):
    """drf-spectacular's AutoSchema, plus the nulls and error answers the API really gives."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        meta = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and any(isinstance(v, UniqueValidator) for v in field.validators):
            # Enforced (400 on a duplicate) but invisible in the schema otherwise.
            meta["description"] = " ".join(filter(None, [meta.get("description"), "Must be unique."]))
        if direction == "response" and not meta.get("nullable") and "$ref" not in meta:
            reads_null = field.read_only and field.default is None
            if reads_null or _through_nullable_relation(field.parent, field):
                meta["nullable"] = True
        return meta

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._error_response(code)
        return responses

    def _error_codes(self) -> list[str]:
        codes = []
        if self.method in _BODY_METHODS or self._get_filter_parameters() or self._query_serializer_like():
            codes.append("400")
        public = all(getattr(p, "__name__", "") == "AllowAny" for p in self.view.get_permissions())
        if not public:
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.method == "DELETE" or (self.method in _BODY_METHODS and "{" in self.path):
            codes.append("409")
        if self.method in _BODY_METHODS:
            codes.append("413")
        if self.path.startswith(_RATE_LIMITED_PREFIXES):
            codes.append("429")
        return codes

    def _query_serializer_like(self) -> bool:
        # GET endpoints documented with query parameters validate them and answer 400.
        return self.method == "GET" and any(
            p.get("in") == "query" and p.get("name") not in {"page", "page_size"}
            for p in self._get_parameters()
        )

    def _error_response(self, code: str) -> dict:
        name = VALIDATION_ERROR_COMPONENT if code == "400" else ERROR_COMPONENT
        schema = _VALIDATION_ERROR_SCHEMA if code == "400" else _ERROR_SCHEMA
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name)
        self.registry.register_on_missing(component)
        return {
            "content": {"application/json": {"schema": component.ref}},
            "description": _ERROR_DESCRIPTIONS[code],
        }


# Intake URLs as agents are told to call them (README "Connect your monitoring"): the routes accept a
# trailing slash and PagerDuty's variants, which the generator would otherwise print as the canonical path.
AGENT_PATHS = {
    "/api/v1/integrations/alertmanager/": "/api/v1/integrations/alertmanager",
    "/api/v1/integrations/grafana/": "/api/v1/integrations/grafana",
    "/api/v1/integrations/pagerduty/": "/api/v1/integrations/pagerduty/v2/enqueue",
}


def agent_paths_hook(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: document the intake paths exactly as agents call them."""
    result["paths"] = {AGENT_PATHS.get(path, path): item for path, item in result["paths"].items()}
    return result
