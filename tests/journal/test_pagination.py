"""Cursors of the journal's lists: a hand-made one answers 400 on `cursor`, never 500."""

from __future__ import annotations

import base64

import pytest

from tests.journal.factories import make_entry, make_measure, make_session

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/entries/", "/api/v1/sessions/", "/api/v1/measures/"]


def cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def filled(patient):
    for _ in range(3):
        make_entry(patient)
        make_session(patient)
        make_measure(patient)


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    "value",
    [
        cursor("p=not-a-time"),  # DRF decodes it; the ORM then refused the position (500)
        cursor("r=1&p=99999-01-01"),
        "%%%",  # DRF skips what is not base64 and read this as the first page
        "",
        "bm9wZQ",
    ],
)
def test_a_hand_made_cursor_answers_400_on_cursor(patient_client, filled, url, value) -> None:
    response = patient_client.get(url, {"cursor": value})
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert "cursor" in response.json()["errors"]


@pytest.mark.parametrize("url", LISTS)
def test_the_next_and_previous_links_still_page(patient_client, filled, url) -> None:
    first = patient_client.get(url, {"limit": 2}).json()
    second = patient_client.get(first["next"]).json()
    back = patient_client.get(second["previous"]).json()
    assert second["results"]
    assert [item["id"] for item in back["results"]] == [item["id"] for item in first["results"]]
