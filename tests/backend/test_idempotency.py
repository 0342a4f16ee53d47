"""Idempotency-Key (backend/idempotency.py), shown on `POST /api/v1/shares/`: a repeat
answers the first result, another body under the same key is refused, keys are per account
and expire, racing repeats make one share, and neither key nor body is stored."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from backend.idempotency import idempotency_keys_purge
from backend.models import IdempotencyKey
from integration.models import Share
from tests.conftest import client_for
from tests.integration.care_data import make_entry, make_link
from tests.threads import at_once

SHARES = "/api/v1/shares/"
KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


@pytest.fixture
def link(patient, therapist):
    return make_link(patient, therapist)


@pytest.fixture
def entry(patient):
    return make_entry(patient, kind="reflection", body="A canary: cobalt heron at dawn")


def share_body(link, entry, **fields) -> dict:
    return {"care_link": str(link.id), "entries": [str(entry.id)], **fields}


def post(client: APIClient, body: dict, key: str | None = KEY):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(SHARES, body, format="json", headers=headers)


def test_without_a_key_a_repeated_share_makes_a_second_active_share(
    patient_client, link, entry
) -> None:
    first = post(patient_client, share_body(link, entry), key=None)
    second = post(patient_client, share_body(link, entry), key=None)

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert Share.objects.filter(patient=link.patient, revoked_at__isnull=True).count() == 2


def test_the_same_key_and_body_answer_the_first_share_and_make_one(
    patient_client, link, entry
) -> None:
    first = post(patient_client, share_body(link, entry))
    again = post(patient_client, share_body(link, entry))

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Share.objects.count() == 1


def test_a_repeat_answers_the_share_as_it_is_now(patient_client, link, entry) -> None:
    first = post(patient_client, share_body(link, entry)).json()
    patient_client.delete(f"{SHARES}{first['id']}/")

    again = post(patient_client, share_body(link, entry))

    assert again.status_code == 201
    assert again.json()["id"] == first["id"]
    assert again.json()["state"] == "revoked"
    assert Share.objects.count() == 1


def test_a_quoted_key_is_the_same_key(patient_client, link, entry) -> None:
    first = post(patient_client, share_body(link, entry))
    again = post(patient_client, share_body(link, entry), key=f'"{KEY}"')

    assert again.json()["id"] == first.json()["id"]
    assert Share.objects.count() == 1


def test_the_same_body_in_another_order_is_the_same_request(patient_client, link, entry) -> None:
    body = share_body(link, entry, include_measures=True)
    first = post(patient_client, body)
    again = post(patient_client, dict(reversed(list(body.items()))))

    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]


def test_the_same_key_with_another_body_answers_409_with_the_first_share(
    patient_client, link, entry
) -> None:
    first = post(patient_client, share_body(link, entry)).json()

    other = post(patient_client, share_body(link, entry, include_measures=True))

    assert other.status_code == 409
    assert other["Content-Type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["current"]["id"] == first["id"]
    assert Share.objects.count() == 1


def test_a_refused_request_leaves_the_key_free_for_the_corrected_one(
    patient_client, link, entry
) -> None:
    refused = post(patient_client, {"care_link": str(link.id)})
    corrected = post(patient_client, share_body(link, entry))

    assert refused.status_code == 400
    assert corrected.status_code == 201
    assert Share.objects.count() == 1


def test_a_key_of_another_account_does_not_collide(
    patient_client, other_patient, therapist, link, entry
) -> None:
    other_link = make_link(other_patient, therapist)
    other_entry = make_entry(other_patient)

    mine = post(patient_client, share_body(link, entry))
    theirs = post(client_for(other_patient), share_body(other_link, other_entry))

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert Share.objects.count() == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "caf\u00e9", "tab\tkey"])
def test_a_malformed_key_answers_400_and_makes_nothing(patient_client, link, entry, key) -> None:
    response = post(patient_client, share_body(link, entry), key=key)

    assert response.status_code == 400
    assert response.json()["code"] == "validation"
    assert "Idempotency-Key" in response.json()["errors"]
    assert Share.objects.count() == 0


def test_an_expired_key_makes_a_new_share(patient_client, link, entry) -> None:
    first = post(patient_client, share_body(link, entry)).json()
    IdempotencyKey.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    again = post(patient_client, share_body(link, entry))

    assert again.status_code == 201
    assert again.json()["id"] != first["id"]
    assert IdempotencyKey.objects.count() == 1


def test_keys_expire_after_24_hours_and_the_purge_deletes_only_expired_ones(
    patient_client, link, entry
) -> None:
    post(patient_client, share_body(link, entry))
    post(patient_client, share_body(link, entry), key=str(uuid.uuid4()))
    record = IdempotencyKey.objects.order_by("created_at", "id")[0]
    assert record.expires_at - record.created_at == dt.timedelta(hours=24)
    IdempotencyKey.objects.filter(pk=record.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    assert idempotency_keys_purge() == 1
    assert IdempotencyKey.objects.count() == 1


def test_the_purge_task_deletes_expired_keys(patient_client, link, entry) -> None:
    from worker.tasks import purge_idempotency_keys

    post(patient_client, share_body(link, entry))
    assert purge_idempotency_keys() == 0
    IdempotencyKey.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert purge_idempotency_keys() == 1
    assert not IdempotencyKey.objects.exists()


def test_the_purge_task_is_on_the_beat_schedule(settings) -> None:
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "afterglow.backend.purge_idempotency_keys" in tasks


def test_the_table_holds_neither_the_key_nor_the_request(patient_client, link, entry) -> None:
    post(patient_client, share_body(link, entry))

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {IdempotencyKey._meta.db_table}")  # noqa: S608
        rows = cursor.fetchall()
    dump = repr(rows)
    assert len(rows) == 1
    assert KEY not in dump
    assert KEY.replace("-", "") not in dump
    assert str(entry.id) not in dump
    assert entry.id.hex not in dump
    assert str(link.id) not in dump
    assert link.id.hex not in dump
    record = IdempotencyKey.objects.get()
    assert record.resource_type == "share"
    assert len(record.key_digest) == len(record.request_digest) == 64


@pytest.mark.django_db(transaction=True)
def test_racing_repeats_make_one_share_and_answer_it_alike(patient, therapist) -> None:
    link = make_link(patient, therapist)
    entry = make_entry(patient)
    body = share_body(link, entry)

    answers = at_once(lambda: post(client_for(patient), body))

    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert Share.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_repeat_waiting_past_its_time_answers_409_in_use(patient, therapist, settings) -> None:
    """The first request holds its transaction open (as a slow create would); the repeat
    waits `IDEMPOTENCY_WAIT_SECONDS`, then answers `idempotency_key_in_use`."""
    from django.db import transaction

    from backend import idempotency

    settings.IDEMPOTENCY_WAIT_SECONDS = 0.3
    link = make_link(patient, therapist)
    entry = make_entry(patient)
    holding = threading.Event()
    release = threading.Event()
    answers: list = []

    def first() -> None:
        try:
            with transaction.atomic():
                idempotency._claim(
                    user=patient,
                    operation="shares_create",
                    key_digest=idempotency._digest("key", KEY),
                    request_digest="0" * 64,
                    now=timezone.now(),
                )
                holding.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(timeout=10)
    try:
        answers.append(post(client_for(patient), share_body(link, entry)))
    finally:
        release.set()
        thread.join(timeout=10)

    assert answers[0].status_code == 409
    assert answers[0].json()["code"] == "idempotency_key_in_use"
    assert answers[0]["Retry-After"] == "1"
    assert Share.objects.count() == 0
