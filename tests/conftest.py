"""Shared fixtures. Tests run against the real PostgreSQL and Redis (backend.settings_test)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from unittest import mock

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from backend.accounts import emails
from tests.accounts.factories import PatientFactory, TherapistFactory
from tests.smtp import SmtpServer
from worker import tasks


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


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) in a process of its own, for the whole run."""
    with SmtpServer(tmp_path_factory.mktemp("smtp")) as server:
        yield server


@pytest.fixture
def mail(smtp_server, settings) -> Iterator[SmtpServer]:
    """Account e-mail through the real SMTP server: the task the service queues after
    commit runs at once, in this process, as a worker would run it (the tests that are
    about the worker start a real one). Needs `django_db(transaction=True)`: the task is
    sent only once the request's transaction commits."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "Afterglow <no-reply@afterglow.test>"
    settings.DASHBOARD_PUBLIC_URL = "https://care.afterglow.test/dashboard/"
    smtp_server.clear()

    def run_task(name: str, args: list, **options) -> None:
        assert name == emails.SEND_EMAIL_TASK
        tasks.send_account_email(*args)

    with mock.patch.object(emails, "current_app") as app:
        app.send_task.side_effect = run_task
        yield smtp_server
