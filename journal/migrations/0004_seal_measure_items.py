"""Seal every measure's item answers and difficulty, then drop the clear columns (step 2).

Forwards: takes a lock that lets reads go on but holds writes to `journal_measure` (on
PostgreSQL), seals each measure's answers and difficulty into `items_sealed` with the
patient's data key (`journal.measure_items`, bound to the row, field, owner and version,
exactly as a new measure is sealed), empties the clear columns and drops them, in one
transaction. A measure write from a process still on the previous release waits for the
lock and then fails (its columns are gone): the app retries it with the same id, and the
new release stores it. Nothing written is lost. Needs JOURNAL_KEKS, as the service does.

Backwards: re-creates the columns and opens every sealed value into them (each patient's
data keys must still be there; erased patients have no measures left).

It uses the journal's own sealing code, not a frozen copy: what it writes must be what the
running service opens.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import migrations

BATCH = 500


def _lock_writes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("LOCK TABLE journal_measure IN SHARE ROW EXCLUSIVE MODE")


def seal_items(apps: Any, schema_editor: Any) -> None:
    from journal.keys import Sealer
    from journal.measure_items import FIELD, encode_items

    measure_model = apps.get_model("journal", "Measure")
    clear = measure_model.objects.filter(items_sealed="", answers__isnull=False)
    for patient_id in clear.values_list("patient_id", flat=True).distinct().order_by():
        sealer = Sealer(patient_id=str(patient_id), trust_cached_version=False)
        rows = list(clear.filter(patient_id=patient_id).order_by("pk"))
        for row in rows:
            row.items_sealed = sealer.seal(row, FIELD, encode_items(row.answers, row.difficulty))
            row.answers = None
            row.difficulty = None
        measure_model.objects.bulk_update(
            rows, ["items_sealed", "key_version", "answers", "difficulty"], batch_size=BATCH
        )


def open_items(apps: Any, schema_editor: Any) -> None:
    from journal.keys import Sealer
    from journal.measure_items import FIELD

    measure_model = apps.get_model("journal", "Measure")
    sealed = measure_model.objects.exclude(items_sealed="")
    for patient_id in sealed.values_list("patient_id", flat=True).distinct().order_by():
        sealer = Sealer(patient_id=str(patient_id))
        rows = list(sealed.filter(patient_id=patient_id).order_by("pk"))
        for row in rows:
            items = json.loads(sealer.open(row, FIELD))
            row.answers, row.difficulty = items["answers"], items["difficulty"]
            row.items_sealed = ""
        measure_model.objects.bulk_update(
            rows, ["items_sealed", "answers", "difficulty"], batch_size=BATCH
        )


class Migration(migrations.Migration):
    dependencies = [
        ("journal", "0003_measure_items_sealed"),
    ]

    operations = [
        migrations.RunPython(_lock_writes, migrations.RunPython.noop),
        migrations.RunPython(seal_items, open_items),
        migrations.RemoveConstraint(
            model_name="measure",
            name="measure_difficulty_phq9_0_3",
        ),
        migrations.RemoveField(
            model_name="measure",
            name="difficulty",
        ),
        migrations.RemoveField(
            model_name="measure",
            name="answers",
        ),
    ]
