"""The catalog the data migration ships, and the read-only catalog API."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps

from integration.models import Exercise, IntegrationPlan, PlanStep

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
M = dt.timedelta(minutes=1)
# The PHQ-9 and GAD-7 steps after a plan's own (migration 0005; the demonstration plan has
# them in minutes): the course's baseline before its first dosing session, and a week
# after each one.
MEASURE_STEPS = [
    ("phq9", -72 * H),
    ("gad7", -72 * H),
    ("phq9", 7 * D),
    ("gad7", 7 * D),
]


def steps(slug: str) -> list[tuple[str, dt.timedelta, dt.timedelta]]:
    return [
        (step.exercise.slug, step.offset, step.answer_window)
        for step in PlanStep.objects.filter(plan__slug=slug)
        .select_related("exercise")
        .order_by("position")
    ]


def test_catalog_has_at_least_a_dozen_kap_exercises() -> None:
    slugs = set(Exercise.objects.values_list("slug", flat=True))
    assert len(slugs) >= 12
    assert {
        "set-intention",
        "readiness-checklist",
        "after-session-checkin",
        "next-day-reflection",
        "body-scan",
        "breathing-practice",
        "letter-to-self",
        "values-clarification",
        "walk-outside",
        "relationships",
        "carry-forward",
        "weekly-mood-checkin",
        "intention-follow-up",
    } <= slugs
    for exercise in Exercise.objects.all():
        assert exercise.title
        assert exercise.instructions
        assert 1 <= exercise.estimated_minutes <= 30
        assert exercise.answer_kind in {"entry", "checkin", "measure"}


def test_exercise_kinds_and_safety() -> None:
    by_slug = {exercise.slug: exercise for exercise in Exercise.objects.all()}
    assert by_slug["set-intention"].entry_kind == "intention"
    assert by_slug["next-day-reflection"].entry_kind == "reflection"
    checkin = by_slug["weekly-mood-checkin"]
    assert (checkin.answer_kind, checkin.entry_kind) == ("checkin", "checkin")
    assert [slug for slug, exercise in by_slug.items() if exercise.is_safety_relevant] == [
        "after-session-checkin"
    ]
    readiness = by_slug["readiness-checklist"].instructions.lower()
    for item in ("food", "ride home", "support person", "drive"):
        assert item in readiness


def test_four_plans_and_one_default() -> None:
    plans = {plan.slug: plan for plan in IntegrationPlan.objects.all()}
    assert set(plans) == {"kap-default", "esketamine-course", "iv-series", "demo-minutes"}
    assert [slug for slug, plan in plans.items() if plan.is_default] == ["kap-default"]
    assert [slug for slug, plan in plans.items() if plan.is_demo] == ["demo-minutes"]


def test_default_plan_offsets() -> None:
    assert [(slug, offset) for slug, offset, _ in steps("kap-default")] == [
        ("set-intention", -72 * H),
        ("readiness-checklist", -24 * H),
        ("after-session-checkin", 3 * H),
        ("next-day-reflection", 24 * H),
        ("body-scan", 48 * H),
        ("weekly-mood-checkin", 7 * D),
        ("intention-follow-up", 7 * D),
        ("values-clarification", 14 * D),
        ("carry-forward", 30 * D),
        *MEASURE_STEPS,
    ]


def test_course_plans_are_shorter_and_demo_runs_in_minutes() -> None:
    assert [(slug, offset) for slug, offset, _ in steps("esketamine-course")] == [
        ("set-intention", -24 * H),
        ("readiness-checklist", -24 * H),
        ("after-session-checkin", 3 * H),
        ("next-day-reflection", 24 * H),
        ("breathing-practice", 72 * H),
        *MEASURE_STEPS,
    ]
    assert [(slug, offset) for slug, offset, _ in steps("iv-series")] == [
        ("set-intention", -24 * H),
        ("after-session-checkin", 3 * H),
        ("next-day-reflection", 24 * H),
        ("walk-outside", 48 * H),
        *MEASURE_STEPS,
    ]
    demo = steps("demo-minutes")
    assert len(demo) >= 5
    assert all(abs(offset) <= 10 * M and window == 30 * M for _, offset, window in demo)
    assert any(offset < dt.timedelta(0) for _, offset, _ in demo)


def test_every_window_ends_before_the_next_session_in_a_twice_weekly_course() -> None:
    # Sessions three days apart: a step before the session must not still be open when
    # the session starts, or the prompt would arrive out of context.
    for slug in ("esketamine-course", "iv-series", "kap-default"):
        for exercise, offset, window in steps(slug):
            if offset < dt.timedelta(0):
                assert offset + window < dt.timedelta(0), (slug, exercise)


def test_loading_the_catalog_again_changes_nothing() -> None:
    migration = importlib.import_module("integration.migrations.0002_catalog")
    before = (Exercise.objects.count(), IntegrationPlan.objects.count(), PlanStep.objects.count())
    migration.load_catalog(apps, None)
    after = (Exercise.objects.count(), IntegrationPlan.objects.count(), PlanStep.objects.count())
    assert before == after


def test_patient_reads_the_catalog(patient_client) -> None:
    response = patient_client.get("/api/v1/exercises/")
    assert response.status_code == 200
    by_slug = {item["slug"]: item for item in response.json()["results"]}
    assert by_slug["weekly-mood-checkin"]["answer_kind"] == "checkin"
    assert by_slug["after-session-checkin"]["is_safety_relevant"] is True
    assert by_slug["set-intention"]["estimated_minutes"] == 10


def test_patient_reads_the_plans_with_steps_in_seconds(patient_client) -> None:
    response = patient_client.get("/api/v1/plans/")
    assert response.status_code == 200
    plans = {item["slug"]: item for item in response.json()["results"]}
    default = plans["kap-default"]
    assert default["is_default"] is True
    first = default["steps"][0]
    assert first["position"] == 1
    assert first["exercise"] == {"slug": "set-intention", "title": "Set an intention"}
    assert first["offset_seconds"] == -72 * 3600
    assert first["answer_window_seconds"] == 48 * 3600
    assert plans["demo-minutes"]["is_demo"] is True


def test_plan_list_takes_a_fixed_number_of_queries(
    patient_client, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(3):
        assert patient_client.get("/api/v1/plans/").status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/exercises/", "/api/v1/plans/"])
def test_only_patients_read_the_catalog(url, therapist_client, api_client) -> None:
    assert therapist_client.get(url).status_code == 403
    assert api_client.get(url).status_code == 401


def test_staff_edit_exercises_and_plans_in_the_admin(admin_client) -> None:
    plan = IntegrationPlan.objects.get(slug="kap-default")
    exercise = Exercise.objects.get(slug="body-scan")

    plan_page = admin_client.get(f"/admin/integration/integrationplan/{plan.pk}/change/")
    response = admin_client.post(
        f"/admin/integration/exercise/{exercise.pk}/change/",
        {
            "slug": "body-scan",
            "title": "Body scan (short)",
            "instructions": exercise.instructions,
            "estimated_minutes": 5,
            "answer_kind": "entry",
            "entry_kind": "exercise",
        },
    )

    assert plan_page.status_code == 200
    assert "set-intention" in plan_page.content.decode()
    assert response.status_code == 302
    assert Exercise.objects.get(pk=exercise.pk).estimated_minutes == 5
