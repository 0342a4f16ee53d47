"""The schema says which creates take `Idempotency-Key`, and what a reused key answers:
every POST that makes something, except the account's own sign-in and registration
steps (which make no resource a client would retry into a duplicate)."""

from __future__ import annotations

from tests.backend.test_schema import operations, schema  # noqa: F401 (the fixture)

# POSTs that create nothing a retry could duplicate: the account's sign-in, registration,
# password and e-mail steps (each a one-time code or a session), and the invitation
# preview, which changes nothing.
WITHOUT_KEY = {
    "care_links_preview",
}
ACCOUNT_PREFIXES = ("/api/v1/auth/", "/api/v1/me/")

WITH_KEY = {
    "care_links_create",
    "courses_create",
    "courses_end",
    "courses_extend",
    "courses_sessions_move",
    "courses_sessions_skip",
    "entries_create",
    "measures_create",
    "prompts_complete",
    "prompts_open",
    "prompts_skip",
    "prompts_snooze",
    "push_devices_register",
    "sessions_create",
    "shares_create",
    "therapist_invitations_create",
}


def _idempotency_parameter(operation: dict) -> dict | None:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key":
            return parameter
    return None


def test_every_creating_post_takes_an_idempotency_key(schema) -> None:  # noqa: F811
    posts = {
        operation["operationId"]: (path, operation)
        for path, method, operation in operations(schema)
        if method == "post" and not path.startswith(ACCOUNT_PREFIXES)
    }

    assert set(posts) - WITHOUT_KEY == WITH_KEY
    for name in WITH_KEY:
        parameter = _idempotency_parameter(posts[name][1])
        assert parameter is not None, name
        assert parameter.get("required", False) is False
        assert parameter["schema"] == {"type": "string"}
        assert "409" in posts[name][1]["responses"], name
        assert "idempotency_key_reused" in posts[name][1]["responses"]["409"]["description"]


def test_deleted_records_document_410(schema) -> None:  # noqa: F811
    gone = {
        operation["operationId"]
        for _, _, operation in operations(schema)
        if "410" in operation["responses"]
    }

    assert {
        "entries_retrieve",
        "entries_update",
        "sessions_retrieve",
        "sessions_update",
        "sessions_journal",
        "shares_retrieve",
        "care_links_retrieve",
        "care_links_update",
    } <= gone


def test_a_reused_key_types_current_as_the_resource_made(schema) -> None:  # noqa: F811
    expected = {
        "shares_create": "Share",
        "care_links_create": "CareLink",
        "push_devices_register": "PushDevice",
        "therapist_invitations_create": "NewCareInvitation",
    }
    found = {
        operation["operationId"]: operation
        for _, _, operation in operations(schema)
        if operation["operationId"] in expected
    }

    for name, component in expected.items():
        content = found[name]["responses"]["409"]["content"]["application/problem+json"]
        parts = content["schema"]["allOf"]
        assert parts[1]["properties"]["current"] == {"$ref": f"#/components/schemas/{component}"}
        assert "required" not in parts[1], name


# Creates whose key stands for the record's client id (`backend.idempotency.derived_id`):
# the key is bound to that id for good, not for the 24 hours of a stored key.
KEY_IS_THE_ID = {"entries_create", "measures_create", "prompts_complete", "sessions_create"}


def test_each_key_says_how_long_it_answers(schema) -> None:  # noqa: F811
    posts = {
        operation["operationId"]: operation
        for _, method, operation in operations(schema)
        if method == "post"
    }

    for name in WITH_KEY:
        parameter = _idempotency_parameter(posts[name])
        assert parameter is not None, name
        description = parameter["description"]
        if name in KEY_IS_THE_ID:
            assert "24 hours" not in description, name
            assert "never expires" in description, name
        else:
            assert "for 24 hours" in description, name
