"""The issue's "done when", on the demo data `make run` loads: the demo patient sets a
country, answers a PHQ-9 with item 9 above 0 and sees that country's lines and the clinic's
(the number the Makefile gives the demo); withdraws consent on the care link and the next
such answer makes no alert; gives it again and the next one alerts the therapist once."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from backend.accounts.models import User
from integration.care import alerts
from integration.models import CareLink, SafetyAlert
from tests.integration.dashboard.conftest import signed_in_client

pytestmark = pytest.mark.django_db

MAKEFILE = Path(__file__).resolve().parents[3] / "Makefile"
ENDORSING = [2, 2, 1, 2, 1, 1, 1, 0, 1]


def demo_clinic_number() -> str:
    (number,) = re.findall(r"^DEMO_CLINIC_NUMBER := (.+)$", MAKEFILE.read_text(), re.MULTILINE)
    return number.strip()


@pytest.fixture
def demo(settings, monkeypatch):
    settings.DEBUG = True
    settings.JOURNAL_SAFETY_HOOKS = ["integration.care.alerts.safety_alerts_create"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CLINIC_AFTER_HOURS_NUMBER = demo_clinic_number()
    settings.CLINIC_AFTER_HOURS_NAME = "Demo clinic after-hours line (fictional number)"
    monkeypatch.setattr(alerts, "_enqueue", lambda alert_ids: None)  # the sweep delivers
    for command in ("seed_demo", "seed_demo_care"):
        call_command(command, stdout=io.StringIO())
    patient = User.objects.get(email="patient@demo.afterglow.test")
    client = APIClient()
    client.force_authenticate(patient)
    return client, CareLink.objects.get(patient=patient, ended_at__isnull=True)


def answer(client) -> dict:
    response = client.post(
        "/api/v1/measures/", {"instrument": "phq9", "answers": ENDORSING}, format="json"
    )
    assert response.status_code == 201
    return response.json()["safety"]


def deliver() -> int:
    return alerts.safety_alerts_deliver_due(now=SafetyAlert.objects.latest("created_at").created_at)


def test_the_demo_patient_walks_the_safety_path(demo, mailoutbox) -> None:
    client, link = demo
    assert link.safety_alerts_enabled is True  # the demo starts with consent given

    assert client.patch("/api/v1/me/", {"country": "DE"}, format="json").status_code == 200
    safety = answer(client)
    assert [(line["kind"], line["contact"]) for line in safety["resources"]] == [
        ("clinic", demo_clinic_number()),
        ("crisis_line", "0800 111 0 111"),
        ("emergency", "112"),
    ]
    assert SafetyAlert.objects.count() == 1
    assert deliver() == 1

    withdrawn = client.patch(
        f"/api/v1/care-links/{link.pk}/", {"safety_alerts_enabled": False}, format="json"
    )
    assert withdrawn.status_code == 200
    answer(client)
    assert SafetyAlert.objects.count() == 1

    version = withdrawn.json()["current_consent_version"]
    given = client.patch(
        f"/api/v1/care-links/{link.pk}/",
        {"safety_alerts_enabled": True, "consent_version": version},
        format="json",
    )
    assert given.status_code == 200
    answer(client)
    assert SafetyAlert.objects.count() == 2
    assert deliver() == 1
    assert deliver() == 0
    assert len(mailoutbox) == 2  # one e-mail per alert, none while consent was withdrawn

    therapist = User.objects.get(email="therapist@demo.afterglow.test")
    dashboard = signed_in_client(therapist, TOTPDevice.objects.get(user=therapist))
    html = dashboard.get("/dashboard/").content.decode()
    # Only the alert made under the consent in force: the first one was made under the
    # decision the patient withdrew.
    assert html.count("Safety alert:") == 1
    assert "TelefonSeelsorge" in html
    assert demo_clinic_number() in html
