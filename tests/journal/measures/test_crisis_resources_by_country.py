"""The safety block and the not-monitored notice follow the patient's own country.

Reproduces the defect of issue 16: the country was one server-wide setting, so a patient in
Berlin who endorsed PHQ-9 item 9 was shown the US lines (988, 741741, 911).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from journal.crisis import country_lines, covered_countries
from journal.measures.serializers import submitted_safety

pytestmark = pytest.mark.django_db

MEASURES = "/api/v1/measures/"
ENDORSING = [1, 1, 1, 1, 1, 1, 1, 1, 2]


def test_a_berlin_patient_sees_112_and_a_german_line_never_988(patient_client) -> None:
    moved = patient_client.patch("/api/v1/me/", {"country": "DE"}, format="json")
    assert moved.status_code == 200, moved.json()

    response = patient_client.post(
        MEASURES, {"instrument": "phq9", "answers": ENDORSING}, format="json"
    )

    assert response.status_code == 201
    safety = response.json()["safety"]
    contacts = {resource["contact"] for resource in safety["resources"]}
    assert "112" in contacts
    assert "0800 111 0 111" in contacts  # TelefonSeelsorge
    assert not contacts & {"988", "741741", "911"}
    assert "988" not in safety["not_monitored"]
    assert "112" in safety["not_monitored"]


@pytest.fixture
def clinic(settings):
    settings.CLINIC_AFTER_HOURS_NUMBER = "+49 30 1234 5678"
    settings.CLINIC_AFTER_HOURS_NAME = "Praxis Berg after hours"


def test_the_clinics_after_hours_line_is_shown_first(patient, patient_client, clinic) -> None:
    patient.country = "DE"
    patient.save(update_fields=["country"])

    response = patient_client.post(
        MEASURES, {"instrument": "phq9", "answers": ENDORSING}, format="json"
    )

    resources = response.json()["safety"]["resources"]
    assert [(r["kind"], r["contact"]) for r in resources] == [
        ("clinic", "+49 30 1234 5678"),
        ("crisis_line", "0800 111 0 111"),
        ("emergency", "112"),
    ]


@pytest.mark.parametrize("country", ["", "BR"])
def test_without_a_checked_list_the_block_says_plainly_to_call_the_local_number(
    patient, patient_client, country
) -> None:
    patient.country = country
    patient.save(update_fields=["country"])

    response = patient_client.post(
        MEASURES, {"instrument": "phq9", "answers": ENDORSING}, format="json"
    )

    safety = response.json()["safety"]
    assert safety["resources"] == []  # no other country's numbers, ever
    assert "call your local emergency number now" in safety["fallback"]
    assert safety["not_monitored"].endswith("call your local emergency number.")
    assert safety["country"] == (country or None)


def test_a_refused_submission_brings_the_patients_own_lines(patient, patient_client) -> None:
    patient.country = "FR"
    patient.save(update_fields=["country"])

    response = patient_client.post(
        MEASURES, {"instrument": "phq9", "answers": [1, 1, 1, 9, 1, 1, 1, 1, 2]}, format="json"
    )

    assert response.status_code == 400
    assert {r["contact"] for r in response.json()["safety"]["resources"]} == {"3114", "112"}


# Every answer vector, every covered country and the fallback ------------------------------

COUNTRIES = [*covered_countries(), None, "BR"]


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    answers=st.lists(st.integers(min_value=0, max_value=3), min_size=9, max_size=9),
    country=st.sampled_from(COUNTRIES),
)
def test_every_answer_vector_brings_the_block_exactly_when_item_9_is_above_0(
    answers: list[int], country: str | None
) -> None:
    block = submitted_safety({"instrument": "phq9", "answers": answers}, country=country)

    if answers[8] == 0:
        assert block is None
        return
    assert block is not None
    own = {line.contact for line in country_lines(country)}
    contacts = {resource["contact"] for resource in block["resources"]}
    assert contacts == own  # this country's lines and no other's
    if own:
        kinds = {resource["kind"] for resource in block["resources"]}
        assert {"emergency", "crisis_line"} <= kinds
        assert block["fallback"] is None
    else:
        assert "call your local emergency number" in block["fallback"]
    assert block["not_monitored"].startswith("Afterglow is a journal, not a crisis service")
