"""Fixtures for the accounts tests."""

from __future__ import annotations

import pytest

from tests.accounts.factories import PatientFactory, TherapistFactory, TOTPDeviceFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 takes ~0.1 s a hash on purpose; these tests hash hundreds of times.
    test_register checks that the real settings put Argon2 first."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def patient(db):
    return PatientFactory(email="anna@example.org")


@pytest.fixture
def therapist_device(db):
    return TOTPDeviceFactory(user=TherapistFactory(email="dr.berg@example.org"))


@pytest.fixture
def therapist(therapist_device):
    return therapist_device.user
