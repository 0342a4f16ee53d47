"""The safety block and the not-monitored notice follow the patient's own country.

Reproduces the defect of issue 16: the country was one server-wide setting, so a patient in
Berlin who endorsed PHQ-9 item 9 was shown the US lines (988, 741741, 911).
"""

from __future__ import annotations

import pytest

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
