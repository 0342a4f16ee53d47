"""The schema's links (backend/openapi_links.py): each one is published and resolves."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import patched_settings
from openapi_spec_validator import validate

from backend.openapi_links import LINKS, add_links
from tests.fuzz.harness import postprocessing_hooks


@pytest.fixture(scope="module")
def schema() -> dict:
    with patched_settings({"POSTPROCESSING_HOOKS": postprocessing_hooks()}):
        return SchemaGenerator().get_schema(request=None, public=True)


def operations_by_id(schema: dict) -> dict[str, tuple[str, dict]]:
    return {
        operation["operationId"]: (path, operation)
        for path, item in schema["paths"].items()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def test_the_schema_with_links_is_valid_openapi(schema: dict) -> None:
    validate(schema)


def test_every_link_is_published(schema: dict) -> None:
    operations = operations_by_id(schema)
    for link in LINKS:
        assert link.source in operations, f"{link.source} is not an operation"
        assert link.target in operations, f"{link.target} is not an operation"
        _, source = operations[link.source]
        published = [
            status
            for status in link.statuses
            if link.target in source["responses"].get(status, {}).get("links", {})
        ]
        assert published, f"{link.source} -> {link.target}: no response carries it"


def test_link_parameters_name_parameters_of_the_target(schema: dict) -> None:
    operations = operations_by_id(schema)
    for link in LINKS:
        _, target = operations[link.target]
        declared = {
            f"{parameter['in']}.{parameter['name']}" for parameter in target.get("parameters", [])
        }
        for name in link.parameters:
            assert name in declared, f"{link.target} has no parameter {name}"


def test_adding_links_twice_changes_nothing(schema: dict) -> None:
    import copy

    again = add_links(copy.deepcopy(schema))
    assert again == schema
