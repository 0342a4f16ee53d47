"""Measures in the journal export (JSON and Markdown), in sync, and at erasure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from journal.measures import services
from journal.models import Measure
from tests.journal.factories import make_entry, make_measure, make_session

pytestmark = pytest.mark.django_db


def sync(client, **params):
    response = client.get("/api/v1/sync/", params)
    assert response.status_code == 200
    return response.json()


def test_the_json_export_holds_the_measures(patient_client, patient, other_patient) -> None:
    session = make_session(patient)
    measure = make_measure(
        patient,
        total=12,
        difficulty=1,
        session_id=session.id,
        taken_at=datetime(2025, 3, 3, 17, 20, tzinfo=UTC),
    )
    make_measure(other_patient, total=20)

    document = patient_client.get("/api/v1/me/export/").json()

    assert document["measures"] == [
        {
            "id": str(measure.id),
            "instrument": "phq9",
            "answers": [3, 3, 3, 3, 0, 0, 0, 0, 0],
            "difficulty": 1,
            "total": 12,
            "band": "moderate",
            "session": str(session.id),
            "taken_at": "2025-03-03T17:20:00Z",
            "version": 1,
            "created_at": document["measures"][0]["created_at"],
        }
    ]


def test_the_json_export_keeps_a_query_budget(
    patient_client, patient, django_assert_max_num_queries
) -> None:
    for total in range(10):
        make_measure(patient, total=total)
        make_entry(patient)

    with django_assert_max_num_queries(7):
        document = patient_client.get("/api/v1/me/export/").json()

    assert len(document["measures"]) == 10


def test_the_markdown_export_has_a_measures_section(patient_client, patient) -> None:
    make_measure(patient, total=16, difficulty=3, taken_at=datetime(2025, 3, 1, 9, 0, tzinfo=UTC))
    make_measure(
        patient, instrument="gad7", total=4, taken_at=datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
    )

    text = patient_client.get("/api/v1/me/export/?format=markdown").content.decode()

    assert "## Measures" in text
    assert (
        "| 2025-03-01 09:00 UTC | PHQ-9 | 16/27 | Moderately severe "
        "| 3 3 3 3 3 1 0 0 0; difficulty: Extremely difficult |"
    ) in text
    assert "| 2025-03-02 09:00 UTC | GAD-7 | 4/21 | Minimal | 3 1 0 0 0 0 0 |" in text


def test_the_markdown_export_of_a_journal_without_measures_has_no_section(
    patient_client, patient
) -> None:
    make_entry(patient)

    text = patient_client.get("/api/v1/me/export/?format=markdown").content.decode()

    assert "## Measures" not in text


def test_sync_reports_measures_in_change_order(patient_client, patient) -> None:
    entry = make_entry(patient)
    measure = make_measure(patient, instrument="gad7", total=9)

    page = sync(patient_client)

    assert [(c["type"], c["id"]) for c in page["changes"]] == [
        ("entry", str(entry.id)),
        ("measure", str(measure.id)),
    ]
    change = page["changes"][1]
    assert change["deleted"] is False
    assert change["data"] == patient_client.get(f"/api/v1/measures/{measure.id}/").json()


def test_a_sync_cursor_passes_over_no_measure(patient_client, patient) -> None:
    make_measure(patient)
    cursor = sync(patient_client)["cursor"]
    later = make_measure(patient, total=5)

    page = sync(patient_client, since=cursor)

    assert [c["id"] for c in page["changes"]] == [str(later.id)]


def test_erasure_hook_deletes_the_patients_measures_only(patient, other_patient) -> None:
    make_measure(patient, total=25)
    make_measure(patient, instrument="gad7", total=3)
    theirs = make_measure(other_patient)

    deleted = services.measures_erase(user=patient)

    assert deleted == 2
    assert list(Measure.objects.all()) == [theirs]


def test_a_measure_outlives_its_session(patient) -> None:
    session = make_session(patient)
    measure = make_measure(patient, session_id=session.id)

    session.delete()

    measure.refresh_from_db()
    assert measure.session_id is None
