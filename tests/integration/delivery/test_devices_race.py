"""Registrations of one push token racing on their own database connections."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from integration.delivery import devices
from integration.models import Device
from tests.integration.delivery.test_devices_api import APNS, register


def both_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Each call in its own thread (its own connection), released together."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = []

    def run(call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            answers.append(call())
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


@pytest.fixture
def both_looked_first(monkeypatch):
    """Each registration's first look for the token is done before either inserts: the
    window a real race hits now and then, made certain."""
    looked = threading.Barrier(2, timeout=10)
    local = threading.local()
    original = devices._retire_earlier_of_sign_in

    def after_the_look(*args, **kwargs):
        if not getattr(local, "waited", False):
            local.waited = True
            looked.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(devices, "_retire_earlier_of_sign_in", after_the_look)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("both_looked_first")
def test_one_token_registered_by_two_accounts_at_once_ends_with_one_of_them(
    patient, other_patient, patient_client, other_client
) -> None:
    answers = both_at_once(
        [lambda: register(patient_client, "ios", APNS), lambda: register(other_client, "ios", APNS)]
    )

    assert sorted(answer.status_code for answer in answers) == [201, 201]
    active = Device.objects.filter(token=APNS, is_active=True)
    assert active.count() == 1
    assert active.get().user_id in {patient.pk, other_patient.pk}
    retired = Device.objects.get(token=APNS, is_active=False)
    assert retired.retired_reason == "reassigned"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("both_looked_first")
def test_one_token_registered_twice_by_one_account_at_once_is_one_device(
    patient, patient_client
) -> None:
    answers = both_at_once([lambda: register(patient_client, "ios", APNS)] * 2)

    assert sorted(answer.status_code for answer in answers) == [200, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert Device.objects.filter(user=patient).count() == 1


@pytest.mark.django_db
def test_a_registration_losing_every_race_answers_409_with_retry_after(
    patient_client, monkeypatch
) -> None:
    monkeypatch.setattr(devices, "_register_once", lambda *args: None)

    response = register(patient_client, "ios", APNS)

    assert (response.status_code, response.headers["Retry-After"]) == (409, "1")
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "conflict"
