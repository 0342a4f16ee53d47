"""OpenAPI wiring: the problem-details component and each operation's error responses."""

from __future__ import annotations

from typing import Any

from backend.problem_codes import ProblemCode

# settings.SPECTACULAR_SETTINGS (drf-spectacular's), kept here with the hooks it names.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details, the shape of every error.",
    "properties": {
        "type": {
            "type": "string",
            "description": "A URN naming the kind of problem: `urn:afterglow:problem:` + `code`.",
            "pattern": "^urn:afterglow:problem:[a-z0-9_]+$",
            "example": "urn:afterglow:problem:validation",
        },
        "title": {"type": "string", "example": "Bad Request"},
        "status": {"type": "integer", "example": 400},
        "detail": {"type": "string", "example": "Some fields are invalid: see 'errors'."},
        "instance": {
            "type": "string",
            "description": "This occurrence, named by its request id (the X-Request-ID header).",
            "pattern": "^urn:afterglow:request:",
            "example": "urn:afterglow:request:5f0c2a7e9b1d4c3a8e6f0b2d4a6c8e0f",
        },
        "code": {"$ref": "#/components/schemas/ProblemCode"},
        "errors": {
            "type": "object",
            "description": "For `validation` (and some others): each invalid field, "
            "by its path (`items.0.text`), with its messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"email": ["Enter a valid email address."]},
        },
        "request_id": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail", "code"],
    # Further members are allowed (JSON Schema's default) without `additionalProperties:
    # true`, which TypeScript generators turn into an index signature of `unknown` that
    # hides a typed extension such as `current` (tests/clients).
}

# The problem of an operation that takes answers which may endorse PHQ-9 item 9 (a
# measure, a prompt answered with one): whatever its status, it carries the crisis
# resources that submission called for in `safety`, the `Safety` component of the
# operation's success answer (journal.api.SafetyBlockOnErrorView).
PROBLEM_WITH_SAFETY_SCHEMA: dict[str, Any] = {
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "description": "`safety`, present only when the submission endorsed PHQ-9 item 9: "
            "the crisis resources of your country and a message to show at once, whatever "
            "the error.",
            "properties": {"safety": {"$ref": "#/components/schemas/Safety"}},
        },
    ],
}


def problem_code_schema() -> dict[str, Any]:
    """The enum of every `code` (backend/problem_codes.py), each with its meaning."""
    return {
        "type": "string",
        "description": "What kind of problem it is. One of:\n\n"
        + "\n".join(f"- `{code.value}`: {code.meaning}" for code in ProblemCode),
        "enum": [code.value for code in ProblemCode],
        "x-enum-descriptions": [code.meaning for code in ProblemCode],
        "example": ProblemCode.VALIDATION.value,
    }


