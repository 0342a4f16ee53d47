"""Shared fixtures. Tests run against the real PostgreSQL and Redis (backend.settings_test)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.accounts.factories import PatientFactory, TherapistFactory


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Throttle counters live in the Redis cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def client_for(user) -> APIClient:
    """An API client signed in as the user (no password check: force_authenticate)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def patient_fields() -> dict[str, str]:
    """Extra fields of the patients below; a folder's conftest may set a time zone."""
    return {}


@pytest.fixture
def patient(db, patient_fields):
    # No usable password: these tests sign in with force_authenticate (no Argon2 hashing).
    return PatientFactory.create(password=None, email="anna@example.org", **patient_fields)


@pytest.fixture
def other_patient(db, patient_fields):
    return PatientFactory.create(password=None, email="ben@example.org", **patient_fields)


@pytest.fixture
def therapist(db):
    return TherapistFactory.create(password=None, email="dr.berg@example.org")


@pytest.fixture
def patient_client(patient) -> APIClient:
    """The patient, signed in."""
    return client_for(patient)


@pytest.fixture
def other_client(other_patient) -> APIClient:
    return client_for(other_patient)


@pytest.fixture
def therapist_client(therapist) -> APIClient:
    return client_for(therapist)


@pytest.fixture
def admin_enabled(settings) -> None:
    """The Django admin, switched on as an operator would (ADMIN_ENABLED=true).

    The project's URLs are read once at start-up, with the admin off unless the setting
    is on; this URLconf adds it, as the setting would. They are imported before the
    setting changes, so that they stay as the test settings make them (the admin off)."""
    importlib.import_module("backend.urls")
    settings.ADMIN_ENABLED = True
    settings.ROOT_URLCONF = "tests.accounts.urls_with_admin"
