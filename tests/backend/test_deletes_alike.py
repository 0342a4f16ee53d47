"""Every DELETE answers a repeat as it answered the first, and whatever was deleted (an
entry, a session, a revoked share, an ended care link) answers 410 at its address.
Versioned records (sessions, entries) need If-Match: 428 without it, 412 when stale."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from integration.delivery import devices
from journal.sessions import services as session_services
from tests.integration.care_data import make_entry, make_link, make_share


@dataclass(frozen=True)
class Deletable:
    name: str
    make: Callable[..., str]  # (patient, therapist) -> the resource's address
    gone_code: str | None  # what GET answers after the delete (None: no GET here)
    is_versioned: bool = False


def _entry(patient, therapist) -> str:
    return f"/api/v1/entries/{make_entry(patient).id}/"


def _session(patient, therapist) -> str:
    session = session_services.session_create(
        patient=patient,
        kind="integration",
        scheduled_start=dt.datetime(2030, 3, 9, 16, tzinfo=dt.UTC),
    ).record
    return f"/api/v1/sessions/{session.id}/"


def _share(patient, therapist) -> str:
    link = make_link(patient, therapist)
    return f"/api/v1/shares/{make_share(link, entries=[make_entry(patient)]).id}/"


def _care_link(patient, therapist) -> str:
    return f"/api/v1/care-links/{make_link(patient, therapist).id}/"


def _device(patient, therapist) -> str:
    registered = devices.device_register(patient=patient, platform="ios", token="ab" * 32)
    return f"/api/v1/devices/{registered.device.id}/"


DELETABLES = [
    Deletable("entry", _entry, "gone", is_versioned=True),
    Deletable("session", _session, "gone", is_versioned=True),
    Deletable("share", _share, "share_revoked"),
    Deletable("care_link", _care_link, "care_link_ended"),
    Deletable("push_device", _device, None),
]
VERSIONED = [item for item in DELETABLES if item.is_versioned]


def _delete(client, url: str, *, if_match: str | None = "*"):
    headers = {"If-Match": if_match} if if_match is not None else {}
    return client.delete(url, headers=headers)


@pytest.mark.parametrize("deletable", DELETABLES, ids=lambda item: item.name)
def test_a_repeated_delete_answers_as_the_first(
    deletable, patient, therapist, patient_client
) -> None:
    url = deletable.make(patient, therapist)

    first = _delete(patient_client, url)
    again = _delete(patient_client, url)

    assert first.status_code == again.status_code == 204
    assert first.content == again.content == b""
    assert first.get("ETag") == again.get("ETag")


@pytest.mark.parametrize(
    "deletable", [item for item in DELETABLES if item.gone_code], ids=lambda item: item.name
)
def test_what_was_deleted_answers_410_at_its_address(
    deletable, patient, therapist, patient_client
) -> None:
    url = deletable.make(patient, therapist)
    _delete(patient_client, url)

    response = patient_client.get(url)

    assert response.status_code == 410
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == deletable.gone_code


@pytest.mark.parametrize("deletable", DELETABLES, ids=lambda item: item.name)
def test_another_patient_gets_404_before_and_after_the_delete(
    deletable, patient, therapist, patient_client, other_client
) -> None:
    url = deletable.make(patient, therapist)

    assert _delete(other_client, url).status_code == 404
    _delete(patient_client, url)
    assert other_client.get(url).status_code in (404, 405)
    assert _delete(other_client, url).status_code == 404


@pytest.mark.parametrize("deletable", VERSIONED, ids=lambda item: item.name)
def test_a_versioned_delete_without_if_match_is_428_and_keeps_the_record(
    deletable, patient, therapist, patient_client
) -> None:
    url = deletable.make(patient, therapist)

    response = _delete(patient_client, url, if_match=None)

    assert (response.status_code, response.json()["code"]) == (428, "precondition_required")
    assert patient_client.get(url).status_code == 200


@pytest.mark.parametrize("deletable", VERSIONED, ids=lambda item: item.name)
def test_a_versioned_delete_with_a_stale_version_is_412_with_the_current_record(
    deletable, patient, therapist, patient_client
) -> None:
    url = deletable.make(patient, therapist)
    version = patient_client.get(url)["ETag"]

    response = _delete(patient_client, url, if_match='"99"')

    assert (response.status_code, response.json()["code"]) == (412, "version_conflict")
    assert response["ETag"] == version
    assert response.json()["current"]["version"] == int(version.strip('"'))
    assert patient_client.get(url).status_code == 200
