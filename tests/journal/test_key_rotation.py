"""KEK and DEK rotation keep every row readable, and are no-ops when repeated."""

from __future__ import annotations

import base64
import json
import os
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

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


def age_active_keys(patient, seconds: float) -> None:
    """As if the patient's active key had been made `seconds` ago."""
    DataKey.objects.filter(patient=patient, is_active=True).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_rotate_patient_keys_reseals_rows_and_drops_the_old_key_after_the_grace(
    patients_with_rows, django_capture_on_commit_callbacks
) -> None:
    patients, rows = patients_with_rows
    target = patients[0]
    session = sealed_session(target, note="session note words")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        output = run("rotate_patient_keys", "--patient", str(target.pk), "--inline")

    assert "re-sealed 5 rows here" in output
    assert set(Entry.objects.filter(patient=target).values_list("key_version", flat=True)) == {2}
    other_versions = Entry.objects.exclude(patient=target).values_list("key_version", flat=True)
    assert set(other_versions) == {1}
    assert_all_readable(rows)
    fresh = TreatmentSession.objects.get(pk=session.pk)
    assert keys.sealer_for(target).open(fresh, "note_sealed") == "session note words"
    # Another process may remember version 1 as active for a while and seal under it: the
    # old key stays, and the worker is asked to look again when the grace is over.
    grace = keys.active_key_grace_seconds()
    assert grace == 2 * 60 + keys.ACTIVE_KEY_GRACE_MARGIN_SECONDS
    assert sorted(DataKey.objects.filter(patient=target).values_list("version", flat=True)) == [
        1,
        2,
    ]
    assert "dropped by the worker" in output
    assert len(callbacks) == 1
    wait = keys.patient_old_keys_wait(patient_id=str(target.pk))
    assert wait is not None
    assert grace - 5 < wait <= grace
    assert keys.patient_reseal_batch(patient_id=str(target.pk)) == 0
    assert DataKey.objects.filter(patient=target).count() == 2

    age_active_keys(target, grace + 1)
    assert keys.patient_old_keys_wait(patient_id=str(target.pk)) == 0
    assert keys.patient_reseal_batch(patient_id=str(target.pk)) == 0
    assert list(DataKey.objects.filter(patient=target).values_list("version", flat=True)) == [2]
    assert keys.patient_old_keys_wait(patient_id=str(target.pk)) is None
    assert_all_readable(rows)


def test_a_process_still_sealing_under_the_old_key_loses_nothing(patients_with_rows) -> None:
    """The reason for the grace: a process that learnt the active version before the
    rotation seals under the old key until its memory runs out. Re-sealing takes those
    rows too, and the old key is not dropped while such a write can still happen."""
    patients, rows = patients_with_rows
    target = patients[2]
    patient_id = str(target.pk)
    keys.patient_key_rotate(patient_id=patient_id)
    # This process "learnt" version 1 just before the rotation elsewhere committed.
    keys._remember_active_version(patient_id, 1)
    stale = sealed_entry(target, title="stale", body="written under the old key")
    assert stale.key_version == 1

    while keys.patient_reseal_batch(patient_id=patient_id):
        pass
    assert set(Entry.objects.filter(patient=target).values_list("key_version", flat=True)) == {2}
    assert DataKey.objects.filter(patient=target).count() == 2
    # Still inside the grace, another process with the old memory writes again; then the
    # re-seal after the grace.
    keys._remember_active_version(patient_id, 1)
    late = sealed_entry(target, title="late", body="still under the old key")
    assert late.key_version == 1
    age_active_keys(target, keys.active_key_grace_seconds() + 1)
    assert keys.patient_reseal_batch(patient_id=patient_id) == 1
    assert keys.patient_reseal_batch(patient_id=patient_id) == 0
    assert DataKey.objects.filter(patient=target).count() == 1
    keys.clear_cache()
    for entry, body in ((stale, "written under the old key"), (late, "still under the old key")):
        _, content = opened_entry(Entry.objects.get(pk=entry.pk))
        assert json.loads(content)["body"] == body
    assert_all_readable(rows)


def test_re_sealing_never_trusts_a_stale_memory_of_the_active_key(patients_with_rows) -> None:
    """Were re-sealing to take a remembered (old) version as active, it would move rows
    back under the old key and then drop the new one."""
    patients, rows = patients_with_rows
    target = patients[1]
    patient_id = str(target.pk)
    keys.patient_key_rotate(patient_id=patient_id)
    keys._remember_active_version(patient_id, 1)

    assert keys.patient_reseal_batch(patient_id=patient_id) == 4
    assert set(Entry.objects.filter(patient=target).values_list("key_version", flat=True)) == {2}
    age_active_keys(target, keys.active_key_grace_seconds() + 1)
    keys._remember_active_version(patient_id, 1)
    assert keys.patient_reseal_batch(patient_id=patient_id) == 0
    assert list(DataKey.objects.filter(patient=target).values_list("version", flat=True)) == [2]
    assert_all_readable(rows)


def test_a_write_with_the_key_in_memory_makes_no_data_key_query(patients_with_rows) -> None:
    patients, _ = patients_with_rows
    target = patients[0]
    sealed_entry(target, title="warm", body="the first write loads the key")

    with CaptureQueriesContext(connection) as queries:
        sealed_entry(target, title="second", body="the key and its version are in memory")
    assert not [q for q in queries.captured_queries if "journal_datakey" in q["sql"]]


def test_without_the_memory_each_new_sealer_asks_for_the_active_key(
    patients_with_rows, settings
) -> None:
    settings.JOURNAL_ACTIVE_KEY_CACHE_SECONDS = 0
    patients, _ = patients_with_rows
    target = patients[0]
    sealed_entry(target, title="warm", body="the first write loads the key")

    with CaptureQueriesContext(connection) as queries:
        sealed_entry(target, title="second", body="the version is read again")
    assert len([q for q in queries.captured_queries if "journal_datakey" in q["sql"]]) == 1
    assert keys.active_key_grace_seconds() == 0


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


def test_rotate_patient_keys_twice_keeps_everything_readable(patients_with_rows, settings) -> None:
    settings.JOURNAL_ACTIVE_KEY_CACHE_SECONDS = 0  # no grace: old keys go at once
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
