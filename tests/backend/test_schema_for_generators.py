"""The OpenAPI document in the forms code generators read right (tests/clients drives the
generated clients; these check the forms over the whole document, fast)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

# Its tests share one generated schema (a module fixture): one process runs them all.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("openapi-schema")]

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory, django_db_blocker) -> dict[str, Any]:
    path = Path(tmp_path_factory.mktemp("schema")) / "openapi.json"
    with django_db_blocker.unblock():
        call_command("spectacular", "--format", "openapi-json", "--file", str(path))
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def nodes(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from nodes(value)


def test_a_nullable_reference_is_a_one_of_with_a_typed_null(schema) -> None:
    # openapi-python-client drops the null of `allOf: [$ref]` with `nullable` and a type.
    nullable_references = 0
    for node in nodes(schema):
        assert not (node.get("nullable") and "allOf" in node), node
        one_of = node.get("oneOf")
        if isinstance(one_of, list) and len(one_of) == 2 and "$ref" in one_of[0]:
            null = one_of[1]
            assert null == {"type": null["type"], "nullable": True, "enum": [None]}, node
            nullable_references += 1
    assert nullable_references > 10


def test_the_sync_record_and_a_session_modality_may_be_null(schema) -> None:
    # Each kind of sync change is a tombstone when its `data` is null.
    properties = schema["components"]["schemas"]["EntryChange"]["properties"]
    assert properties["data"]["oneOf"][0] == {"$ref": "#/components/schemas/Entry"}
    assert properties["data"]["oneOf"][1] == {"type": "object", "nullable": True, "enum": [None]}
    modality = schema["components"]["schemas"]["Session"]["properties"]["modality"]
    assert modality["oneOf"][1] == {"type": "string", "nullable": True, "enum": [None]}


def test_operations_without_credentials_say_security_empty(schema) -> None:
    anonymous = set()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                assert operation.get("security") != [{}], f"{method} {path}"
                if operation.get("security") == []:
                    anonymous.add(operation["operationId"])
    assert {"auth_register", "auth_register_confirm", "auth_login"} <= anonymous
    assert "entries_create" not in anonymous


def test_the_problem_has_no_index_signature_for_typescript(schema) -> None:
    problem = schema["components"]["schemas"]["Problem"]
    assert "additionalProperties" not in problem
