"""Starting journal work in the worker, without importing the worker.

Services address tasks by their stable names after commit (DESIGN: imports flow
worker -> integration -> journal), so the message holds ids only.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction

RESEAL_PATIENT_TASK = "afterglow.journal.reseal_patient"


def enqueue_patient_reseal(patient_id: str, *, countdown: float = 0) -> None:
    """Ask the worker to re-seal a patient's rows once the current transaction commits."""
    transaction.on_commit(
        lambda: current_app.send_task(
            RESEAL_PATIENT_TASK, args=[patient_id], countdown=countdown or None
        )
    )
