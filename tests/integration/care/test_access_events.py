"""Access events: every therapist read writes one in the transaction of the read; a read
whose event cannot be written is refused; nobody can change or delete one; the patient
lists them."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from integration.care import access
from integration.care.access import AccessAction
from integration.models import AccessEvent
from integration.therapist import selectors
from tests.accounts.helpers import assert_problem
from tests.integration.care_data import make_entry, make_link, make_share, signed_in
from tests.integration.factories import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def share(patient, therapist):
    return make_share(
        make_link(patient, therapist), entries=[make_entry(patient, body="secret words")]
    )


@pytest.fixture
def event(share, therapist):
    selectors.share_content_for_therapist(
        therapist=therapist, share_id=share.id, request=None, via="api"
    )
    return AccessEvent.objects.get()


# Append-only ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE integration_accessevent SET action = 'nothing' WHERE id = %s",
        "DELETE FROM integration_accessevent WHERE id = %s",
    ],
)
def test_the_database_refuses_update_and_delete(event, statement):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [event.pk])

    assert AccessEvent.objects.get(pk=event.pk).action == "share.read"


def test_the_application_refuses_to_change_or_delete_one(event):
    event.action = "nothing"

    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AccessEvent.objects.filter(pk=event.pk).update(action="nothing")
    with pytest.raises(PermissionError):
        AccessEvent.objects.filter(pk=event.pk).delete()
    assert AccessEvent.objects.get(pk=event.pk).action == "share.read"


# A read whose event cannot be written fails ---------------------------------------------


@pytest.fixture
def inserts_refused():
    """The database refuses new access events (a real failure, in the test's transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION pg_temp.refuse_insert() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'audit store unavailable'; END; $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_insert BEFORE INSERT ON integration_accessevent
                FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_insert();
            """
        )


@pytest.mark.parametrize(
    "route",
    [
        "/api/v1/therapist/shares/{share}/",
        "/api/v1/therapist/patients/",
        "/api/v1/therapist/patients/{patient}/shares/",
        "/api/v1/therapist/patients/{patient}/share-history/",
    ],
)
def test_a_read_whose_event_cannot_be_written_answers_503_with_nothing_of_it(
    therapist_api, share, patient, inserts_refused, route
):
    response = therapist_api.get(route.format(share=share.id, patient=patient.id))

    body = assert_problem(response, 503, "audit_unavailable")
    assert set(body) <= {"type", "title", "status", "detail", "code", "request_id", "instance"}
    assert b"secret words" not in response.content
    assert str(share.id).encode() not in response.content
    assert response["Retry-After"] == "30"


def test_an_orm_failure_of_the_insert_refuses_the_read_too(therapist_api, share, monkeypatch):
    def refuse(**fields):
        raise DatabaseError("insert failed")

    monkeypatch.setattr(AccessEvent.objects, "create", refuse)

    response = therapist_api.get(f"/api/v1/therapist/shares/{share.id}/")

    assert_problem(response, 503, "audit_unavailable")
    assert b"secret words" not in response.content
    assert not AccessEvent.objects.exists()


def test_an_event_is_not_written_without_a_read_channel(share, therapist):
    with pytest.raises(ValueError, match="via"):
        selectors.share_content_for_therapist(
            therapist=therapist, share_id=share.id, request=None, via="admin"
        )

    assert not AccessEvent.objects.exists()


def test_an_event_is_not_written_for_an_action_the_log_does_not_name(share, patient, therapist):
    with pytest.raises(ValueError, match="action"), transaction.atomic():
        access.access_record(
            actor=therapist,
            patient=patient,
            action="share.export",  # type: ignore[arg-type]
            via="api",
            request=None,
            share=share,
        )

    assert not AccessEvent.objects.exists()


# What is recorded, and the patient's list -----------------------------------------------


def test_event_records_who_what_when_the_request_and_the_address(
    therapist_api, share, patient, therapist
):
    response = therapist_api.get(f"/api/v1/therapist/shares/{share.id}/", REMOTE_ADDR="203.0.113.9")

    event = AccessEvent.objects.get()
    assert event.actor == therapist
    assert event.patient == patient
    assert event.share == share
    assert event.request_id == response["X-Request-ID"]
    assert event.ip_address == "203.0.113.9"
    assert event.via == "api"


def test_patient_lists_access_events_newest_first_in_pages(
    therapist_api, share, patient, therapist, other_patient
):
    therapist_api.get("/api/v1/therapist/patients/")
    therapist_api.get(f"/api/v1/therapist/shares/{share.id}/")
    other_share = make_share(
        make_link(other_patient, therapist), entries=[make_entry(other_patient)]
    )
    therapist_api.get(f"/api/v1/therapist/shares/{other_share.id}/")
    patient_api = signed_in(patient)

    first = patient_api.get("/api/v1/me/access-events/", {"limit": 1}).json()
    second = patient_api.get(first["next"]).json()

    assert [item["action"] for item in first["results"] + second["results"]] == [
        "share.read",
        "patients.list",
    ]
    newest = first["results"][0]
    assert set(newest) == {
        "id",
        "actor_display_name",
        "action",
        "share",
        "object_type",
        "object_ids",
        "via",
        "request_id",
        "created_at",
    }
    assert newest["actor_display_name"] == therapist.display_name
    assert newest["share"] == str(share.id)
    # The public id, a UUID; the sequence number stays inside the database.
    read = AccessEvent.objects.get(patient=patient, action=AccessAction.SHARE_READ)
    assert newest["id"] == str(read.public_id)
    assert newest["id"] != str(read.pk)
    assert second["next"] is None


def test_other_patients_and_therapists_do_not_see_a_patients_events(
    event, other_patient, therapist
):
    assert signed_in(other_patient).get("/api/v1/me/access-events/").json()["results"] == []
    assert_problem(signed_in(therapist).get("/api/v1/me/access-events/"), 403, "permission_denied")


# A page of a therapist's list logs what it shows, not the whole list ---------------------


def test_a_page_of_patients_logs_only_the_patients_shown(therapist_api, link, therapist):
    other = make_link(make_patient(email="zoe@example.org", display_name="Zoe"), therapist)

    first = therapist_api.get("/api/v1/therapist/patients/", {"limit": 1}).json()

    shown = [item["id"] for item in first["results"]]
    events = AccessEvent.objects.filter(action="patients.list")
    assert [str(event.patient_id) for event in events] == shown
    therapist_api.get(first["next"])
    assert {str(event.patient_id) for event in events.all()} == {
        str(link.patient_id),
        str(other.patient_id),
    }


def test_a_page_of_shares_logs_only_the_shares_shown(therapist_api, link, patient):
    older = make_share(link, entries=[make_entry(patient)])
    newer = make_share(link, entries=[make_entry(patient)])

    for route, action in [
        (f"/api/v1/therapist/patients/{patient.id}/shares/", "shares.list"),
        (f"/api/v1/therapist/patients/{patient.id}/share-history/", "shares.history"),
    ]:
        first = therapist_api.get(route, {"limit": 1}).json()
        second = therapist_api.get(first["next"]).json()

        assert [item["id"] for item in first["results"] + second["results"]] == [
            str(newer.id),
            str(older.id),
        ]
        events = AccessEvent.objects.filter(action=action).order_by("id")
        assert [event.object_ids for event in events] == [[str(newer.id)], [str(older.id)]]
