"""Every problem `code` the API can answer is in the registry (backend/problem_codes.py),
and the OpenAPI enum is that registry.

Three nets: a reading of the source for codes written as strings at raise sites; DRF's own
exception codes (which reach the renderer unnamed by us); and the renderer itself, which
refuses an unregistered code under the tests' settings, so any test that answers one fails.
"""

from __future__ import annotations

import ast
import inspect
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from rest_framework import exceptions

from backend.errors import problem
from backend.problem_codes import ProblemCode

ROOT = Path(__file__).resolve().parents[2]
APPS = ("backend", "journal", "integration", "worker")
REGISTERED = {code.value for code in ProblemCode}

# Calls whose argument is a problem code: ProblemError(status, code, ...) and its
# subclasses' super().__init__(status, code, ...), unauthorized(code, ...), and any
# `code=` keyword of problem(), problem_response() or ProblemError().
_CODE_CALLS = {"ProblemError", "problem", "problem_response"}


def _literal_codes(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            found: list[ast.expr] = []
            if name in {"ProblemError", "__init__"} and len(node.args) >= 2:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, int):
                    found.append(node.args[1])
            if name == "unauthorized" and node.args:
                found.append(node.args[0])
            if name in _CODE_CALLS:
                found += [keyword.value for keyword in node.keywords if keyword.arg == "code"]
            for value in found:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    yield value.lineno, value.value
        elif isinstance(node, ast.ClassDef):
            # A DRF permission's `code` is the problem code of its refusal.
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and [getattr(target, "id", "") for target in statement.targets] == ["code"]
                    and any(getattr(base, "id", "") == "BasePermission" for base in node.bases)
                    and isinstance(statement.value, ast.Constant)
                ):
                    yield statement.lineno, str(statement.value.value)


def unregistered_codes(root: Path) -> list[str]:
    found = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for line, code in _literal_codes(ast.parse(path.read_text())):
                if code not in REGISTERED:
                    found.append(f"{path.relative_to(root)}:{line}: {code!r}")
    return found


def test_every_code_written_in_the_code_base_is_registered() -> None:
    assert unregistered_codes(ROOT) == []


def test_the_reading_finds_an_unregistered_code_at_each_kind_of_raise_site(tmp_path) -> None:
    planted = tmp_path / "integration" / "planted.py"
    planted.parent.mkdir()
    planted.write_text(
        "class Refusal(ProblemError):\n"
        "    def __init__(self):\n"
        "        super().__init__(409, 'planted_subclass', 'x')\n"
        "class Gate(BasePermission):\n"
        "    code = 'planted_permission'\n"
        "def f():\n"
        "    raise ProblemError(400, 'planted_raise', 'x')\n"
        "def g():\n"
        "    return problem_response(400, code='planted_response')\n"
        "def h():\n"
        "    return unauthorized('planted_unauthorized', 'x')\n"
        "def fine():\n"
        "    raise ProblemError(400, 'validation', 'x')\n"
    )

    found = unregistered_codes(tmp_path)

    assert sorted(entry.rsplit(" ", 1)[1] for entry in found) == [
        "'planted_permission'",
        "'planted_raise'",
        "'planted_response'",
        "'planted_subclass'",
        "'planted_unauthorized'",
    ]


def _drf_exception_classes() -> Iterator[type[exceptions.APIException]]:
    for _, value in inspect.getmembers(exceptions, inspect.isclass):
        if issubclass(value, exceptions.APIException):
            yield value


def test_drfs_own_exception_codes_are_registered() -> None:
    # A ValidationError's code ("invalid") is never sent: the renderer answers `validation`.
    codes = {
        str(cls.default_code)
        for cls in _drf_exception_classes()
        if not issubclass(cls, exceptions.ValidationError)
    }

    assert codes - REGISTERED == set()
    assert {"throttled", "parse_error", "authentication_failed"} <= codes


def test_every_readiness_check_has_its_unusable_code() -> None:
    for name in settings.READINESS_CHECKS:
        assert f"{name}_unusable" in REGISTERED


def test_every_code_says_what_it_means() -> None:
    for code in ProblemCode:
        assert code.meaning.strip().endswith("."), code
        assert code.value == code.value.lower()


def test_the_renderer_refuses_an_unregistered_code_under_the_tests_settings() -> None:
    with pytest.raises(ValueError, match=r"not in backend\.problem_codes"):
        problem(400, code="made_up")


def test_elsewhere_an_unregistered_code_is_logged_and_answered_as_error(settings, caplog) -> None:
    settings.PROBLEM_CODES_STRICT = False

    with caplog.at_level(logging.ERROR, logger="backend.errors"):
        body = problem(400, code="made_up")

    assert (body["code"], body["type"]) == ("error", "urn:afterglow:problem:error")
    assert [record.getMessage() for record in caplog.records] == ["unregistered problem code"]


@pytest.mark.django_db
def test_the_schema_enum_is_the_registry(tmp_path, django_db_blocker) -> None:
    path = tmp_path / "openapi.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--file", str(path))
    schemas = yaml.safe_load(path.read_text())["components"]["schemas"]

    assert schemas["Problem"]["properties"]["code"] == {"$ref": "#/components/schemas/ProblemCode"}
    assert schemas["ProblemCode"]["enum"] == [code.value for code in ProblemCode]
    assert {"type", "title", "status", "detail", "instance", "code", "errors"} <= set(
        schemas["Problem"]["properties"]
    )
    errors = schemas["Problem"]["properties"]["errors"]
    assert errors["additionalProperties"] == {"type": "array", "items": {"type": "string"}}


def test_an_answer_names_its_occurrence_by_the_request_id(client) -> None:
    response = client.get("/api/v1/no-such-thing/", HTTP_X_REQUEST_ID="abc123def456")

    body = response.json()
    assert response.status_code == 404
    assert body["code"] == "not_found"
    assert body["instance"] == f"urn:afterglow:request:{response['X-Request-ID']}"
    assert body["request_id"] == response["X-Request-ID"]
