"""KEK and DEK rotation keep every row readable, and are no-ops when repeated."""

from __future__ import annotations

import base64
import json
import os
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from journal import keys
from journal.models import DataKey, Entry, TreatmentSession
from tests.journal.sealed_rows import opened_entry, sealed_entry, sealed_session

pytestmark = pytest.mark.django_db

NEW_KEK = "3:" + base64.b64encode(os.urandom(32)).decode()


def make_patient(email: str):
    return get_user_model().objects.create_user(
        email=email, password="long enough password 1", display_name="P", role="patient"
    )


@pytest.fixture
def patients_with_rows():
    patients = [make_patient(f"p{index}@example.org") for index in range(3)]
    rows = {
        patient.pk: [
            sealed_entry(patient, title=f"title {index}", body=f"body {patient.pk} {index}")
            for index in range(4)
        ]
        for patient in patients
    }
    return patients, rows


def assert_all_readable(rows) -> None:
    keys.clear_cache()
    for patient_id, entries in rows.items():
        for index, entry in enumerate(entries):
            title, content = opened_entry(entry)
            assert title == f"title {index}"
            assert json.loads(content)["body"] == f"body {patient_id} {index}"


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_rotate_kek_rewraps_every_data_key_and_keeps_rows_readable(
    patients_with_rows, settings
) -> None:
    _, rows = patients_with_rows
    assert set(DataKey.objects.values_list("kek_version", flat=True)) == {2}
    settings.JOURNAL_KEKS = [NEW_KEK, *settings.JOURNAL_KEKS]

    output = run("rotate_kek", "--batch-size", "2")

    assert "Data keys to re-wrap: 3." in output
    assert "Re-wrapped 3 data keys. Keys left under older KEKs: 0" in output
    assert set(DataKey.objects.values_list("kek_version", flat=True)) == {3}
    assert_all_readable(rows)
    # Once it reports zero, the old KEKs can go: rows still open with only the new one.
    settings.JOURNAL_KEKS = [NEW_KEK]
    assert_all_readable(rows)


def test_rotate_kek_is_a_no_op_when_repeated(patients_with_rows, settings) -> None:
    settings.JOURNAL_KEKS = [NEW_KEK, *settings.JOURNAL_KEKS]
    run("rotate_kek")
    wrapped_before = {key.pk: bytes(key.wrapped) for key in DataKey.objects.all()}

    output = run("rotate_kek")

    assert "Data keys to re-wrap: 0." in output
    assert {key.pk: bytes(key.wrapped) for key in DataKey.objects.all()} == wrapped_before


def test_rotate_kek_resumes_after_an_interrupted_run(patients_with_rows, settings) -> None:
    settings.JOURNAL_KEKS = [NEW_KEK, *settings.JOURNAL_KEKS]
    assert keys.kek_rotate_batch(batch_size=1) == 1  # then the operator stops it
    assert keys.kek_rotation_remaining() == 2

    output = run("rotate_kek")

    assert "Re-wrapped 2 data keys. Keys left under older KEKs: 0" in output


def test_rotate_patient_keys_reseals_rows_and_drops_the_old_key(patients_with_rows) -> None:
    patients, rows = patients_with_rows
    target = patients[0]
    session = sealed_session(target, note="session note words")

    output = run("rotate_patient_keys", "--patient", str(target.pk), "--inline")

    assert "re-sealed 5 rows here" in output
    assert list(DataKey.objects.filter(patient=target).values_list("version", flat=True)) == [2]
    assert set(Entry.objects.filter(patient=target).values_list("key_version", flat=True)) == {2}
    other_versions = Entry.objects.exclude(patient=target).values_list("key_version", flat=True)
    assert set(other_versions) == {1}
    assert_all_readable(rows)
    fresh = TreatmentSession.objects.get(pk=session.pk)
    assert keys.sealer_for(target).open(fresh, "note_sealed") == "session note words"


def test_rows_stay_readable_midway_through_a_dek_rotation(patients_with_rows) -> None:
    patients, rows = patients_with_rows
    target = patients[1]
    keys.patient_key_rotate(patient_id=str(target.pk))
    assert keys.patient_reseal_batch(patient_id=str(target.pk), batch_size=2) == 2

    versions = sorted(Entry.objects.filter(patient=target).values_list("key_version", flat=True))
    assert versions == [1, 1, 2, 2]
    assert_all_readable(rows)
    # New writes use the new key at once.
    fresh = sealed_entry(target, title="after", body="after rotation")
    assert fresh.key_version == 2


def test_rotate_patient_keys_twice_keeps_everything_readable(patients_with_rows) -> None:
    _, rows = patients_with_rows
    run("rotate_patient_keys", "--inline")
    run("rotate_patient_keys", "--inline")
    assert set(DataKey.objects.values_list("version", flat=True)) == {3}
    assert DataKey.objects.count() == 3
    assert_all_readable(rows)


def test_rotate_patient_keys_queues_the_reseal_task_after_commit(
    patients_with_rows, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run("rotate_patient_keys")
    assert len(callbacks) == 3
