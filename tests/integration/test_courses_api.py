"""The course resource: create with its sessions and prompts, a safe retry, reads, and
bad input answered as a 4xx problem."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integration.models import (
    Course,
    CourseSession,
    CourseTemplatePhase,
    PatientTimeline,
    Prompt,
    PromptStatus,
)
from journal.models import TreatmentSession
from tests.integration.factories import iv_course, make_patient

pytestmark = pytest.mark.django_db

ESKETAMINE = {
    "template": "esketamine-induction-maintenance",
    "start_date": "2026-03-05",  # a Thursday; NOW is Monday 2 March 2026
    "local_time": "09:00",
    "weekdays": ["MO", "TH"],
}


def create(client, **changes):
    return client.post("/api/v1/courses/", {**ESKETAMINE, **changes}, format="json")


def test_it_creates_the_sessions_and_their_prompts(patient, patient_api, frozen_now):
    response = create(patient_api, maintenance_interval_weeks=2)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["template"] == "esketamine-induction-maintenance"
    assert body["modality"] == "esketamine_nasal"
    assert body["plan"] == "esketamine-course"
    assert body["weekdays"] == ["MO", "TH"]
    assert body["dosing_sessions_total"] == 16
    assert body["dosing_sessions_done"] == 0
    assert [row["position"] for row in body["sessions"]] == list(range(1, 17))
    assert {row["local_start"][11:] for row in body["sessions"]} == {"09:00:00"}
    # Thursday 5 March 09:00 in Berlin (CET) is 08:00 UTC; after 29 March, 07:00 UTC.
    assert body["sessions"][0]["scheduled_start"] == "2026-03-05T08:00:00Z"
    assert body["next_session"]["scheduled_start"] == "2026-03-05T08:00:00Z"
    assert body["sessions"][-1]["scheduled_start"] == "2026-06-11T07:00:00Z"
    sessions = TreatmentSession.objects.filter(patient=patient)
    assert sessions.count() == 16
    assert set(sessions.values_list("modality", flat=True)) == {"esketamine_nasal"}
    assert Prompt.objects.filter(patient=patient, status=PromptStatus.SCHEDULED).exists()
    assert PatientTimeline.objects.get(patient=patient).plan.slug == "esketamine-course"


def test_a_repeated_create_answers_the_course_once(patient, patient_api, frozen_now):
    course_id = str(uuid.uuid4())
    first = create(patient_api, id=course_id)
    again = create(patient_api, id=course_id, weekdays=["TH", "MO"])  # the same request

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == course_id == first.json()["id"]
    assert again.json()["sessions"] == first.json()["sessions"]
    assert Course.objects.count() == 1
    assert TreatmentSession.objects.filter(patient=patient).count() == 16


def test_the_same_id_with_another_request_is_a_conflict_with_the_course(
    patient, patient_api, frozen_now
):
    course_id = str(uuid.uuid4())
    create(patient_api, id=course_id)

    response = create(patient_api, id=course_id, local_time="10:00")

    assert response.status_code == 409
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "id_conflict"
    assert response.json()["current"]["id"] == course_id
    assert response.json()["current"]["local_time"] == "09:00"
    assert TreatmentSession.objects.filter(patient=patient).count() == 16


def test_another_patients_course_id_is_a_conflict_without_the_course(patient_api, frozen_now):
    other = make_patient(email="other-course@example.org")
    taken = iv_course(other)

    response = create(patient_api, id=str(taken.pk))

    assert response.status_code == 409
    assert "current" not in response.json()


def test_a_second_active_course_is_refused(patient, patient_api, frozen_now):
    create(patient_api)
    response = create(patient_api, template="iv-series", weekdays=["TU", "FR"])
    assert response.status_code == 409
    assert response.json()["code"] == "course_active"
    assert Course.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"template": "no-such-template"}, "template"),
        ({"plan": "no-such-plan"}, "plan"),
        ({"weekdays": ["MO"]}, "weekdays"),  # esketamine needs two
        ({"weekdays": ["MO", "MO"]}, "weekdays"),
        ({"weekdays": ["MON", "TH"]}, "weekdays"),
        ({"weekdays": "MO,TH"}, "weekdays"),
        ({"local_time": "9am"}, "local_time"),
        ({"local_time": "25:00"}, "local_time"),
        ({"start_date": "2026-03-01"}, "start_date"),  # yesterday
        ({"start_date": "2028-01-01"}, "start_date"),
        ({"start_date": "05/03/2026"}, "start_date"),
        ({"modality": "mushrooms"}, "modality"),
        ({"maintenance_interval_weeks": 3}, "maintenance_interval_weeks"),
        ({"id": "not-a-uuid"}, "id"),
        ({"colour": "blue"}, None),
    ],
)
def test_bad_input_is_a_400_problem_and_makes_nothing(
    patient, patient_api, frozen_now, changes, field
):
    response = create(patient_api, **changes)

    assert response.status_code == 400, response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    if field is not None:
        assert field in {key.split(".")[0] for key in response.json()["errors"]}
    assert not Course.objects.exists()
    assert not TreatmentSession.objects.filter(patient=patient).exists()


def test_a_first_session_already_past_today_is_refused(patient_api, frozen_now):
    # Monday 2 March at 09:00 in Berlin is 08:00 UTC, before NOW (10:00 UTC).
    response = create(patient_api, start_date="2026-03-02", local_time="09:00")
    assert response.status_code == 400
    assert "local_time" in response.json()["errors"]


def test_a_missing_body_is_a_400(patient_api, frozen_now):
    response = patient_api.post("/api/v1/courses/", "[]", content_type="application/json")
    assert response.status_code == 400


def test_a_therapist_cannot_create_or_list(therapist_api):
    assert therapist_api.get("/api/v1/courses/").status_code == 403
    assert therapist_api.post("/api/v1/courses/", ESKETAMINE, format="json").status_code == 403


def test_reads_are_the_patients_own(patient_api, frozen_now):
    course_id = create(patient_api).json()["id"]
    other = make_patient(email="reader@example.org")
    from tests.integration.care_data import signed_in

    other_api = signed_in(other)
    assert other_api.get(f"/api/v1/courses/{course_id}/").status_code == 404
    assert other_api.get("/api/v1/courses/").json()["results"] == []
    assert patient_api.get(f"/api/v1/courses/{course_id}/").json()["id"] == course_id


def test_the_list_costs_the_same_queries_for_one_course_or_many(patient, patient_api, frozen_now):
    from integration.courses import services

    create(patient_api)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = patient_api.get("/api/v1/courses/")
        assert response.status_code == 200
        return len(captured.captured_queries)

    one = count_queries()
    for number in range(3):
        course = Course.objects.get(patient=patient, status="active")
        services.course_end(patient=patient, course_id=course.pk)
        iv_course(patient, start=dt.date(2026, 3, 10 + number))
    assert count_queries() == one
    assert len(patient_api.get("/api/v1/courses/").json()["results"]) == 4


def test_the_list_query_budget(patient_api, frozen_now, django_assert_max_num_queries):
    create(patient_api)
    with django_assert_max_num_queries(8):
        response = patient_api.get("/api/v1/courses/")
    assert len(response.json()["results"]) == 1
    assert len(response.json()["results"][0]["sessions"]) == 16


def test_templates_are_listed_with_their_rules(patient_api):
    body = patient_api.get("/api/v1/course-templates/").json()["results"]
    slugs = [template["slug"] for template in body]
    assert slugs == ["esketamine-induction-maintenance", "iv-series", "kap-course"]
    esketamine = body[0]
    assert [phase["rule"] for phase in esketamine["phases"]] == [
        "FREQ=WEEKLY;COUNT=8",
        "FREQ=WEEKLY;COUNT=4",
        "FREQ=WEEKLY;COUNT=4",
    ]


def test_a_kap_course_makes_preparation_dosing_and_integration_sessions(
    patient, patient_api, frozen_now
):
    response = create(patient_api, template="kap-course", weekdays=["WE"])
    assert response.status_code == 201, response.json()
    kinds = [row["kind"] for row in response.json()["sessions"]]
    assert kinds == ["preparation"] * 2 + ["dosing", "integration"] * 6
    assert CourseSession.objects.filter(course_id=response.json()["id"]).count() == 14
    dosing = TreatmentSession.objects.filter(patient=patient, kind="dosing")
    assert set(dosing.values_list("modality", flat=True)) == {"oral_lozenge"}


def test_a_repeat_after_a_change_answers_the_course_as_it_is_now(patient_api, frozen_now):
    course_id = str(uuid.uuid4())
    first = create(patient_api, id=course_id).json()
    skipped = first["sessions"][0]["session_id"]
    patient_api.post(f"/api/v1/courses/{course_id}/sessions/{skipped}/skip/")

    again = create(patient_api, id=course_id)

    assert again.status_code == 200
    assert again.json()["sessions"][0]["status"] == "cancelled"
    assert again.json()["version"] == 2


@pytest.mark.parametrize(
    ("changes"),
    [
        {"rule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=1"},  # no session, ever
        {"rule": "FREQ=WEEKLY;COUNT=4;INTERVAL=5000"},  # sessions in the 22nd century
        {"starts_after_days": 30000},
        {"rule": "FREQ=DAILY;INTERVAL=7;COUNT=4", "starts_after_days": 30},  # no weekday
    ],
)
def test_a_rule_stored_before_its_checks_is_a_quick_clear_400(
    patient, patient_api, frozen_now, changes
):
    # Saved without the admin's checks (an older release, a script).
    CourseTemplatePhase.objects.filter(
        template__slug=ESKETAMINE["template"], is_maintenance=True
    ).update(**changes)

    began = time.monotonic()
    response = create(patient_api)
    took = time.monotonic() - began

    assert response.status_code == 400, response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    assert "cannot be scheduled" in response.json()["errors"]["template"][0]
    assert took < 1.0
    assert not Course.objects.exists()
    assert not TreatmentSession.objects.filter(patient=patient).exists()
