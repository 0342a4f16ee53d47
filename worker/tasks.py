"""Thin Celery tasks: stable names, ids as arguments, the work done by services.

Task names are stored in broker messages: never rename one (add a new name instead).
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.app.task import Task

from journal.keys import patient_reseal_batch

RESEAL_BATCH_SIZE = 200


@shared_task(name="afterglow.ping")
def ping() -> str:
    """A task that does nothing, so a worker's health can be checked end to end."""
    return "pong"


@shared_task(name="afterglow.journal.reseal_patient", bind=True, max_retries=None)
def reseal_patient(self: Task[Any, Any], patient_id: str) -> int:
    """Re-seal one batch of a patient's rows under their active data key; if rows are
    left, queue the next batch. Idempotent: a batch takes only rows under old keys."""
    moved = patient_reseal_batch(patient_id=patient_id, batch_size=RESEAL_BATCH_SIZE)
    if moved:
        self.apply_async(args=(patient_id,))
    return moved
