"""Erasure destroys a patient's data keys with their tokens, and touches nobody else."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from backend.accounts.models import DeviceToken
from journal import keys
from journal.models import DataKey
from tests.journal.sealed_rows import opened_entry, sealed_entry

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def signed_in(email: str):
    user = get_user_model().objects.create_user(
        email=email, password=PASSWORD, display_name="Sam", role="patient"
    )
    _, token = DeviceToken.objects.create(user=user, device_name="phone")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return user, client


def test_erasure_shreds_the_patients_rows_and_revokes_every_token() -> None:
    patient, client = signed_in("leaving@example.org")
    other, other_client = signed_in("staying@example.org")
    mine = sealed_entry(patient, title="my words", body="my body")
    theirs = sealed_entry(other, title="their words", body="their body")
    DeviceToken.objects.create(user=patient, device_name="tablet")

    response = client.delete("/api/v1/me/", {"password": PASSWORD}, format="json")

    assert response.status_code == 204
    assert client.get("/api/v1/me/").status_code == 401
    assert not DeviceToken.objects.filter(user=patient).exists()
    assert not DataKey.objects.filter(patient=patient).exists()
    patient.refresh_from_db()
    assert patient.erased_at is not None
    assert not patient.is_active
    assert "leaving" not in patient.email
    keys.clear_cache()  # as in any other process: nothing left to unwrap
    with pytest.raises(keys.UnreadableRecordError):
        opened_entry(mine)
    assert opened_entry(theirs)[0] == "their words"
    assert other_client.get("/api/v1/me/").status_code == 200


def test_erasure_with_a_wrong_password_changes_nothing() -> None:
    patient, client = signed_in("careful@example.org")
    entry = sealed_entry(patient, title="kept", body="kept body")

    response = client.delete("/api/v1/me/", {"password": "not the password"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"password"}
    assert DataKey.objects.filter(patient=patient).count() == 1
    assert client.get("/api/v1/me/").status_code == 200
    assert opened_entry(entry)[0] == "kept"


def test_erasure_needs_the_password_field() -> None:
    _, client = signed_in("nopassword@example.org")
    response = client.delete("/api/v1/me/", {}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["errors"]