_DESCRIPTIONS = {
    "400": (
        "Invalid request: see `errors` for the fields or query parameters (a query "
        "parameter the operation does not take answers `unknown_parameter`)."
    ),
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


def problem_description(status: int) -> str:
    """What the error answer of this status, which every operation that can meet it
    documents, means."""
    return _DESCRIPTIONS[str(status)]


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
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ProblemCode"] = problem_code_schema()
    if "Safety" in schemas:
        schemas["ProblemWithSafety"] = PROBLEM_WITH_SAFETY_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            # Any operation refuses a query parameter it does not take (backend/query.py).
            codes = ["400", "405", "500"]
            if operation.get("security") and {} not in operation["security"]:
                codes += ["401", "403"]
            if "{" in path:
                codes.append("404")
            # gunicorn refuses a request line or headers over its limits (gunicorn_conf.py)
            if _parameters_in(operation, "query", "path"):
                codes.append("414")
            if _parameters_in(operation, "header"):
                codes.append("431")
            if "requestBody" in operation:
                codes += ["413", "415"]
            if operation.get("x-throttled"):
                codes.append("429")
            for code in codes:
                existing = responses.get(code)
                if existing is None:
                    responses[code] = _problem_response(code)
                elif "content" not in existing:
                    existing["content"] = _problem_response(code)["content"]
    return result


def _component_type(schemas: dict[str, Any], reference: str) -> str | None:
    name = reference.rsplit("/", 1)[-1]
    component = schemas.get(name, {})
    if "type" in component:
        return str(component["type"])
    if "enum" in component:
        return "string"
    if "properties" in component or "oneOf" in component:
        return "object"
    return None


def type_nullable_references(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Write every nullable reference (drf-spectacular's `allOf: [$ref]` with
    `nullable: true`) as `oneOf: [$ref, null]`, the null a typed schema of its own.

    OpenAPI 3.0 ignores `nullable` without a `type` beside it, so some generators read the
    untyped form as not nullable; with a `type` beside the `allOf`, others (openapi-python-
    client) pass the reference through and drop the null. Both read a `oneOf` whose second
    member is `{type, nullable: true, enum: [null]}` as "the record or null"
    (tests/clients generates clients from it)."""
    schemas: dict[str, Any] = result.get("components", {}).get("schemas", {})

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            all_of = node.get("allOf")
            if (
                node.get("nullable") is True
                and isinstance(all_of, list)
                and len(all_of) == 1
                and "$ref" in all_of[0]
            ):
                kind = node.get("type") or _component_type(schemas, all_of[0]["$ref"])
                if kind is not None:
                    del node["allOf"], node["nullable"]
                    node.pop("type", None)
                    node["oneOf"] = [all_of[0], {"type": kind, "nullable": True, "enum": [None]}]
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(result)
    return result


def mark_anonymous_operations(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Say "no credentials" as `security: []` rather than drf-spectacular's `[{}]`: both
    mean it in OpenAPI, but generators (openapi-python-client) read any non-empty list as
    "needs a token", and would ask for one to register or sign in."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("security") == [{}]:
                operation["security"] = []
    return result


# Operation ids that say what each operation does: drf-spectacular derives `_create` for
# every POST and `_retrieve` for every GET of one thing, which reads wrong for actions
# (sign in, log out, complete a prompt) and for lists; generated clients name their
# methods after these.
OPERATION_IDS = {
    "auth_devices_retrieve": "auth_devices_list",
    "auth_devices_destroy": "auth_devices_sign_out",
    "auth_enrol_create": "auth_enrol",
    "auth_enrol_confirm_create": "auth_enrol_confirm",
    "auth_login_create": "auth_login",
    "auth_logout_create": "auth_logout",
    "auth_logout_all_create": "auth_logout_all",
    "auth_register_create": "auth_register",
    "me_partial_update": "me_update",
    "me_destroy": "me_delete",
    "me_export_retrieve": "me_export",
    "timeline_retrieve": "me_plan_retrieve",
    "timeline_update": "me_plan_update",
    "me_upcoming_retrieve": "me_upcoming_list",
    "measures_instruments_retrieve": "measures_instruments_list",
    "measures_trend_retrieve": "measures_trend",
    "sessions_journal_retrieve": "sessions_journal",
    "sessions_partial_update": "sessions_update",
    "sessions_destroy": "sessions_delete",
    "entries_partial_update": "entries_update",
    "entries_destroy": "entries_delete",
    "sync_retrieve": "sync",
    "me_terms_create": "me_terms_accept",
    "courses_partial_update": "courses_update",
    "courses_sessions_move_create": "courses_sessions_move",
    "courses_sessions_skip_create": "courses_sessions_skip",
    "courses_extend_create": "courses_extend",
    "courses_end_create": "courses_end",
    "therapist_shares_course_retrieve": "therapist_shares_course",
    "healthz_retrieve": "healthz",
    "me_calendar_retrieve": "calendar_feed_retrieve",
    "me_calendar_create": "calendar_feed_enable",
    "me_calendar_partial_update": "calendar_feed_update",
    "me_calendar_destroy": "calendar_feed_disable",
    "me_calendar_rotate_create": "calendar_feed_rotate",
    "calendar_.ics_retrieve": "calendar_feed_read",
    "readyz_retrieve": "readyz",
}


def rename_operations(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Give operations the ids in OPERATION_IDS."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                operation["operationId"] = OPERATION_IDS.get(
                    operation["operationId"], operation["operationId"]
                )
    return result
