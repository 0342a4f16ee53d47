"""What the in-process fuzz tests share: the service's schema (with its links), the checks,
and signed-in requests for each role."""

from __future__ import annotations

from typing import Any, ClassVar, cast

import schemathesis
from django.conf import settings
from django.db import transaction
from drf_spectacular.settings import patched_settings
from schemathesis import checks as core_checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.case import Case
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi import checks as openapi_checks
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.fuzz.seed import FuzzUsers, issue_token

ROLES = ["patient", "therapist"]

CHECKS = [
    core_checks.not_a_server_error,
    openapi_checks.response_schema_conformance,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.ignored_auth,
    openapi_checks.use_after_free,
    openapi_checks.ensure_resource_availability,
]

CHECK_NAMES = [check.__name__ for check in CHECKS]

LINKS_HOOK = "backend.openapi_links.add_links"


def postprocessing_hooks() -> list[str]:
    """The configured hooks, with the links hook added when settings do not list it yet."""
    hooks = list(cast(list[str], settings.SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]))
    return hooks if LINKS_HOOK in hooks else [*hooks, LINKS_HOOK]


def load_service_schema() -> OpenApiSchema:
    """The schema as GET /api/schema/ serves it, from the WSGI application in this process."""
    from backend.wsgi import application

    with patched_settings({"POSTPROCESSING_HOOKS": postprocessing_hooks()}):
        return schemathesis.openapi.from_wsgi("/api/schema/", application)


def signed_in_headers(users: FuzzUsers, role: str) -> dict[str, str]:
    return {"Authorization": f"Token {users.token_for(role)}"}


def is_known_finding(failure: Failure) -> bool:
    """A failure already reported and waiting for a decision (each has a test of its own
    in tests/fuzz/test_contract_findings.py, marked xfail); the fuzz runs skip it so that
    they keep finding new ones. Remove the entry with the fix."""
    # None open now. (DELETE /shares/{id}/ once left the share readable at its address.)
    return False


def validate(case: Case, response: Any, **kwargs: Any) -> None:
    """Run CHECKS on a response; raise the failures that are not known findings."""
    try:
        case.validate_response(response, checks=CHECKS, **kwargs)
    except FailureGroup as group:
        new = [failure for failure in group.exceptions if not is_known_finding(failure)]
        if new:
            raise FailureGroup(new, str(group)) from None


def stateful_schema(schema: OpenApiSchema, role: str) -> BaseSchema:
    """The operations whose chains a role can follow. Those tagged `auth` (registration,
    sign-in and out, device tokens) are left to the per-operation tests, as their links
    lead nowhere for a signed-in user; so are, for a therapist, the patients' operations,
    which answer 403."""
    without_auth = schema.exclude(tag="auth")
    if role == "therapist":
        return without_auth.include(path_regex=r"^/api/v1/therapist/")
    return without_auth.exclude(path_regex=r"^/api/v1/therapist/")


def workflow_for(schema: OpenApiSchema, users: FuzzUsers, role: str) -> Any:
    """The stateful test for one role.

    Each scenario runs in a savepoint rolled back at its end, so every scenario starts from
    the seeded data, and signs in afresh, so one that signs out (logout, logout-all) does
    not leave the next answering 401. Failed checks are kept in `failures` as they happen:
    Hypothesis may not be able to replay a scenario exactly (the service makes its own ids
    and Schemathesis picks link values with true randomness) and then reports it as flaky.
    """
    user = users.patient if role == "patient" else users.therapist

    class Workflow(stateful_schema(schema, role).as_state_machine()):  # type: ignore[misc]
        failures: ClassVar[list[FailureGroup]] = []

        def setup(self) -> None:
            self.scenario = transaction.atomic()
            self.scenario.__enter__()
            self.headers = {
                "Authorization": f"Token {issue_token(user, second_factor=role == 'therapist')}"
            }

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self.scenario.__exit__(None, None, None)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": self.headers}

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                validate(
                    case,
                    response,
                    headers=kwargs.get("headers"),
                    transport_kwargs=kwargs,
                    recorder=self.recorder,
                )
            except FailureGroup as failure:
                self.failures.append(failure)
                raise

    return Workflow
