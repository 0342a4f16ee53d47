"""Fixtures for the journal API tests: two patients, a therapist, and signed-in clients."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.journal.factories import make_patient, make_therapist


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def patient(db):
    return make_patient(email="anna@example.org")


@pytest.fixture
def other_patient(db):
    return make_patient(email="ben@example.org")


@pytest.fixture
def therapist(db):
    return make_therapist(email="dr.berg@example.org")


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
