"""Consent to safety alerts, changed on the care link at any time.

Reproduces the defect of issue 16: `PATCH /api/v1/care-links/{id}/` answered 405, so the
only way to withdraw consent was to end the link, and every share with it.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from integration.models import SafetyAlert
from tests.integration.care_data import make_link
from tests.integration.factories import make_patient, make_therapist

pytestmark = pytest.mark.django_db

HOOK = "integration.care.alerts.safety_alerts_create"
MEASURES = "/api/v1/measures/"
ENDORSING = [3, 3, 3, 3, 3, 3, 2, 2, 1]


@pytest.fixture(autouse=True)
def _hook(settings):
    settings.JOURNAL_SAFETY_HOOKS = [HOOK]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_withdrawing_consent_on_the_link_stops_the_next_alert_and_keeps_the_link() -> None:
    patient = make_patient(email="anna@example.org")
    therapist = make_therapist(email="dr.berg@example.org")
    link = make_link(patient, therapist, safety_alerts_enabled=True)
    client = client_of(patient)

    withdrawn = client.patch(
        f"/api/v1/care-links/{link.pk}/", {"safety_alerts_enabled": False}, format="json"
    )
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.json()["safety_alerts_enabled"] is False
    assert withdrawn.json()["is_active"] is True

    client.post(MEASURES, {"instrument": "phq9", "answers": ENDORSING}, format="json")
    assert not SafetyAlert.objects.exists()
