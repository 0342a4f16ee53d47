"""The therapist's read-only API: linked patients, their readable shares, a share's
content; the same 404 for everything not readable; 405 for every write."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.api import api_datetime
from integration.care import links, shares
from integration.models import AccessEvent, Prompt, PromptStatus
from integration.therapist import selectors
from journal.sessions import services
from tests.accounts.helpers import assert_problem, without_request_id
from tests.integration.care_data import (
    edit_entry,
    expire,
    make_entry,
    make_link,
    make_share,
    signed_in,
)
from tests.integration.factories import (
    make_patient,
    make_session,
    make_therapist,
    yesterdays_dosing,
)
from tests.journal.factories import AFTER_EFFECTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def dosing(patient):
    return yesterdays_dosing(
        patient,
        status="completed",
        note="private calendar note",
        after_effects=AFTER_EFFECTS,
        overall_rating=7,
    )


# Linked patients ------------------------------------------------------------------------


def test_patients_list_shows_names_and_upcoming_sessions_only(
    therapist_api, patient, other_patient, therapist, link
):
    now = timezone.now()
    integration = make_session(patient, now + dt.timedelta(days=2), kind="integration")
    dosing_next = make_session(patient, now + dt.timedelta(days=5))
    make_session(patient, now - dt.timedelta(days=3))  # past: not shown
    cancelled = make_session(patient, now + dt.timedelta(days=4), kind="integration")
    services.session_update(
        patient=patient,
        session_id=cancelled.id,
        data={"status": "cancelled"},
        expected_versions=None,
    )
    make_session(other_patient, now + dt.timedelta(days=1), kind="integration")  # not linked

    body = therapist_api.get("/api/v1/therapist/patients/").json()["results"]

    assert body == [
        {
            "id": str(patient.id),
            "display_name": patient.display_name,
            "upcoming_sessions": [
                {"kind": "integration", "scheduled_start": _iso(integration.scheduled_start)},
                {"kind": "dosing", "scheduled_start": _iso(dosing_next.scheduled_start)},
            ],
            "next_integration_session_at": _iso(integration.scheduled_start),
            "care_link": str(link.id),
            # The patient's current decision about safety alerts, and their country.
            "safety_alerts_enabled": False,
            "safety_alerts_since": _iso(link.safety_alerts_consent.recorded_at),
            "country": None,
        }
    ]
    event = AccessEvent.objects.get()
    assert (event.actor, event.patient, event.action, event.via) == (
        therapist,
        patient,
        "patients.list",
        "api",
    )
    assert event.object_type == "session"
    assert event.object_ids == sorted([str(integration.id), str(dosing_next.id)])


def test_patients_list_writes_one_event_per_patient_in_one_insert(
    therapist, link, django_assert_max_num_queries
):
    for number in range(3):
        make_link(make_patient(email=f"p{number}@example.org"), therapist)

    with django_assert_max_num_queries(6):
        views = selectors.linked_patients_for_therapist(
            therapist=therapist, request=None, via="dashboard"
        )

    assert len(views) == 4
    events = AccessEvent.objects.filter(action="patients.list")
    assert sorted(str(event.patient_id) for event in events) == sorted(
        str(view.patient_id) for view in views
    )
    assert {event.via for event in events} == {"dashboard"}


# A patient's shares ---------------------------------------------------------------------


def test_patient_shares_lists_only_what_is_readable_now(
    therapist_api, patient, therapist, link, dosing
):
    entry = make_entry(patient)
    integration = make_session(patient, timezone.now() + dt.timedelta(days=2), kind="integration")
    readable = make_share(
        link, entries=[entry], dosing_session=dosing, integration_session=integration
    )
    expire(make_share(link, entries=[entry]))
    shares.share_revoke(patient=patient, share_id=make_share(link, entries=[entry]).id)

    response = therapist_api.get(f"/api/v1/therapist/patients/{patient.id}/shares/")

    assert response.json()["results"] == [
        {
            "id": str(readable.id),
            "created_at": _iso(readable.created_at),
            "expires_at": _iso(readable.expires_at),
            "dosing_session": {
                "id": str(dosing.id),
                "scheduled_start": _iso(dosing.scheduled_start),
            },
            "integration_session": {
                "id": str(integration.id),
                "scheduled_start": _iso(integration.scheduled_start),
            },
            "entry_count": 1,
            "include_measures": False,
        }
    ]
    event = AccessEvent.objects.get(action="shares.list")
    assert event.object_ids == [str(readable.id)]


def test_share_history_has_states_and_dates_and_no_content(therapist_api, patient, link):
    entry = make_entry(patient)
    active = make_share(link, entries=[entry])
    expired = expire(make_share(link, entries=[entry]))

    body = therapist_api.get(f"/api/v1/therapist/patients/{patient.id}/share-history/").json()[
        "results"
    ]

    assert {item["id"]: item["state"] for item in body} == {
        str(active.id): "active",
        str(expired.id): "expired",
    }
    assert set(body[0]) == {
        "id",
        "state",
        "created_at",
        "expires_at",
        "revoked_at",
        "link_ended_at",
    }
    assert AccessEvent.objects.filter(action="shares.history").count() == 1


def test_patient_routes_answer_404_for_patients_not_linked(
    therapist_api, patient, other_patient, link
):
    make_link(other_patient, make_therapist(email="dr.other@example.org"))

    for patient_id in (other_patient.id, uuid.uuid4()):
        for suffix in ("shares", "share-history"):
            response = therapist_api.get(f"/api/v1/therapist/patients/{patient_id}/{suffix}/")
            assert_problem(response, 404, "not_found")
    assert not AccessEvent.objects.exists()


# A share's content ----------------------------------------------------------------------


def test_share_content_is_the_dosing_session_its_entries_and_prompts(
    therapist_api, patient, link, dosing
):
    chosen = make_entry(
        patient, kind="intention", title="Intent", body="Be open", tags=["a"], mood=6
    )
    attached = make_entry(
        patient, kind="reflection", session_id=dosing.id, title="After", body="Calm"
    )
    make_entry(patient, title="not shared")
    share = make_share(link, entries=[chosen], dosing_session=dosing)
    prompt = Prompt.objects.filter(session=dosing).select_related("exercise").order_by("due_at")[0]
    Prompt.objects.filter(session=dosing).exclude(pk=prompt.pk).update(
        status=PromptStatus.CANCELLED
    )
    # Sent while the patient had no device that could take a push.
    Prompt.objects.filter(pk=prompt.pk).update(status=PromptStatus.SENT, delivered_via="inbox")

    body = therapist_api.get(f"/api/v1/therapist/shares/{share.id}/").json()

    assert body["patient"] == {"id": str(patient.id), "display_name": patient.display_name}
    assert body["dosing_session"] == {
        "id": str(dosing.id),
        "modality": "esketamine_nasal",
        "setting": "clinic",
        "scheduled_start": _iso(dosing.scheduled_start),
        "actual_start": None,
        "actual_end": None,
        "status": "completed",
        "after_effects": dosing.after_effects,
        "overall_rating": 7,
    }
    assert "private calendar note" not in str(body)
    assert body["integration_session"] is None
    assert [entry["id"] for entry in body["entries"]] == [str(chosen.id), str(attached.id)]
    assert body["entries"][0] == {
        "id": str(chosen.id),
        "kind": "intention",
        "title": "Intent",
        "body": "Be open",
        "tags": ["a"],
        "mood": 6,
        "created_at": _iso(chosen.created_at),
        "updated_at": _iso(chosen.updated_at),
        "is_edited": False,
        "shared_via": "entry",
    }
    assert body["entries"][1]["shared_via"] == "session"
    assert body["prompts"] == [
        {
            "exercise_title": prompt.exercise.title,
            "due_at": _iso(prompt.due_at),
            "status": "sent",
            "completed_at": None,
            "delivered_via": "inbox",
        }
    ]
    event = AccessEvent.objects.get()
    assert (event.action, event.share_id, event.object_type) == ("share.read", share.id, "entry")
    assert event.object_ids == sorted([str(chosen.id), str(attached.id), str(dosing.id)])


def test_entries_edited_after_sharing_are_marked(therapist_api, patient, link, dosing):
    edited_before = make_entry(patient)
    edit_entry(edited_before, body="before sharing")
    chosen = make_entry(patient)
    attached = make_entry(patient, session_id=dosing.id)
    share = make_share(link, entries=[edited_before, chosen], dosing_session=dosing)
    later = make_entry(patient, session_id=dosing.id)
    later_edited = make_entry(patient, session_id=dosing.id)
    for entry in (chosen, attached, later_edited):
        edit_entry(entry, body="after sharing")

    body = therapist_api.get(f"/api/v1/therapist/shares/{share.id}/").json()

    marked = {item["id"]: item["is_edited"] for item in body["entries"]}
    assert marked == {
        str(edited_before.id): False,
        str(chosen.id): True,
        str(attached.id): True,
        str(later.id): False,
        str(later_edited.id): True,
    }


def test_reading_a_share_costs_the_same_queries_for_2_or_12_entries(
    patient, therapist, link, dosing, django_assert_max_num_queries
):
    other_dosing = make_session(patient, timezone.now() - dt.timedelta(days=8))
    few = make_share(link, entries=[make_entry(patient)], dosing_session=other_dosing)
    make_entry(patient, session_id=other_dosing.id)
    many = make_share(link, entries=[make_entry(patient) for _ in range(6)], dosing_session=dosing)
    for _ in range(6):
        make_entry(patient, session_id=dosing.id)

    counts = []
    for share in (few, many):
        with CaptureQueriesContext(connection) as queries:
            selectors.share_content_for_therapist(
                therapist=therapist, share_id=share.id, request=None, via="api"
            )
        counts.append(len(queries))
    with django_assert_max_num_queries(7):
        content = selectors.share_content_for_therapist(
            therapist=therapist, share_id=many.id, request=None, via="api"
        )

    assert len(content.entries) == 12
    assert counts[0] == counts[1]


def test_everything_not_readable_answers_the_same_404(
    therapist_api, patient, other_patient, therapist, link
):
    entry = make_entry(patient)
    expired = expire(make_share(link, entries=[entry]))
    revoked = make_share(link, entries=[entry])
    shares.share_revoke(patient=patient, share_id=revoked.id)
    others = make_share(
        make_link(patient, make_therapist(email="dr.other@example.org")), entries=[entry]
    )
    ended_link = make_link(other_patient, therapist)
    ended = make_share(ended_link, entries=[make_entry(other_patient)])
    links.care_link_end(user=other_patient, link_id=ended_link.id)

    bodies = [
        without_request_id(
            assert_problem(
                therapist_api.get(f"/api/v1/therapist/shares/{share_id}/"), 404, "not_found"
            )
        )
        for share_id in (expired.id, revoked.id, others.id, ended.id, uuid.uuid4())
    ]
    bodies.append(
        without_request_id(
            assert_problem(therapist_api.get("/api/v1/therapist/shares/nope/"), 404, "not_found")
        )
    )

    assert all(body == bodies[0] for body in bodies)
    assert not AccessEvent.objects.exists()


def test_an_erased_or_deactivated_patients_shares_are_gone(therapist_api, patient, link):
    share = make_share(link, entries=[make_entry(patient)])
    type(patient).objects.filter(pk=patient.pk).update(is_active=False)

    assert_problem(therapist_api.get(f"/api/v1/therapist/shares/{share.id}/"), 404, "not_found")


def test_unverified_therapists_and_patients_are_refused(patient, therapist, link):
    share = make_share(link, entries=[make_entry(patient)])
    url = f"/api/v1/therapist/shares/{share.id}/"

    assert_problem(signed_in(therapist, second_factor=False).get(url), 403, "permission_denied")
    assert_problem(signed_in(patient).get(url), 403, "permission_denied")
    assert not AccessEvent.objects.exists()


# Read-only ------------------------------------------------------------------------------

THERAPIST_ROUTES = [
    "/api/v1/therapist/patients/",
    "/api/v1/therapist/patients/{patient}/shares/",
    "/api/v1/therapist/patients/{patient}/share-history/",
    "/api/v1/therapist/shares/{share}/",
]


@pytest.mark.parametrize("route", THERAPIST_ROUTES)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_every_write_on_the_therapist_api_answers_405(therapist_api, patient, link, route, method):
    share = make_share(link, entries=[make_entry(patient)])
    url = route.format(patient=patient.id, share=share.id)

    response = getattr(therapist_api, method)(url, {"body": "x"}, format="json")

    assert_problem(response, 405, "method_not_allowed")
    assert not AccessEvent.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_invitations_take_only_get_and_post(therapist_api, method):
    assert_problem(
        getattr(therapist_api, method)("/api/v1/therapist/invitations/"), 405, "method_not_allowed"
    )


def _iso(value: dt.datetime) -> str:
    return api_datetime(value)
