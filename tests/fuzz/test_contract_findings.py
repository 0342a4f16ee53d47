"""What the fuzz runs found in integration/, each as one deterministic test.

A fixed finding stays here as its regression test. An open one is a strict xfail, and the
fuzz runs skip exactly that failure (tests/fuzz/harness.py, `is_known_finding`) so that they
keep looking for new ones; with its fix, the xfail turns into a failure that says to remove
both.
"""

from __future__ import annotations

import jsonschema_rs
import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.integration.care_data import signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]


def response_schema(path: str, method: str, status: str) -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    content = schema["paths"][path][method]["responses"][status]["content"]
    return {
        **content["application/json"]["schema"],
        "components": schema["components"],
    }


def test_the_plan_answers_in_its_documented_shape(fuzz_users):
    """Quiet hours are sent as "21:00"; the schema once promised `format: time` (RFC 3339
    full-time, "21:00:00Z"), so every answer broke the schema and schema-driven clients
    sent times the service refused. Now documented as an "HH:MM" pattern."""
    response = signed_in(fuzz_users.patient).get("/api/v1/me/plan/")
    assert response.status_code == 200
    validator = jsonschema_rs.validator_for(
        response_schema("/api/v1/me/plan/", "get", "200"), validate_formats=True
    )
    errors = [error.message for error in validator.iter_errors(response.json())]
    assert not errors, errors


def test_a_deleted_share_is_gone(fuzz_users):
    """DELETE /api/v1/shares/{id}/ answered 204, yet GET of the share kept answering 200
    (with `"state": "revoked"`): a successful DELETE must leave nothing at that address
    (RFC 9110, 9.3.5; Schemathesis `use_after_free`). Now 410 `share_revoked`; the list
    keeps the share as the patient's record."""
    client = signed_in(fuzz_users.patient)
    share_id = client.get("/api/v1/shares/").json()["results"][0]["id"]
    assert client.delete(f"/api/v1/shares/{share_id}/").status_code == 204
    response = client.get(f"/api/v1/shares/{share_id}/")
    assert response.status_code == 410
    assert response.json()["code"] == "share_revoked"
    listed = {item["id"]: item["state"] for item in client.get("/api/v1/shares/").json()["results"]}
    assert listed[share_id] == "revoked"
