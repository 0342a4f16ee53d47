"""A clinic adds its own course template in the admin, and a course of it expands from
its rules; a rule the expansion cannot take is refused there. Patients' courses are
shown read-only."""

from __future__ import annotations

import datetime as dt

import pytest

from integration.courses import services
from integration.models import Course, CourseTemplate, IntegrationPlan
from tests.integration.factories import iv_course

pytestmark = pytest.mark.django_db


def template_form(rule: str) -> dict[str, object]:
    return {
        "slug": "weekly-im",
        "name": "Weekly IM injections",
        "description": "Four weekly injections.",
        "modality": "im_injection",
        "setting": "clinic",
        "plan": IntegrationPlan.objects.get(slug="kap-default").pk,
        "min_weekdays": 1,
        "max_weekdays": 1,
        "is_offered": "on",
        "phases-TOTAL_FORMS": 1,
        "phases-INITIAL_FORMS": 0,
        "phases-MIN_NUM_FORMS": 0,
        "phases-MAX_NUM_FORMS": 1000,
        "phases-0-position": 1,
        "phases-0-name": "Injections",
        "phases-0-session_kind": "dosing",
        "phases-0-rule": rule,
        "phases-0-starts_after_days": 0,
        "phases-0-weekdays": "first",
    }


def test_a_clinic_adds_a_template_and_a_course_follows_its_rule(
    admin_client, patient, frozen_now
) -> None:
    response = admin_client.post(
        "/admin/integration/coursetemplate/add/", template_form("FREQ=WEEKLY;COUNT=4")
    )

    assert response.status_code == 302
    template = CourseTemplate.objects.get(slug="weekly-im")
    course = services.course_create(
        patient=patient,
        template="weekly-im",
        start_date=dt.date(2026, 3, 4),
        local_time=dt.time(14),
        weekdays=["WE"],
    ).course
    assert course.template == template
    assert course.modality == "im_injection"
    assert course.course_sessions.count() == 4


def test_a_rule_the_expansion_cannot_take_is_refused(admin_client) -> None:
    response = admin_client.post(
        "/admin/integration/coursetemplate/add/", template_form("FREQ=WEEKLY")
    )

    assert response.status_code == 200
    assert "Give a COUNT" in response.content.decode()
    assert not CourseTemplate.objects.filter(slug="weekly-im").exists()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=1", "Use only FREQ, COUNT, INTERVAL"),
        ("FREQ=WEEKLY;COUNT=4;INTERVAL=5000", "Give an INTERVAL from 1"),
        ("FREQ=DAILY;INTERVAL=14;COUNT=4;BYDAY=SA", "fewer sessions than its COUNT"),
    ],
)
def test_a_rule_that_makes_no_sessions_or_too_late_ones_is_refused(
    admin_client, rule, message
) -> None:
    form = template_form(rule)
    form["phases-0-weekdays"] = "none"

    response = admin_client.post("/admin/integration/coursetemplate/add/", form)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not CourseTemplate.objects.filter(slug="weekly-im").exists()


def test_a_start_beyond_the_course_span_is_refused(admin_client) -> None:
    form = template_form("FREQ=WEEKLY;COUNT=4")
    form["phases-0-starts_after_days"] = 30000

    response = admin_client.post("/admin/integration/coursetemplate/add/", form)

    assert response.status_code == 200
    assert "days of the course" in response.content.decode()
    assert not CourseTemplate.objects.filter(slug="weekly-im").exists()


def test_courses_are_read_only_in_the_admin(admin_client, patient, frozen_now) -> None:
    course = iv_course(patient)

    page = admin_client.get(f"/admin/integration/course/{course.pk}/change/")
    deleted = admin_client.post(f"/admin/integration/course/{course.pk}/delete/", {"post": "yes"})

    assert page.status_code == 200
    assert "iv-series" in page.content.decode()
    assert deleted.status_code == 403
    assert Course.objects.filter(pk=course.pk).exists()
