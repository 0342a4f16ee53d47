"""The OpenAPI document's settings, star-imported by backend/settings.py (which is at its
size limit): drf-spectacular's names, servers, enum names and post-processing hooks."""

from __future__ import annotations

from typing import Any

__all__ = ["PROBLEM_CODES_STRICT", "SPECTACULAR_SETTINGS"]

# A problem `code` outside backend.problem_codes (the enum the document promises) raises
# when true (the tests' settings); otherwise it is logged and answered as `error`.
PROBLEM_CODES_STRICT = False

SPECTACULAR_SETTINGS: dict[str, Any] = {
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
    # Enum components named for what they are (drf-spectacular would say StateEnum, ...).
    "ENUM_NAME_OVERRIDES": {
        "ShareState": "integration.care.selectors.ShareState.ALL",
        "AccessVia": ["api", "dashboard", "calendar"],
        "SharedVia": ["entry", "session"],
        "Role": "backend.accounts.models.Role",
        "PushPlatform": ["ios", "android", "web"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "backend.openapi.add_problem_responses",
        "backend.openapi.rename_operations",
        "backend.openapi_links.add_links",
        "backend.openapi.type_nullable_references",
        "backend.openapi.mark_anonymous_operations",
    ],
    # The service that serves the document: generated clients are given their base URL.
    "SERVERS": [{"url": "/", "description": "The service that serves this document"}],
    "LICENSE": {"name": "Proprietary"},
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "TAGS": [
        {"name": "auth", "description": "Registration, sign-in, devices and tokens."},
        {"name": "me", "description": "The signed-in account."},
        {"name": "health", "description": "Liveness and readiness."},
    ],
}
