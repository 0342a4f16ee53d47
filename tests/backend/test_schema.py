"""The OpenAPI contract: valid, warning-free, and complete for every operation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from openapi_spec_validator import validate

# Its tests share one generated schema (a module fixture): one process runs them all.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("openapi-schema")]

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory, django_db_blocker) -> dict:
    path = Path(tmp_path_factory.mktemp("schema")) / "openapi.yaml"
    with django_db_blocker.unblock():
        # --fail-on-warn turns any drf-spectacular warning or error into a failure.
        call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(path))
    return yaml.safe_load(path.read_text())


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_schema_is_valid_openapi_3(schema: dict) -> None:
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_every_operation_has_tags_summary_and_an_id(schema: dict) -> None:
    for path, method, operation in operations(schema):
        assert operation.get("tags"), f"{method} {path} has no tag"
        assert operation.get("summary"), f"{method} {path} has no summary"
        assert operation.get("operationId"), f"{method} {path} has no operationId"


def test_every_operation_documents_success_and_problem_errors(schema: dict) -> None:
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        assert any(code.startswith("2") for code in responses), f"{method} {path}"
        assert "500" in responses
        for code, response in responses.items():
            if code.startswith(("4", "5")) and code != "503":
                content = response.get("content", {})
                assert "application/problem+json" in content, f"{method} {path} {code}"


def test_authenticated_operations_declare_auth_and_401(schema: dict) -> None:
    schemes = schema["components"]["securitySchemes"]
    assert "knoxApiToken" in schemes
    for path, method, operation in operations(schema):
        security = operation.get("security", [])
        if security and {} not in security:
            assert "401" in operation["responses"], f"{method} {path}"


def test_operations_with_a_body_document_400_and_examples(schema: dict) -> None:
    for path, method, operation in operations(schema):
        if "requestBody" not in operation:
            continue
        assert "400" in operation["responses"], f"{method} {path}"
        media = operation["requestBody"]["content"]["application/json"]
        assert media.get("examples") or media.get("example"), f"{method} {path} has no example"


def test_operations_document_what_their_parameters_can_cause(schema: dict) -> None:
    """A bad filter, cursor or If-Match answers 400; too long a URL 414 and too large
    headers 431, from gunicorn (the fuzz tests send all of them)."""
    for path, method, operation in operations(schema):
        locations = {parameter["in"] for parameter in operation.get("parameters", [])}
        responses = operation["responses"]
        if locations & {"query", "header"}:
            assert "400" in responses, f"{method} {path}"
        if locations & {"query", "path"}:
            assert "414" in responses, f"{method} {path}"
        if "header" in locations:
            assert "431" in responses, f"{method} {path}"


def test_erasing_the_account_documents_the_password_problem(schema: dict) -> None:
    # OpenAPI 3.0 cannot describe the body of a DELETE; its 400 is documented by hand.
    assert "400" in schema["paths"]["/api/v1/me/"]["delete"]["responses"]


def test_docs_pages_are_served_locally_without_a_cdn(client) -> None:
    for url in ("/api/docs/", "/api/redoc/"):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert "cdn." not in html
        assert "/static/drf_spectacular_sidecar/" in html


def test_operation_ids_say_what_they_do(schema: dict) -> None:
    for path, method, operation in operations(schema):
        operation_id = operation["operationId"]
        responses = operation["responses"]
        assert not operation_id.endswith(("_partial_update", "_destroy")), operation_id
        if operation_id.endswith("_create"):
            # Only an operation that makes something is a create; actions say their name.
            assert "201" in responses, f"{method} {path}: {operation_id} makes nothing"
        if operation_id.endswith("_retrieve"):
            content = responses["200"].get("content", {}).get("application/json", {})
            assert content.get("schema", {}).get("type") != "array", operation_id


def test_component_names_are_chosen_on_purpose(schema: dict) -> None:
    for name in schema["components"]["schemas"]:
        assert not name.endswith(("Enum", "RequestRequest")), name


@pytest.mark.parametrize(
    ("operation_id", "status", "component"),
    [
        ("entries_update", "412", "Entry"),
        ("entries_delete", "412", "Entry"),
        ("sessions_update", "412", "Session"),
        ("prompts_complete", "409", "Prompt"),
        ("prompts_skip", "409", "Prompt"),
    ],
)
def test_a_conflict_types_its_current_record(schema, operation_id, status, component) -> None:
    found = [op for _, _, op in operations(schema) if op["operationId"] == operation_id]
    response = found[0]["responses"][status]["content"]["application/problem+json"]
    parts = response["schema"]["allOf"]
    problem = "ProblemWithSafety" if operation_id in SAFETY_ON_ERROR else "Problem"
    assert parts[0] == {"$ref": f"#/components/schemas/{problem}"}
    assert parts[1]["properties"]["current"] == {"$ref": f"#/components/schemas/{component}"}


# The operations that take answers which may endorse PHQ-9 item 9, and the error answers
# that carry the safety block then (raised once the body is read: not a 401 or a 413).
SAFETY_ON_ERROR = {
    "measures_create": ("400", "409", "500"),
    "prompts_complete": ("400", "404", "409", "500"),
}
SAFETY = {"$ref": "#/components/schemas/Safety"}


def test_the_problem_with_safety_declares_the_success_answers_safety_block(schema) -> None:
    parts = schema["components"]["schemas"]["ProblemWithSafety"]["allOf"]
    assert parts[0] == {"$ref": "#/components/schemas/Problem"}
    assert parts[1]["properties"]["safety"] == SAFETY
    assert "safety" not in parts[1].get("required", [])
    found = {op["operationId"]: op for _, _, op in operations(schema)}
    for operation_id in SAFETY_ON_ERROR:
        ok = found[operation_id]["responses"]["200"]["content"]["application/json"]["schema"]
        record = schema["components"]["schemas"][ok["$ref"].rsplit("/", 1)[-1]]
        assert SAFETY in record["properties"]["safety"]["oneOf"], operation_id


@pytest.mark.parametrize(
    ("operation_id", "status"),
    [(operation_id, status) for operation_id, codes in SAFETY_ON_ERROR.items() for status in codes],
)
def test_an_error_answer_that_can_carry_safety_declares_it(schema, operation_id, status) -> None:
    found = [op for _, _, op in operations(schema) if op["operationId"] == operation_id]
    response = found[0]["responses"][status]["content"]["application/problem+json"]
    typed = response["schema"].get("allOf", [response["schema"]])[0]
    assert typed == {"$ref": "#/components/schemas/ProblemWithSafety"}


def test_only_answers_that_can_carry_safety_declare_it(schema) -> None:
    declaring = {
        (operation["operationId"], status)
        for _, _, operation in operations(schema)
        for status, response in operation["responses"].items()
        if "ProblemWithSafety" in str(response)
    }
    assert declaring == {
        (operation_id, status)
        for operation_id, codes in SAFETY_ON_ERROR.items()
        for status in codes
    }
