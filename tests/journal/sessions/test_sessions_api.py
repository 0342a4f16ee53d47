"""Treatment sessions API: create, read, list, change, delete, and their rules."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from journal.models import TreatmentSession
from tests.journal.api_checks import (
    assert_field_error,
    assert_unknown_parameter,
    ids_page_by_page,
)
from tests.journal.factories import AFTER_EFFECTS, make_session

pytestmark = pytest.mark.django_db

URL = "/api/v1/sessions/"


def detail(session_id) -> str:
    return f"{URL}{session_id}/"


def soon(days: float = 2) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def dosing(**fields):
    return {
        "kind": "dosing",
        "modality": "iv_infusion",
        "setting": "clinic",
        "scheduled_start": soon(),
        **fields,
    }


# Create and read


def test_creates_a_dosing_session_and_reads_it_back(patient_client) -> None:
    response = patient_client.post(URL, dosing(note="Bring headphones."), format="json")

    assert response.status_code == 201
    created = response.json()
    assert created["kind"] == "dosing"
    assert created["modality"] == "iv_infusion"
    assert created["setting"] == "clinic"
    assert created["status"] == "scheduled"
    assert created["note"] == "Bring headphones."
    assert created["version"] == 1
    assert response["ETag"] == '"1"'

    read = patient_client.get(detail(created["id"]))
    assert read.status_code == 200
    assert read.json() == created
    assert read["ETag"] == '"1"'


def test_creates_a_preparation_session_without_dosing_fields(patient_client) -> None:
    response = patient_client.post(
        URL, {"kind": "preparation", "scheduled_start": soon()}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["modality"] is None
    assert body["setting"] is None
    assert body["note"] == ""
    assert body["after_effects"] is None


def test_accepts_a_client_chosen_id(patient_client) -> None:
    session_id = str(uuid.uuid4())

    response = patient_client.post(URL, dosing(id=session_id), format="json")

    assert response.status_code == 201
    assert response.json()["id"] == session_id
    assert TreatmentSession.objects.filter(pk=session_id).exists()


# Idempotent create


def test_repeated_create_with_the_same_id_answers_200_without_a_duplicate(patient_client) -> None:
    payload = dosing(id=str(uuid.uuid4()), note="same words")
    first = patient_client.post(URL, payload, format="json")

    repeat = patient_client.post(URL, payload, format="json")

    assert first.status_code == 201
    assert repeat.status_code == 200
    assert repeat.json() == first.json()
    assert repeat["ETag"] == '"1"'
    assert TreatmentSession.objects.count() == 1


def test_same_id_with_different_content_is_an_id_conflict(patient_client) -> None:
    payload = dosing(id=str(uuid.uuid4()), note="first words")
    patient_client.post(URL, payload, format="json")

    response = patient_client.post(URL, {**payload, "note": "other words"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "id_conflict"
    assert "other words" not in response.content.decode()
    assert TreatmentSession.objects.get().version == 1


def test_id_of_a_deleted_session_is_an_id_conflict(patient_client) -> None:
    payload = dosing(id=str(uuid.uuid4()))
    patient_client.post(URL, payload, format="json")
    patient_client.delete(detail(payload["id"]), HTTP_IF_MATCH="*")

    response = patient_client.post(URL, payload, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "id_conflict"


# Validation


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param(dosing(modality=None), "modality", id="dosing-without-modality"),
        pytest.param(dosing(modality=""), "modality", id="dosing-with-empty-modality"),
        pytest.param(
            {"kind": "integration", "modality": "oral_lozenge", "scheduled_start": soon()},
            "modality",
            id="modality-on-integration",
        ),
        pytest.param(
            {"kind": "preparation", "setting": "home", "scheduled_start": soon()},
            "setting",
            id="setting-on-preparation",
        ),
        pytest.param(dosing(modality="snorted"), "modality", id="unknown-modality"),
        pytest.param(dosing(kind="retreat"), "kind", id="unknown-kind"),
        pytest.param(dosing(status="postponed"), "status", id="unknown-status"),
        pytest.param(
            dosing(actual_start="2025-01-01T10:00:00Z", actual_end="2025-01-01T09:00:00Z"),
            "actual_end",
            id="end-before-start",
        ),
        pytest.param(
            dosing(actual_start="2025-01-01T10:00:00Z", actual_end="2025-01-01T10:00:00Z"),
            "actual_end",
            id="end-equal-to-start",
        ),
        pytest.param(
            dosing(actual_end="2025-01-01T10:00:00Z"), "actual_start", id="end-without-start"
        ),
        pytest.param(
            dosing(after_effects=AFTER_EFFECTS), "after_effects", id="after-effects-scheduled"
        ),
        pytest.param(
            {
                "kind": "integration",
                "status": "completed",
                "scheduled_start": soon(-1),
                "after_effects": AFTER_EFFECTS,
            },
            "after_effects",
            id="after-effects-on-integration",
        ),
        pytest.param(dosing(overall_rating=5), "overall_rating", id="rating-on-scheduled"),
        pytest.param(
            dosing(status="completed", overall_rating=11), "overall_rating", id="rating-over-10"
        ),
        pytest.param(
            dosing(status="completed", overall_rating=-1), "overall_rating", id="rating-below-0"
        ),
        pytest.param(
            dosing(
                status="completed",
                after_effects={k: v for k, v in AFTER_EFFECTS.items() if k != "anxiety"},
            ),
            "after_effects",
            id="after-effects-missing-a-key",
        ),
        pytest.param(
            dosing(status="completed", after_effects={**AFTER_EFFECTS, "euphoria": "mild"}),
            "after_effects",
            id="after-effects-unknown-key",
        ),
        pytest.param(
            dosing(status="completed", after_effects={**AFTER_EFFECTS, "nausea": "awful"}),
            "after_effects",
            id="after-effects-unknown-grade",
        ),
        pytest.param(dosing(note="x" * 20_001), "note", id="note-too-long"),
        pytest.param(dosing(note="before\x00after"), "note", id="note-with-nul"),
        pytest.param(dosing(scheduled_start="1999-12-31T23:00:00Z"), "scheduled_start", id="1999"),
        pytest.param(dosing(scheduled_start="2101-01-01T00:00:00Z"), "scheduled_start", id="2101"),
        pytest.param(dosing(scheduled_start="next tuesday"), "scheduled_start", id="not-a-time"),
        pytest.param(
            {"kind": "dosing", "modality": "iv_infusion"}, "scheduled_start", id="no-start"
        ),
        pytest.param(dosing(id="not-a-uuid"), "id", id="bad-id"),
        pytest.param(dosing(patient="someone"), "non_field_errors", id="unknown-field"),
    ],
)
def test_rejects_invalid_session(patient_client, payload, field) -> None:
    response = patient_client.post(URL, payload, format="json")

    assert_field_error(response, field)
    assert not TreatmentSession.objects.exists()


def test_rejects_a_note_with_a_lone_surrogate(patient_client) -> None:
    # JSON may escape half of a surrogate pair; it cannot be stored as UTF-8.
    raw = (
        '{"kind": "preparation", "scheduled_start": "2030-01-01T10:00:00Z", '
        '"note": "half \\ud800 a pair"}'
    )

    response = patient_client.post(URL, raw, content_type="application/json")

    assert_field_error(response, "note")
    assert not TreatmentSession.objects.exists()


def test_validation_messages_do_not_echo_the_text(patient_client) -> None:
    response = patient_client.post(URL, dosing(note="my secret words " * 2_000), format="json")

    assert response.status_code == 400
    assert "secret" not in response.content.decode()


def test_refuses_a_time_without_offset(patient_client) -> None:
    # 09:00 from a Berlin phone is not 09:00 UTC: a time without its offset is ambiguous.
    response = patient_client.post(
        URL, dosing(scheduled_start="2030-05-01T09:00:00"), format="json"
    )

    assert response.status_code == 400
    assert "offset" in response.json()["errors"]["scheduled_start"][0]
    assert not TreatmentSession.objects.exists()


def test_answers_every_time_in_one_form(patient_client) -> None:
    response = patient_client.post(
        URL, dosing(scheduled_start="2030-05-01T09:00:00.123456+02:00"), format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["scheduled_start"] == "2030-05-01T07:00:00Z"
    for name in ("created_at", "updated_at", "written_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body[name]), body[name]


# Change


def test_completes_a_dosing_session_with_after_effects_and_rating(patient_client, patient) -> None:
    session = make_session(patient, scheduled_start=timezone.now() - timedelta(hours=3))

    response = patient_client.patch(
        detail(session.id),
        {
            "status": "completed",
            "actual_start": (timezone.now() - timedelta(hours=3)).isoformat(),
            "actual_end": (timezone.now() - timedelta(hours=1)).isoformat(),
            "after_effects": AFTER_EFFECTS,
            "overall_rating": 8,
        },
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "completed"
    assert body["after_effects"] == AFTER_EFFECTS
    assert body["overall_rating"] == 8
    assert body["version"] == 2
    assert response["ETag"] == '"2"'
    assert body["note"] == "session note"


def test_rejects_uncompleting_a_session_that_has_after_effects(patient_client, patient) -> None:
    session = make_session(
        patient,
        scheduled_start=timezone.now() - timedelta(hours=3),
        status="completed",
        after_effects=AFTER_EFFECTS,
    )

    response = patient_client.patch(
        detail(session.id), {"status": "scheduled", "version": 1}, format="json"
    )

    assert_field_error(response, "after_effects")
    session.refresh_from_db()
    assert (session.status, session.version) == ("completed", 1)


def test_patch_with_the_version_in_the_body_bumps_version_and_change(
    patient_client, patient
) -> None:
    session = make_session(patient)
    before = TreatmentSession.objects.get(pk=session.pk)

    response = patient_client.patch(
        detail(session.id), {"note": "new words", "version": 1}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["note"] == "new words"
    assert response["ETag"] == '"2"'
    after = TreatmentSession.objects.get(pk=session.pk)
    assert after.version == 2
    assert after.change > before.change
    assert after.updated_at > before.updated_at


def test_patch_without_a_version_is_428_and_changes_nothing(patient_client, patient) -> None:
    session = make_session(patient)

    response = patient_client.patch(detail(session.id), {"note": "new"}, format="json")

    assert response.status_code == 428
    assert response.json()["code"] == "precondition_required"
    assert TreatmentSession.objects.get(pk=session.pk).version == 1


def test_patch_with_a_stale_if_match_is_412_with_the_current_record(
    patient_client, patient
) -> None:
    session = make_session(patient, note="current words")
    patient_client.patch(detail(session.id), {"note": "current words 2"}, HTTP_IF_MATCH='"1"')

    response = patient_client.patch(
        detail(session.id), {"note": "lost edit"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 412
    body = response.json()
    assert body["code"] == "version_conflict"
    assert body["current"]["note"] == "current words 2"
    assert body["current"]["version"] == 2
    assert response["ETag"] == '"2"'
    assert TreatmentSession.objects.get(pk=session.pk).version == 2


def test_patch_with_a_stale_body_version_is_412(patient_client, patient) -> None:
    session = make_session(patient)

    response = patient_client.patch(detail(session.id), {"note": "x", "version": 7}, format="json")

    assert response.status_code == 412
    assert response.json()["current"]["version"] == 1


@pytest.mark.parametrize("header", ['W/"1"', "1", '"abc"', '"2", "3"'])
def test_if_match_compares_strongly_and_exactly(patient_client, patient, header) -> None:
    session = make_session(patient)

    response = patient_client.patch(
        detail(session.id), {"note": "x"}, format="json", HTTP_IF_MATCH=header
    )

    assert response.status_code == 412


def test_if_match_accepts_a_list_holding_the_current_version(patient_client, patient) -> None:
    session = make_session(patient)

    response = patient_client.patch(
        detail(session.id), {"note": "x"}, format="json", HTTP_IF_MATCH='"5", "1"'
    )

    assert response.status_code == 200


# Delete


def test_delete_leaves_a_tombstone_and_a_repeat_answers_the_same(patient_client, patient) -> None:
    session = make_session(patient, status="scheduled")
    before = TreatmentSession.objects.get(pk=session.pk)

    response = patient_client.delete(detail(session.id), HTTP_IF_MATCH=f'"{before.version}"')

    assert response.status_code == 204
    tombstone = TreatmentSession.objects.get(pk=session.pk)
    assert tombstone.deleted_at is not None
    assert tombstone.note_sealed == ""
    assert tombstone.version == before.version + 1
    assert tombstone.change > before.change
    gone = patient_client.get(detail(session.id))
    assert (gone.status_code, gone.json()["code"]) == (410, "gone")
    assert gone.json()["deleted_at"].endswith("Z")
    assert gone["ETag"] == response["ETag"]
    again = patient_client.patch(detail(session.id), {"note": "x", "version": 2}, format="json")
    assert (again.status_code, again.json()["code"]) == (410, "gone")
    repeat = patient_client.delete(detail(session.id), HTTP_IF_MATCH=f'"{before.version}"')
    assert (repeat.status_code, repeat["ETag"]) == (204, response["ETag"])
    assert patient_client.get(URL).json()["results"] == []


def test_delete_with_a_stale_if_match_is_412_and_keeps_the_session(patient_client, patient) -> None:
    session = make_session(patient)

    response = patient_client.delete(detail(session.id), HTTP_IF_MATCH='"3"')

    assert response.status_code == 412
    assert response.json()["current"]["id"] == str(session.id)
    assert TreatmentSession.objects.get(pk=session.pk).deleted_at is None


def test_delete_with_the_current_if_match_succeeds(patient_client, patient) -> None:
    session = make_session(patient)

    response = patient_client.delete(detail(session.id), HTTP_IF_MATCH='"1"')

    assert response.status_code == 204


def test_unknown_session_id_is_404(patient_client) -> None:
    assert patient_client.get(detail(uuid.uuid4())).status_code == 404


# List


def test_lists_sessions_by_scheduled_start(patient_client, patient) -> None:
    now = timezone.now()
    later = make_session(patient, scheduled_start=now + timedelta(days=9))
    first = make_session(patient, kind="preparation", scheduled_start=now + timedelta(days=1))
    middle = make_session(patient, kind="integration", scheduled_start=now + timedelta(days=5))

    response = patient_client.get(URL)

    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["results"]]
    assert ids == [str(first.id), str(middle.id), str(later.id)]


def test_filters_sessions_by_kind_status_and_range(patient_client, patient) -> None:
    now = timezone.now()
    dosing_soon = make_session(patient, scheduled_start=now + timedelta(days=1))
    make_session(patient, scheduled_start=now + timedelta(days=20))
    make_session(patient, kind="integration", scheduled_start=now + timedelta(days=2))
    cancelled = make_session(patient, scheduled_start=now + timedelta(days=3), status="cancelled")

    def ids(**params):
        response = patient_client.get(URL, params)
        assert response.status_code == 200
        return [item["id"] for item in response.json()["results"]]

    window = {"from": now.isoformat(), "to": (now + timedelta(days=10)).isoformat()}
    assert ids(kind="dosing", **window) == [str(dosing_soon.id), str(cancelled.id)]
    assert ids(status="cancelled") == [str(cancelled.id)]
    assert ids(kind="dosing", status="scheduled", **window) == [str(dosing_soon.id)]


def test_pages_sessions_with_a_cursor(patient_client, patient) -> None:
    now = timezone.now()
    made = [make_session(patient, scheduled_start=now + timedelta(days=n)) for n in range(5)]

    seen = ids_page_by_page(patient_client, URL, 2)

    assert seen == [str(session.id) for session in made]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "retreat"}, "kind"),
        ({"status": "done"}, "status"),
        ({"from": "yesterday"}, "from"),
        ({"to": "1990-01-01T00:00:00Z"}, "to"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_rejects_invalid_list_parameters(patient_client, params, field) -> None:
    response = patient_client.get(URL, params)

    assert_field_error(response, field)


def test_an_unknown_list_parameter_answers_400_unknown_parameter(patient_client) -> None:
    assert_unknown_parameter(patient_client.get(URL, {"colour": "blue"}))
