"""One patient's journal is invisible and untouchable to everyone else."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from journal.models import Entry, SyncState, TreatmentSession
from tests.journal.factories import make_entry, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(patient):
    session = make_session(patient, kind="integration", note="my session note")
    entry = make_entry(patient, session_id=session.id, title="my title", body="my body")
    return session, entry


def snapshot() -> list[tuple]:
    """Every journal row, every column: to show a refused request changed nothing."""
    return [
        *TreatmentSession.objects.order_by("pk").values_list(),
        *Entry.objects.order_by("pk").values_list(),
        *SyncState.objects.order_by("pk").values_list(),
    ]


def record_urls(session, entry) -> list[str]:
    return [
        f"/api/v1/sessions/{session.id}/",
        f"/api/v1/sessions/{session.id}/journal/",
        f"/api/v1/entries/{entry.id}/",
    ]


def every_operation(session, entry) -> list[tuple[str, str, dict]]:
    return [
        ("get", "/api/v1/sessions/", {}),
        ("post", "/api/v1/sessions/", {"kind": "preparation", "scheduled_start": "2030-01-01"}),
        ("get", f"/api/v1/sessions/{session.id}/", {}),
        ("patch", f"/api/v1/sessions/{session.id}/", {"note": "x", "version": 1}),
        ("delete", f"/api/v1/sessions/{session.id}/", {}),
        ("get", f"/api/v1/sessions/{session.id}/journal/", {}),
        ("get", "/api/v1/entries/", {}),
        ("post", "/api/v1/entries/", {"kind": "note", "body": "x"}),
        ("get", f"/api/v1/entries/{entry.id}/", {}),
        ("patch", f"/api/v1/entries/{entry.id}/", {"body": "x", "version": 1}),
        ("delete", f"/api/v1/entries/{entry.id}/", {}),
        ("get", "/api/v1/sync/", {}),
    ]


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_patient_gets_404_for_my_records_and_changes_nothing(
    other_client, mine, method
) -> None:
    session, entry = mine
    before = snapshot()

    for url in record_urls(session, entry):
        if method != "get" and url.endswith("/journal/"):
            continue
        change = {"version": 1, ("note" if "/sessions/" in url else "title"): "x"}
        response = getattr(other_client, method)(
            url, change if method == "patch" else None, HTTP_IF_MATCH='"1"'
        )
        assert response.status_code == 404, url
        assert response["Content-Type"] == "application/problem+json"
        assert "my " not in response.content.decode()

    assert snapshot() == before


def test_another_patient_sees_nothing_of_mine_in_lists_and_sync(other_client, mine) -> None:
    session, _ = mine

    assert other_client.get("/api/v1/sessions/").json()["results"] == []
    assert other_client.get("/api/v1/entries/").json()["results"] == []
    assert other_client.get("/api/v1/entries/", {"session": str(session.id)}).json() == {
        "next": None,
        "previous": None,
        "results": [],
    }
    assert other_client.get("/api/v1/sync/").json()["changes"] == []


def test_another_patients_writes_do_not_touch_my_change_numbers(
    other_client, other_patient, patient, mine
) -> None:
    mine_before = SyncState.objects.get(patient=patient).last_change

    other_client.post("/api/v1/entries/", {"kind": "note", "body": "theirs"})

    assert SyncState.objects.get(patient=patient).last_change == mine_before
    assert SyncState.objects.get(patient=other_patient).last_change == 1


def test_another_patient_cannot_take_over_my_id(other_client, mine) -> None:
    session, entry = mine
    before = snapshot()

    entry_response = other_client.post(
        "/api/v1/entries/", {"id": str(entry.id), "kind": "note", "body": "theirs"}
    )
    session_response = other_client.post(
        "/api/v1/sessions/",
        {"id": str(session.id), "kind": "integration", "scheduled_start": "2030-01-01T10:00Z"},
    )

    assert entry_response.status_code == session_response.status_code == 409
    assert entry_response.json()["code"] == "id_conflict"
    assert "my " not in entry_response.content.decode()
    assert snapshot() == before


def test_a_therapist_is_refused_every_operation(therapist_client, mine) -> None:
    before = snapshot()

    for method, url, data in every_operation(*mine):
        response = getattr(therapist_client, method)(url, data, format="json")
        assert response.status_code == 403, (method, url)
        assert response.json()["code"] == "permission_denied"

    assert snapshot() == before


def test_anonymous_requests_are_refused_with_401(mine) -> None:
    client = APIClient()
    before = snapshot()

    for method, url, data in every_operation(*mine):
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == 401, (method, url)
        assert response["Content-Type"] == "application/problem+json"

    assert snapshot() == before
