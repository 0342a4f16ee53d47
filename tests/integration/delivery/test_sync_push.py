"""The silent sync push (integration/delivery/sync.py): to the patient's phones only, as a
`sync` message with nothing to show; a dead token retires its device."""

from __future__ import annotations

import pytest

from integration.delivery.sync import patient_sync_push
from integration.models import Device
from integration.providers.base import PushKind
from tests.accounts.factories import PatientFactory
from tests.integration import counting_provider
from tests.integration.counting_provider import read_log
from tests.integration.delivery_data import make_device
from worker import tasks


@pytest.mark.django_db
def test_a_sync_push_goes_silently_to_the_patients_phones_only(push_log):
    patient = PatientFactory.create(password=None)
    phones = [make_device(patient, "ok", platform) for platform in ("ios", "android")]
    make_device(patient, "ok", "web")  # browsers show every push: none for them
    retired = make_device(patient, "ok", "android")
    Device.objects.filter(pk=retired.pk).update(is_active=False)
    other = make_device(PatientFactory.create(password=None), "ok", "ios")

    delivered = tasks.push_sync(str(patient.pk))

    assert delivered == 2
    assert {push.device_id for push in read_log(push_log)} == {str(d.pk) for d in phones}
    assert str(other.pk) not in {push.device_id for push in read_log(push_log)}
    assert {(m.kind, m.prompt_id, m.title, m.body) for m in counting_provider.MESSAGES} == {
        (PushKind.SYNC, "", "", "")
    }


@pytest.mark.django_db
def test_a_sync_push_retires_a_dead_token(push_log):
    patient = PatientFactory.create(password=None)
    dead = make_device(patient, "unregistered", "ios")

    assert patient_sync_push(patient_id=str(patient.pk)) == 0

    dead.refresh_from_db()
    assert (dead.is_active, dead.retired_reason) == (False, "unregistered")


@pytest.mark.django_db
def test_a_patient_without_phones_gets_no_push(push_log):
    patient = PatientFactory.create(password=None)
    make_device(patient, "ok", "web")

    assert patient_sync_push(patient_id=str(patient.pk)) == 0
    assert read_log(push_log) == []
