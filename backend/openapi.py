"""OpenAPI wiring: the problem-details component and each operation's error responses."""

from __future__ import annotations

from typing import Any

# settings.SPECTACULAR_SETTINGS (drf-spectacular's), kept here with the hooks it names.
OPENAPI_SETTINGS: dict[str, Any] = {
    "TITLE": "Afterglow API",
    "DESCRIPTION": (
        "Backend of a therapy journal for people in ketamine-assisted psychotherapy. "
        "Patients write; therapists read what patients share. Every error is an RFC 9457 "
        "problem document (application/problem+json)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "backend.openapi.add_problem_responses",
        "backend.openapi_links.add_links",
    ],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "TAGS": [
        {"name": "auth", "description": "Registration, sign-in, devices and tokens."},
        {"name": "me", "description": "The signed-in account."},
        {"name": "health", "description": "Liveness and readiness."},
    ],
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details, the shape of every error.",
    "properties": {
        "type": {"type": "string", "example": "urn:afterglow:problem:validation"},
        "title": {"type": "string", "example": "Bad Request"},
        "status": {"type": "integer", "example": 400},
        "detail": {"type": "string", "example": "Some fields are invalid: see 'errors'."},
        "code": {"type": "string", "example": "validation"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"email": ["Enter a valid email address."]},
        },
        "request_id": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail", "code"],
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    "400": "Invalid request: see `errors` for the fields.",
    "401": "Not signed in, or the token is invalid or expired.",
    "403": "Signed in, but not allowed (for therapists: no second factor).",
    "404": "Not found, or not yours.",
    "405": "Method not allowed.",
    "409": "Conflict with the current state.",
    "412": "The resource changed since the version you sent.",
    "413": "The request body is too large.",
    "414": "The URL is too long (the web server's limit).",
    "415": "Unsupported media type: send application/json.",
    "429": "Too many requests: wait for `Retry-After` seconds.",
    "431": "The request headers are too large (the web server's limit).",
    "500": "Server error.",
}


def _problem_response(code: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS[code],
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    if code == "429":
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
        }
    return response


def _parameters_in(operation: dict[str, Any], *locations: str) -> bool:
    return any(parameter.get("in") in locations for parameter in operation.get("parameters", []))


def add_problem_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every operation documents its errors."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            codes = ["405", "500"]
            if operation.get("security") and {} not in operation["security"]:
                codes += ["401", "403"]
            if "{" in path:
                codes.append("404")
            if _parameters_in(operation, "query", "header"):
                codes.append("400")  # a bad filter, cursor or If-Match, as a bad body
            # gunicorn refuses a request line or headers over its limits (gunicorn_conf.py)
            if _parameters_in(operation, "query", "path"):
                codes.append("414")
            if _parameters_in(operation, "header"):
                codes.append("431")
            if "requestBody" in operation:
                codes += ["400", "413", "415"]
            if operation.get("x-throttled"):
                codes.append("429")
            for code in codes:
                existing = responses.get(code)
                if existing is None:
                    responses[code] = _problem_response(code)
                elif "content" not in existing:
                    existing["content"] = _problem_response(code)["content"]
    return result
