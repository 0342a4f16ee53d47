"""Give patients a new data key and re-seal their rows in the background.

    python manage.py rotate_patient_keys [--patient ID] [--inline]

For each patient (or the one given), a new data key becomes active at once: new writes
use it. A Celery task then re-seals the patient's rows in batches; until it is done, rows
under the old key open with the old key, so everything stays readable throughout. When no
row is left under an old key, and no process can still be sealing under it (a process
keeps the active key version in memory for JOURNAL_ACTIVE_KEY_CACHE_SECONDS), the old key
is deleted. `--inline` does the re-sealing in
this process instead (small installations, or no worker running).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from journal.background import enqueue_patient_reseal
from journal.keys import patient_key_rotate, patient_old_keys_wait, patient_reseal_batch


class Command(BaseCommand):
    help = "Rotate patients' data keys (DEKs) and re-seal their journal rows."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patient", help="Rotate only this patient (user id).")
        parser.add_argument(
            "--inline", action="store_true", help="Re-seal here instead of in the worker."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects.filter(role="patient", erased_at__isnull=True)
        if options["patient"]:
            users = users.filter(pk=options["patient"])
            if not users.exists():
                raise CommandError("No such patient.")
        patient_ids = [str(pk) for pk in users.values_list("pk", flat=True)]
        resealed = 0
        waiting = 0
        for patient_id in patient_ids:
            with transaction.atomic():
                key = patient_key_rotate(patient_id=patient_id)
                if not options["inline"]:
                    enqueue_patient_reseal(patient_id)
            if options["inline"]:
                while moved := patient_reseal_batch(patient_id=patient_id):
                    resealed += moved
                if (wait := patient_old_keys_wait(patient_id=patient_id)) is not None:
                    # Another process may seal under the old key for a while yet: the
                    # worker drops it once that cannot happen.
                    enqueue_patient_reseal(patient_id, countdown=max(1.0, wait))
                    waiting += 1
            self.stdout.write(f"patient {patient_id}: data key v{key.version} active")
        how = f"re-sealed {resealed} rows here" if options["inline"] else "re-sealing queued"
        self.stdout.write(f"Rotated {len(patient_ids)} patients' data keys; {how}.")
        if waiting:
            self.stdout.write(
                f"Old data keys of {waiting} patients are dropped by the worker once no "
                "process can still be sealing under them."
            )
