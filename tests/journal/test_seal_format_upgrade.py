"""Rows sealed before the row's version was bound (format 1, "ag1.") stay readable until
re-sealed, are re-sealed in place by `reseal_legacy_tokens` and by key rotation, and fail
closed once legacy tokens are no longer accepted."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import models

from journal import keys
from journal.models import Entry, TreatmentSession
from tests.journal.factories import make_entry, make_session
from tests.journal.legacy_tokens import legacy_seal

pytestmark = pytest.mark.django_db


def put_legacy_token(row: models.Model, field: str, text: str) -> str:
    """Seal `text` for `row.field` as the journal did before the upgrade, and store it."""
    sealer = keys.sealer_for(row.patient)  # type: ignore[attr-defined]
    version = sealer.active_version()
    sealer._key(version)  # loads the data key into the process's cache
    data_key = keys._cache.get((sealer.patient_id, version))
    assert data_key is not None
    token = legacy_seal(
        data_key, text, context=sealer._row(row).context(field), key_version=version
    )
    type(row)._default_manager.filter(pk=row.pk).update(**{field: token})
    return token


def legacy_entry(patient, *, title: str, body: str) -> Entry:
    entry = make_entry(patient, title="new format", body="new format")
    put_legacy_token(entry, "title_sealed", title)
    put_legacy_token(entry, "content_sealed", json.dumps({"body": body, "tags": ["t"]}))
    return Entry.objects.get(pk=entry.pk)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_row_in_the_legacy_format_still_opens_through_the_api(patient, patient_client) -> None:
    entry = legacy_entry(patient, title="written long ago", body="old body")
    keys.clear_cache()

    one = patient_client.get(f"/api/v1/entries/{entry.pk}/")  # the hand-written read
    page = patient_client.get("/api/v1/entries/")  # the ORM read

    assert one.status_code == 200
    assert (one.json()["title"], one.json()["body"]) == ("written long ago", "old body")
    assert page.json()["results"][0]["title"] == "written long ago"


def test_a_write_to_a_legacy_row_seals_it_in_the_current_format(patient, patient_client) -> None:
    entry = legacy_entry(patient, title="old title", body="old body")

    changed = patient_client.patch(
        f"/api/v1/entries/{entry.pk}/", {"body": "new body", "version": 1}, format="json"
    )

    assert changed.status_code == 200
    assert changed.json()["title"] == "old title"
    stored = Entry.objects.get(pk=entry.pk)
    assert stored.title_sealed.startswith("ag2.")
    assert stored.content_sealed.startswith("ag2.")


def test_reseal_legacy_tokens_upgrades_every_row_and_changes_nothing_else(
    patient, other_patient
) -> None:
    entries = [
        legacy_entry(owner, title=f"title {owner.pk}", body="body")
        for owner in (patient, other_patient)
    ]
    session = make_session(patient, note="")
    put_legacy_token(session, "note_sealed", "an old note")
    current = make_entry(patient, title="already current", body="b")
    before = {
        row.pk: (row.version, row.change, row.updated_at, row.key_version)
        for row in [*Entry.objects.all(), *TreatmentSession.objects.all()]
    }
    assert keys.legacy_sealed_remaining() == 3

    output = run("reseal_legacy_tokens", "--batch-size", "1")

    assert "Rows in the legacy token format: 3." in output
    assert "Rows left in the legacy token format: 0." in output
    assert keys.legacy_sealed_remaining() == 0
    after = {
        row.pk: (row.version, row.change, row.updated_at, row.key_version)
        for row in [*Entry.objects.all(), *TreatmentSession.objects.all()]
    }
    assert after == before
    keys.clear_cache()
    for entry in entries:
        fresh = Entry.objects.get(pk=entry.pk)
        assert fresh.title_sealed.startswith("ag2.")
        assert keys.sealer_for(fresh.patient).open(fresh, "title_sealed") == (
            f"title {fresh.patient_id}"
        )
    fresh_session = TreatmentSession.objects.get(pk=session.pk)
    assert keys.sealer_for(patient).open(fresh_session, "note_sealed") == "an old note"
    assert Entry.objects.get(pk=current.pk).title_sealed == current.title_sealed  # untouched


def test_a_dry_run_only_counts(patient) -> None:
    entry = legacy_entry(patient, title="t", body="b")

    output = run("reseal_legacy_tokens", "--dry-run")

    assert "Rows in the legacy token format: 1." in output
    assert Entry.objects.get(pk=entry.pk).title_sealed.startswith("ag1.")


def test_once_legacy_tokens_are_refused_an_old_one_put_back_fails_closed(patient, settings) -> None:
    entry = make_entry(patient, title="current", body="b")
    run("reseal_legacy_tokens")
    settings.JOURNAL_ACCEPT_LEGACY_SEALS = False

    put_legacy_token(entry, "title_sealed", "an old title from a backup")

    fresh = Entry.objects.get(pk=entry.pk)
    with pytest.raises(keys.UnreadableRecordError):
        keys.sealer_for(patient).open(fresh, "title_sealed")


def test_key_rotation_reseals_legacy_rows_too(patient) -> None:
    entry = legacy_entry(patient, title="rotated", body="b")

    keys.patient_key_rotate(patient_id=str(patient.pk))
    while keys.patient_reseal_batch(patient_id=str(patient.pk)):
        pass

    fresh = Entry.objects.get(pk=entry.pk)
    assert fresh.title_sealed.startswith("ag2.")
    assert fresh.key_version == 2
    assert keys.sealer_for(patient).open(fresh, "title_sealed") == "rotated"


def test_an_erased_patients_rows_are_neither_counted_nor_touched(patient) -> None:
    entry = legacy_entry(patient, title="gone", body="b")
    keys.patient_data_keys_destroy(user=patient)

    output = run("reseal_legacy_tokens")

    assert "Rows in the legacy token format: 0." in output
    assert Entry.objects.get(pk=entry.pk).title_sealed == entry.title_sealed
    assert not patient.data_keys.exists()  # no new key was made for them
