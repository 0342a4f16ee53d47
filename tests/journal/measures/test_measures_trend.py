"""GET /api/v1/measures/trend/: the series against the course's baseline (docs/measures.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.journal.factories import make_measure, make_session

pytestmark = pytest.mark.django_db

URL = "/api/v1/measures/trend/"


def trend(client, instrument="phq9"):
    response = client.get(URL, {"instrument": instrument})
    assert response.status_code == 200
    return response.json()


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def test_baseline_is_the_last_score_before_the_first_dosing_session(
    patient_client, patient
) -> None:
    make_session(patient, scheduled_start=days_ago(20), status="completed")
    make_session(patient, scheduled_start=days_ago(10))
    make_measure(patient, total=22, taken_at=days_ago(30))
    baseline = make_measure(patient, total=20, taken_at=days_ago(21))
    after = make_measure(patient, total=9, taken_at=days_ago(5))
    later = make_measure(patient, total=4, taken_at=days_ago(1))

    body = trend(patient_client)

    assert body["instrument"] == "phq9"
    assert body["baseline"]["id"] == str(baseline.id)
    assert body["baseline"]["total"] == 20
    assert body["first_dosing_session_at"].startswith(days_ago(20).strftime("%Y-%m-%d"))
    assert body["remission_below"] == 5
    points = {point["id"]: point for point in body["points"]}
    assert [point["total"] for point in body["points"]] == [22, 20, 9, 4]
    assert points[str(baseline.id)]["is_baseline"] is True
    assert points[str(after.id)] | {"id": None, "taken_at": None} == {
        "id": None,
        "taken_at": None,
        "total": 9,
        "band": "mild",
        "is_baseline": False,
        "change_from_baseline": -11,
        "percent_change": -55.0,
        "is_response": True,
        "is_remission": False,
    }
    assert points[str(later.id)]["is_remission"] is True
    assert body["latest"]["id"] == str(later.id)


def test_a_drop_of_less_than_half_is_not_a_response(patient_client, patient) -> None:
    make_session(patient, scheduled_start=days_ago(10), status="completed")
    make_measure(patient, total=16, taken_at=days_ago(12))
    make_measure(patient, total=9, taken_at=days_ago(3))
    make_measure(patient, total=8, taken_at=days_ago(1))

    points = trend(patient_client)["points"]

    assert [(p["percent_change"], p["is_response"]) for p in points[1:]] == [
        (-43.8, False),
        (-50.0, True),
    ]


def test_scores_before_the_course_carry_change_but_no_flags(patient_client, patient) -> None:
    make_session(patient, scheduled_start=days_ago(2), status="completed")
    early = make_measure(patient, total=18, taken_at=days_ago(9))
    make_measure(patient, total=14, taken_at=days_ago(4))

    points = trend(patient_client)["points"]

    assert points[0]["id"] == str(early.id)
    assert points[0]["change_from_baseline"] == 4
    assert points[0]["is_response"] is None
    assert points[0]["is_remission"] is None
    assert points[1]["is_baseline"] is True
    assert points[1]["is_response"] is None


def test_the_first_dosing_session_is_the_earliest_not_cancelled_one(
    patient_client, patient
) -> None:
    cancelled = make_session(patient, scheduled_start=days_ago(20))
    patient_client.patch(
        f"/api/v1/sessions/{cancelled.id}/", {"status": "cancelled", "version": 1}, format="json"
    )
    make_session(patient, kind="preparation", scheduled_start=days_ago(25))
    make_session(patient, scheduled_start=days_ago(10), status="completed")
    make_measure(patient, total=19, taken_at=days_ago(15))

    body = trend(patient_client)

    assert body["first_dosing_session_at"].startswith(days_ago(10).strftime("%Y-%m-%d"))
    assert body["baseline"]["total"] == 19


def test_a_recorded_actual_start_counts_over_the_scheduled_one(patient_client, patient) -> None:
    make_session(
        patient,
        scheduled_start=days_ago(10),
        actual_start=days_ago(10) + timedelta(hours=3),
        actual_end=days_ago(10) + timedelta(hours=5),
        status="completed",
    )
    before_actual = make_measure(patient, total=15, taken_at=days_ago(10) + timedelta(hours=1))

    body = trend(patient_client)

    assert body["baseline"]["id"] == str(before_actual.id)


def test_an_upcoming_first_session_makes_the_latest_score_the_baseline(
    patient_client, patient
) -> None:
    make_session(patient, scheduled_start=timezone.now() + timedelta(days=3))
    make_measure(patient, total=17, taken_at=days_ago(6))
    latest = make_measure(patient, total=15, taken_at=days_ago(1))

    body = trend(patient_client)

    assert body["baseline"]["id"] == str(latest.id)
    assert body["latest"]["is_response"] is None


def test_without_a_dosing_session_there_is_no_baseline(patient_client, patient) -> None:
    make_measure(patient, total=12, taken_at=days_ago(3))

    body = trend(patient_client)

    assert body["baseline"] is None
    assert body["first_dosing_session_at"] is None
    assert body["points"][0]["change_from_baseline"] is None
    assert body["points"][0]["is_response"] is None


def test_without_a_score_before_the_course_there_is_no_baseline(patient_client, patient) -> None:
    make_session(patient, scheduled_start=days_ago(10), status="completed")
    make_measure(patient, total=12, taken_at=days_ago(3))

    body = trend(patient_client)

    assert body["baseline"] is None
    assert body["first_dosing_session_at"] is not None
    assert body["points"][0]["is_remission"] is None


def test_a_baseline_below_10_gives_no_flags(patient_client, patient) -> None:
    make_session(patient, scheduled_start=days_ago(10), status="completed")
    make_measure(patient, total=8, taken_at=days_ago(12))
    make_measure(patient, total=2, taken_at=days_ago(1))

    latest = trend(patient_client)["latest"]

    assert latest["change_from_baseline"] == -6
    assert latest["percent_change"] == -75.0
    assert latest["is_response"] is None
    assert latest["is_remission"] is None


def test_a_baseline_of_0_has_no_percent_change(patient_client, patient) -> None:
    make_session(patient, scheduled_start=days_ago(10), status="completed")
    make_measure(patient, total=0, taken_at=days_ago(12))
    make_measure(patient, total=3, taken_at=days_ago(1))

    latest = trend(patient_client)["latest"]

    assert latest["change_from_baseline"] == 3
    assert latest["percent_change"] is None


def test_gad7_has_its_own_series_and_remission_below_5(patient_client, patient) -> None:
    make_session(patient, scheduled_start=days_ago(10), status="completed")
    make_measure(patient, total=24, taken_at=days_ago(12))
    make_measure(patient, instrument="gad7", total=15, taken_at=days_ago(11))
    make_measure(patient, instrument="gad7", total=4, taken_at=days_ago(1))

    body = trend(patient_client, "gad7")

    assert body["instrument"] == "gad7"
    assert body["baseline"]["total"] == 15
    assert [point["total"] for point in body["points"]] == [15, 4]
    assert body["latest"]["is_response"] is True
    assert body["latest"]["is_remission"] is True


def test_an_empty_trend(patient_client) -> None:
    body = trend(patient_client)

    assert body["points"] == []
    assert body["latest"] is None
    assert body["baseline"] is None


def test_the_trend_is_the_patients_own(other_client, patient) -> None:
    make_session(patient, scheduled_start=days_ago(10), status="completed")
    make_measure(patient, total=20, taken_at=days_ago(12))

    body = trend(other_client)

    assert body["points"] == []
    assert body["first_dosing_session_at"] is None


@pytest.mark.parametrize("query", [{}, {"instrument": "madrs"}, {"instrument": "phq9", "x": 1}])
def test_refuses_a_missing_or_unknown_instrument(patient_client, query) -> None:
    response = patient_client.get(URL, query)

    assert response.status_code == 400


def test_the_trend_uses_a_constant_number_of_queries(
    patient_client, patient, django_assert_max_num_queries
) -> None:
    make_session(patient, scheduled_start=days_ago(40), status="completed")
    for day in range(40):
        make_measure(patient, total=day % 25, taken_at=days_ago(45 - day))

    with django_assert_max_num_queries(2):
        body = trend(patient_client)

    assert len(body["points"]) == 40
