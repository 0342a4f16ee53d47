"""Re-seal every row still sealed in the legacy token format (not bound to its version).

    python manage.py reseal_legacy_tokens [--dry-run] [--batch-size 200]

Tokens sealed before the row's version was bound to them (format 1, "ag1.") keep opening
while JOURNAL_ACCEPT_LEGACY_SEALS is on (the default), and every write seals in the
current format. This command re-seals the rest, patient by patient, in short batches
under each patient's active data key, without changing any row's text, version or sync
change number; the service keeps running meanwhile. It is resumable and idempotent: it
takes only rows still in the old format. When it reports none left, turn
JOURNAL_ACCEPT_LEGACY_SEALS off, so that no old token put back into a row opens again.
(`rotate_patient_keys` re-seals these rows too, under a new data key.)
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from journal.keys import legacy_sealed_remaining, patient_reseal_batch, patients_with_legacy_seals


class Command(BaseCommand):
    help = "Re-seal rows still in the legacy token format (not bound to the row's version)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=200)
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count the rows left to re-seal."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        total = legacy_sealed_remaining()
        self.stdout.write(f"Rows in the legacy token format: {total}.")
        if options["dry_run"] or total == 0:
            return
        patient_ids = patients_with_legacy_seals()
        resealed = 0
        for patient_id in patient_ids:
            while moved := patient_reseal_batch(
                patient_id=patient_id, batch_size=options["batch_size"]
            ):
                resealed += moved
        left = legacy_sealed_remaining()
        self.stdout.write(
            f"Re-sealed {resealed} rows of {len(patient_ids)} patients. "
            f"Rows left in the legacy token format: {left}."
        )
        if left:
            self.stdout.write("Some rows were held by another writer: run the command again.")
        else:
            self.stdout.write("None left: JOURNAL_ACCEPT_LEGACY_SEALS can now be turned off.")
