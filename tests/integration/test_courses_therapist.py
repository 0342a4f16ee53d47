"""The therapist's read-only view of a shared patient's course: only through a live share
of one of its dosing sessions, logged for the patient, and nothing but times and counts."""

from __future__ import annotations

import datetime as dt

import pytest

from integration.care import shares
from integration.models import AccessEvent, CourseSession
from journal.sessions import services as session_services
from tests.integration.care_data import expire, make_entry, make_share
from tests.integration.factories import iv_course, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def course(patient, frozen_now):
    return iv_course(patient)


def course_session(course, position):
    return CourseSession.objects.select_related("session").get(course=course, position=position)


def read(therapist_api, share):
    return therapist_api.get(f"/api/v1/therapist/shares/{share.pk}/course/")


def test_it_shows_which_session_of_how_many_and_what_is_next(
    patient, link, therapist_api, course, frozen_now
):
    second = course_session(course, 2).session
    share = make_share(link, dosing_session=second)

    response = read(therapist_api, share)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["course_id"] == str(course.pk)
    assert body["patient_id"] == str(patient.pk)
    assert body["shared_session_number"] == 2
    assert body["dosing_sessions_total"] == 6
    assert body["dosing_sessions_done"] == 0
    assert body["next_session"]["position"] == 1
    assert body["next_session"]["scheduled_start"] == "2026-03-03T08:00:00Z"
    # Counts and times only: no notes, no list of the patient's sessions.
    assert "sessions" not in body
    assert "note" not in str(body)
    event = AccessEvent.objects.get(action="share.course")
    assert event.patient_id == patient.pk
    assert event.share_id == share.pk


def test_a_share_without_a_course_session_is_not_found(
    patient, link, therapist_api, course, frozen_now
):
    loose = make_session(patient, dt.datetime(2026, 3, 4, 9, tzinfo=dt.UTC))
    entry_only = make_share(link, entries=[make_entry(patient)])
    outside = make_share(link, dosing_session=loose)

    assert read(therapist_api, entry_only).status_code == 404
    assert read(therapist_api, outside).status_code == 404
    assert not AccessEvent.objects.filter(action="share.course").exists()


def test_a_revoked_or_expired_share_or_another_therapist_reads_nothing(
    patient, link, therapist_api, course, frozen_now
):
    from tests.integration.care_data import signed_in
    from tests.integration.factories import make_therapist

    session = course_session(course, 1).session
    revoked = make_share(link, dosing_session=session)
    shares.share_revoke(patient=patient, share_id=revoked.pk)
    expired = expire(make_share(link, dosing_session=session))
    live = make_share(link, dosing_session=session)
    stranger = signed_in(make_therapist(email="stranger@example.org"))

    assert read(therapist_api, revoked).status_code == 404
    assert read(therapist_api, expired).status_code == 404
    assert read(stranger, live).status_code == 404
    assert not AccessEvent.objects.filter(action="share.course").exists()
    assert read(therapist_api, live).status_code == 200


def test_the_patient_cannot_use_the_therapist_view(patient_api, link, course, frozen_now):
    share = make_share(link, dosing_session=course_session(course, 1).session)
    assert patient_api.get(f"/api/v1/therapist/shares/{share.pk}/course/").status_code == 403


def test_it_is_read_only(therapist_api, link, course, frozen_now):
    share = make_share(link, dosing_session=course_session(course, 1).session)
    for method in ("post", "put", "patch", "delete"):
        response = getattr(therapist_api, method)(f"/api/v1/therapist/shares/{share.pk}/course/")
        assert response.status_code == 405


def test_a_share_whose_dosing_session_was_deleted_reads_no_course(
    patient, link, therapist_api, course, frozen_now
):
    # A deleted session is gone for everyone: the share no longer reaches its course.
    session = course_session(course, 2).session
    share = make_share(link, dosing_session=session)
    session_services.session_delete(patient=patient, session_id=session.pk, expected_versions=None)

    assert read(therapist_api, share).status_code == 404
    assert not AccessEvent.objects.filter(action="share.course").exists()
