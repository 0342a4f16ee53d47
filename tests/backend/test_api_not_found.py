"""An unknown address under /api/ answers a 404 problem document in every mode."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.accounts.helpers import assert_problem


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_api_address_answers_a_problem_document(client, debug) -> None:
    with override_settings(DEBUG=debug):
        response = client.get("/api/v1/no-such-thing/", HTTP_ACCEPT="application/json")

    assert_problem(response, 404, "not_found")
    assert response["Content-Type"] == "application/problem+json"


def test_an_unknown_address_outside_the_api_is_left_to_django(client) -> None:
    with override_settings(DEBUG=True):
        response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
