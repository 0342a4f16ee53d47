"""A measure's item answers are sealed like journal text: bound to their row, field, owner
and version, opened only for their owner's reads, re-sealed by rotation, and sealed for
measures stored before (migration 0004)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils.module_loading import import_string

from journal import keys
from journal.measure_items import FIELD, encode_items, open_measure
from journal.measures import services
from journal.models import Measure, MeasureItemsNotOpenedError
from tests.journal.factories import make_measure, make_patient

pytestmark = pytest.mark.django_db

PHQ9 = [2, 1, 0, 3, 1, 2, 0, 1, 1]
GAD7 = [1, 2, 3, 0, 1, 2, 3]


def read(client, measure: Measure):
    return client.get(f"/api/v1/measures/{measure.pk}/")


def put_items(measure: Measure, token: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE journal_measure SET items_sealed = %s WHERE id = %s", [token, measure.pk]
        )


def test_the_owner_reads_the_answers_as_submitted(patient_client, patient) -> None:
    measure = make_measure(patient, answers=PHQ9, difficulty=3)

    body = read(patient_client, measure).json()

    assert (body["answers"], body["difficulty"], body["total"]) == (PHQ9, 3, 11)
    stored = Measure.objects.get(pk=measure.pk)
    assert stored.items_sealed.startswith("ag2.")
    assert stored.key_version == 1


def test_a_row_read_back_is_never_shown_unopened(patient) -> None:
    measure = make_measure(patient, answers=PHQ9)

    with pytest.raises(MeasureItemsNotOpenedError):
        _ = Measure.objects.get(pk=measure.pk).answers


def test_answers_moved_to_another_measure_fail_closed(patient_client, patient) -> None:
    calm = make_measure(patient, answers=[0] * 9)
    worse = make_measure(patient, answers=PHQ9)
    put_items(calm, worse.items_sealed)

    response = read(patient_client, calm)

    assert response.status_code == 500
    assert response.json()["code"] == "sealed_value_unreadable"
    assert "answers" not in response.json()


def test_answers_moved_to_another_patient_fail_closed(patient, other_patient) -> None:
    mine = make_measure(patient, answers=PHQ9)
    theirs = make_measure(other_patient, answers=[0] * 9)
    put_items(theirs, mine.items_sealed)

    with pytest.raises(keys.UnreadableRecordError):
        open_measure(Measure.objects.get(pk=theirs.pk), sealer=keys.sealer_for(other_patient))


def test_an_emptied_or_foreign_value_fails_closed(patient) -> None:
    measure = make_measure(patient, instrument="gad7", answers=GAD7)
    sealer = keys.sealer_for(patient)
    put_items(measure, "")
    with pytest.raises(keys.UnreadableRecordError):
        open_measure(Measure.objects.get(pk=measure.pk), sealer=sealer)
    # A value that opens but is not a GAD-7's items (here a PHQ-9's) is refused too.
    stored = Measure.objects.get(pk=measure.pk)
    put_items(measure, sealer.seal(stored, FIELD, encode_items(PHQ9, None)))
    with pytest.raises(keys.UnreadableRecordError):
        open_measure(Measure.objects.get(pk=measure.pk), sealer=keys.sealer_for(patient))


def test_the_sealed_length_says_nothing_about_the_answers(patient) -> None:
    lengths = {
        len(make_measure(patient, answers=answers, difficulty=difficulty).items_sealed)
        for answers, difficulty in [([0] * 9, None), ([3] * 9, 3), (PHQ9, 0)]
    }

    assert len(lengths) == 1


hooked: list[tuple[list[int], str]] = []


def recording_hook(*, measure: Measure) -> None:
    hooked.append((measure.answers, measure.items_sealed[:4]))


def test_the_safety_hook_runs_on_the_answers_as_submitted(patient, settings) -> None:
    hooked.clear()
    settings.JOURNAL_SAFETY_HOOKS = ["tests.journal.measures.test_measures_sealed.recording_hook"]

    services.measure_create(patient=patient, instrument="phq9", answers=PHQ9)

    # The hook sees the answers as sent, and the row already sealed.
    assert hooked == [(PHQ9, "ag2.")]


def test_rotation_reseals_measures_under_the_new_key(patient_client, patient) -> None:
    measure = make_measure(patient, answers=PHQ9)

    keys.patient_key_rotate(patient_id=str(patient.pk))
    while keys.patient_reseal_batch(patient_id=str(patient.pk)):
        pass
    keys.clear_cache()

    stored = Measure.objects.get(pk=measure.pk)
    assert stored.key_version == 2
    assert stored.items_sealed != measure.items_sealed
    assert read(patient_client, measure).json()["answers"] == PHQ9


def test_erasure_deletes_the_measures_and_their_key(patient, other_patient) -> None:
    make_measure(patient, answers=PHQ9)
    kept = make_measure(other_patient, answers=PHQ9)

    for path in settings.ACCOUNT_ERASURE_HOOKS:
        import_string(path)(user=patient)

    assert not Measure.objects.filter(patient=patient).exists()
    assert not patient.data_keys.exists()
    fresh = Measure.objects.get(pk=kept.pk)
    assert open_measure(fresh, sealer=keys.sealer_for(other_patient)).answers == PHQ9


# Migration 0004: measures stored with clear answers are sealed, and back again.

BEFORE = [("journal", "0003_measure_items_sealed")]


def _latest() -> list[tuple[str, str]]:
    # Every app's latest migration: going back to BEFORE also unapplies the migrations of
    # other apps that depend on journal's later ones (integration's), which the tests
    # after this one need.
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


# In the test's own transaction (PostgreSQL rolls DDL back), as the public ids migration
# test does: the rollback leaves every app's schema and the seeded catalog as they were. A
# transactional test would start from a flushed database, and going forward again would
# rerun integration's data migrations without the plans an earlier one seeded.
@pytest.mark.django_db
def test_the_migration_seals_stored_answers_and_reverses() -> None:
    patient = make_patient(email="migrated@example.org")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old_measure = executor.loader.project_state(BEFORE).apps.get_model("journal", "Measure")
        stored = old_measure.objects.create(
            patient_id=patient.pk, instrument="phq9", answers=PHQ9, difficulty=2, total=11,
            band="moderate", change=1,
        )  # fmt: skip
        gad = old_measure.objects.create(
            patient_id=patient.pk, instrument="gad7", answers=GAD7, total=12, band="moderate",
            change=2,
        )  # fmt: skip

        executor = MigrationExecutor(connection)
        executor.migrate(_latest())

        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM journal_measure")
            columns = {column.name for column in cursor.description}
        assert {"answers", "difficulty"}.isdisjoint(columns)
        sealer = keys.sealer_for(patient)
        phq = open_measure(Measure.objects.get(pk=stored.pk), sealer=sealer)
        assert (phq.answers, phq.difficulty, phq.items_sealed[:4]) == (PHQ9, 2, "ag2.")
        assert open_measure(Measure.objects.get(pk=gad.pk), sealer=sealer).answers == GAD7

        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        reverted = executor.loader.project_state(BEFORE).apps.get_model("journal", "Measure")
        back = reverted.objects.get(pk=stored.pk)
        assert (back.answers, back.difficulty, back.items_sealed) == (PHQ9, 2, "")
        assert reverted.objects.get(pk=gad.pk).answers == GAD7
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(_latest())
