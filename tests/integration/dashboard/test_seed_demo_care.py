"""`manage.py seed_demo_care` (run by `make run` after seed_demo): the demo therapist
signs in to the dashboard and sees the demo patient's shared dosing session."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import User
from integration.models import CareLink, Share
from journal.models import Entry
from tests.integration.dashboard.conftest import PATIENTS_URL, signed_in_client

pytestmark = pytest.mark.django_db


def run(command: str) -> str:
    out = io.StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def test_the_demo_therapist_sees_the_demo_patients_shared_dosing_session(settings):
    settings.DEBUG = True
    run("seed_demo")

    output = run("seed_demo_care")

    assert "Dashboard: http://127.0.0.1:8000/dashboard/" in output
    therapist = User.objects.get(email="therapist@demo.afterglow.test")
    client = signed_in_client(therapist, TOTPDevice.objects.get(user=therapist))
    patients = client.get(PATIENTS_URL).content.decode()
    assert "Demo Patient" in patients
    share_links = re.findall(r'href="(/dashboard/shares/[0-9a-f-]+/)"', patients)
    assert len(share_links) == 1
    preparation = client.get(share_links[0]).content.decode()
    for text in ("Meeting the tightness", "Evening after the session", "The next day"):
        assert text in preparation
    assert "Warmth in my hands and feet" in preparation  # the exercise answer
    assert "Moderate" in preparation  # after-effects
    assert "the argument with M." not in preparation  # the private note stays private


def test_running_it_again_changes_nothing(settings):
    settings.DEBUG = True
    run("seed_demo")
    run("seed_demo_care")
    counts = (CareLink.objects.count(), Share.objects.count(), Entry.objects.count())

    run("seed_demo_care")

    assert (CareLink.objects.count(), Share.objects.count(), Entry.objects.count()) == counts


def test_refuses_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        run("seed_demo_care")
    assert not Share.objects.exists()


def test_needs_the_demo_accounts(settings):
    settings.DEBUG = True

    with pytest.raises(CommandError, match="seed_demo"):
        run("seed_demo_care")


def test_the_demo_patient_has_an_esketamine_course_starting_in_a_few_days(settings):
    from django.utils import timezone

    from integration.models import Course, CourseSession

    settings.DEBUG = True
    run("seed_demo")

    output = run("seed_demo_care")
    run("seed_demo_care")  # again: still one course

    course = Course.objects.get()
    assert course.template.slug == "esketamine-induction-maintenance"
    assert f"GET /api/v1/courses/{course.pk}/" in output
    assert 2 <= (course.start_date - timezone.now().date()).days <= 4
    sessions = CourseSession.objects.filter(course=course).select_related("session")
    assert sessions.count() == 16
    assert min(link.session.scheduled_start for link in sessions) > timezone.now()
