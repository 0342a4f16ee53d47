"""Fixtures for the fuzz tests: the seeded users and a fast password hasher."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from tests.fuzz.seed import FuzzUsers, seed


@pytest.fixture(autouse=True)
def _keep_test_connection() -> Iterator[None]:
    """Schemathesis calls the WSGI application itself, not Django's test client, so Django
    would close the database connection (and with it the test's transaction) at the end of
    each request. The test client avoids that the same way: by unhooking the signal."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fuzz_users(db) -> FuzzUsers:
    return seed()
