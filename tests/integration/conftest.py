"""Fixtures for the care-layer tests: two patients, a therapist, signed-in clients, a
fixed clock (prompt times are compared to the minute) and a log of the pushes sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from django.test import Client

from tests.accounts.helpers import admin_client_for
from tests.integration import counting_provider
from tests.integration.care_data import make_link, signed_in
from tests.integration.factories import make_patient

# A Monday morning: 11:00 in Berlin (CET), outside quiet hours.
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen_now() -> Iterator[dt.datetime]:
    """The clock stands still at NOW (journal's rules and the services read it)."""
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def patient_fields() -> dict[str, str]:
    """The care layer's patients live in Berlin (prompt times are local)."""
    return {"time_zone": "Europe/Berlin"}


@pytest.fixture
def admin_client(db, admin_enabled) -> Client:
    """A staff member signed in to the Django admin, second factor checked."""
    staff = make_patient(email="staff@example.org", is_staff=True, is_superuser=True)
    return admin_client_for(staff)


@pytest.fixture
def link(patient, therapist):
    """A live care link between the patient and the therapist (no safety alerts)."""
    return make_link(patient, therapist)


@pytest.fixture
def patient_api(patient):
    return signed_in(patient)


@pytest.fixture
def therapist_api(therapist):
    """The therapist, signed in with a checked second factor."""
    return signed_in(therapist)


@pytest.fixture
def push_log(settings, monkeypatch, tmp_path) -> Path:
    """Pushes go to the counting provider, without delay; returns the file it logs them in."""
    path = tmp_path / "pushes.log"
    settings.PUSH_PROVIDERS = {"default": counting_provider.PROVIDER_PATH}
    monkeypatch.setenv(counting_provider.LOG_VARIABLE, str(path))
    monkeypatch.delenv(counting_provider.DELAY_VARIABLE, raising=False)
    counting_provider.MESSAGES.clear()
    return path
