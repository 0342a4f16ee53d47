"""The schema a client generator reads: components named on purpose, every closed set a
named enum, and every public id a UUID (integers stay inside the database)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

# Its tests share one generated schema (a module fixture): one process runs them all.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("openapi-schema")]

# drf-spectacular's own names: `<Field>Enum` for an enum it names itself (StateEnum,
# ViaEnum, Status3a1Enum for a clash), `...RequestRequest` when a serializer already named
# `...Request` is split for requests, and digits or underscores for duplicates.
GENERATED_NAME = re.compile(r"Enum$|RequestRequest|[0-9_]")
PASCAL_CASE = re.compile(r"^[A-Z][a-zA-Z]+$")


def badly_named(names: Iterable[str]) -> list[str]:
    return [name for name in names if GENERATED_NAME.search(name) or not PASCAL_CASE.match(name)]


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory, django_db_blocker) -> dict:
    path = Path(tmp_path_factory.mktemp("schema")) / "openapi.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_component_names_are_none_a_generator_made_up(schema: dict) -> None:
    assert badly_named(schema["components"]["schemas"]) == []


def test_the_name_check_catches_each_kind_of_generated_name() -> None:
    planted = ["StateEnum", "ViaEnum", "Status3a1Enum", "LoginRequestRequest", "Entry2", "A_b"]

    assert badly_named([*planted, "AccessAction", "ShareState", "LoginRequest"]) == planted


def _objects(node: Any, where: str) -> Iterator[tuple[str, dict]]:
    """Every object in the node, with where it stands, each before the objects inside it."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{where}.{index}")


def _inline_enums(node: Any, where: str) -> Iterator[str]:
    for place, inner in _objects(node, where):
        # `enum: [null]` is the null branch of a nullable reference (the generators' form,
        # backend.openapi.type_nullable_references), not a closed set.
        if "enum" in inner and inner["enum"] != [None]:
            yield place


def test_every_closed_set_in_a_component_is_a_named_enum(schema: dict) -> None:
    found = []
    for name, component in schema["components"]["schemas"].items():
        if "enum" in component:
            continue  # a named enum itself
        found += list(_inline_enums(component, name))
    assert found == []


def test_access_event_actions_and_problem_codes_are_named_enums(schema: dict) -> None:
    schemas = schema["components"]["schemas"]
    action = schemas["AccessEvent"]["properties"]["action"]

    assert action["allOf"] == [{"$ref": "#/components/schemas/AccessAction"}]
    assert "share.read" in schemas["AccessAction"]["enum"]
    assert schemas["Problem"]["properties"]["code"] == {"$ref": "#/components/schemas/ProblemCode"}


def _is_id(name: str) -> bool:
    return name == "id" or name.endswith(("_id", "_ids")) or name == "disabled_steps"


def _id_properties(node: Any, where: str) -> Iterator[tuple[str, dict]]:
    for place, inner in _objects(node, where):
        for name, value in inner.get("properties", {}).items():
            if _is_id(name) and isinstance(value, dict):
                yield f"{place}.{name}", value


def _is_integer(schema: dict) -> bool:
    items = schema.get("items")
    return schema.get("type") == "integer" or (isinstance(items, dict) and _is_integer(items))


def test_no_id_in_any_component_is_an_integer(schema: dict) -> None:
    found = dict(_id_properties(schema["components"]["schemas"], "components"))
    # The walk reaches the ids that used to be sequence numbers (it is not vacuous).
    assert {
        "components.AccessEvent.id",
        "components.PlanStep.id",
        "components.Timeline.disabled_steps",
    } <= set(found)

    assert [where for where, value in found.items() if _is_integer(value)] == []


@pytest.mark.parametrize(
    "component", ["AccessEvent", "CareInvitation", "NewCareInvitation", "PlanStep"]
)
def test_ids_that_were_sequence_numbers_are_uuids(schema: dict, component) -> None:
    value = schema["components"]["schemas"][component]["properties"]["id"]

    assert (value["type"], value["format"]) == ("string", "uuid")


def test_a_timeline_names_its_disabled_steps_by_uuid(schema: dict) -> None:
    schemas = schema["components"]["schemas"]
    for component in ("Timeline", "PatchedTimelineUpdateRequest"):
        items = schemas[component]["properties"]["disabled_steps"]["items"]
        assert items == {"type": "string", "format": "uuid"}, component


def test_every_id_in_a_url_is_a_uuid(schema: dict) -> None:
    for path, item in schema["paths"].items():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"].endswith("_id"):
                    assert parameter["schema"] == {"type": "string", "format": "uuid"}, path
