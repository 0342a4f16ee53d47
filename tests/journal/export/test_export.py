"""The patient's export: everything they recorded, decrypted, as JSON and as Markdown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.journal.factories import make_entry, make_session

pytestmark = pytest.mark.django_db


def test_export_json_holds_every_live_session_and_entry_decrypted(
    patient, patient_client, other_patient, django_assert_max_num_queries
) -> None:
    session = make_session(patient, note="what the nurse said")
    intention = make_entry(
        patient, kind="intention", session_id=session.id, title="Hope", body="to feel lighter"
    )
    make_entry(patient, title="loose note", body="unlinked words", tags=["sleep"], mood=6)
    gone = make_entry(patient, title="deleted", body="deleted words")
    gone.deleted_at = gone.created_at
    gone.save(update_fields=["deleted_at"])
    make_entry(other_patient, title="not mine", body="someone else")

    with django_assert_max_num_queries(6):
        response = patient_client.get("/api/v1/me/export/")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="afterglow-journal-')
    document = response.json()
    assert document["format"] == "afterglow-journal-export"
    assert document["account"]["email"] == patient.email
    assert [s["note"] for s in document["sessions"]] == ["what the nurse said"]
    bodies = {entry["body"] for entry in document["entries"]}
    assert bodies == {"to feel lighter", "unlinked words"}
    linked = next(e for e in document["entries"] if e["id"] == str(intention.id))
    assert linked["session"] == str(session.id)


def test_export_markdown_is_readable_and_groups_entries_by_session(patient, patient_client) -> None:
    session = make_session(patient, note="clinic note")
    make_entry(
        patient, kind="intention", session_id=session.id, title="Hope", body="line one\nline two"
    )
    make_entry(patient, title="Loose", body="unlinked words", mood=7, tags=["walk"])

    response = patient_client.get("/api/v1/me/export/?format=markdown")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("# Journal of ")
    assert "## Dosing session, esketamine nasal:" in text
    assert "### Intention: Hope" in text
    assert "> line one\n> line two" in text
    assert "## Other entries" in text
    assert "Mood: 7/10" in text
    assert "Tags: walk" in text
    assert text.index("### Intention: Hope") < text.index("## Other entries")


def test_export_markdown_dates_an_entry_by_its_time_of_writing(patient, patient_client) -> None:
    # An intention written offline three days ago, before its session, arrives today.
    patient.created_at = timezone.now() - timedelta(days=30)
    patient.save(update_fields=["created_at"])
    written = timezone.now() - timedelta(days=3)
    session = make_session(patient, scheduled_start=written + timedelta(hours=2))
    make_entry(patient, kind="intention", session_id=session.id, title="Hope", written_at=written)

    text = patient_client.get("/api/v1/me/export/?format=markdown").content.decode()

    assert f"### Intention: Hope ({written:%Y-%m-%d %H:%M} UTC)" in text


def _write_offline_then_online(patient):
    """An entry written yesterday that arrives now, after one written (and sent) an hour
    ago; and the same pair on a session. Returns the ids in the order they were written."""
    patient.created_at = timezone.now() - timedelta(days=30)
    patient.save(update_fields=["created_at"])
    session = make_session(patient, scheduled_start=timezone.now() - timedelta(days=2))
    yesterday = timezone.now() - timedelta(days=1)
    online = make_entry(patient, title="Sent at once", written_at=timezone.now())
    offline = make_entry(patient, title="Written offline", written_at=yesterday)
    later = make_entry(patient, kind="reflection", session_id=session.id, title="Later")
    earlier = make_entry(
        patient,
        kind="reflection",
        session_id=session.id,
        title="Earlier",
        written_at=yesterday - timedelta(hours=1),
    )
    return [earlier.id, offline.id, online.id, later.id]


def test_export_markdown_orders_entries_by_their_time_of_writing(patient, patient_client) -> None:
    _write_offline_then_online(patient)

    text = patient_client.get("/api/v1/me/export/?format=markdown").content.decode()

    assert text.index("### Reflection: Earlier") < text.index("### Reflection: Later")
    assert text.index("### Note: Written offline") < text.index("### Note: Sent at once")


def test_export_json_orders_entries_by_their_time_of_writing(patient, patient_client) -> None:
    written_order = _write_offline_then_online(patient)

    document = patient_client.get("/api/v1/me/export/").json()

    assert [entry["id"] for entry in document["entries"]] == [str(i) for i in written_order]


def test_export_rejects_an_unknown_format(patient_client) -> None:
    response = patient_client.get("/api/v1/me/export/?format=pdf")
    assert response.status_code == 400
    assert "format" in response.json()["errors"]


def test_export_is_for_patients_only(therapist) -> None:
    from tests.conftest import client_for

    response = client_for(therapist).get("/api/v1/me/export/")
    assert response.status_code == 403
