"""Telling a patient's phones that their prompts changed: a silent sync push, sent by the
worker (`afterglow.integration.push_sync`, integration/delivery/sync.py) a few seconds after
the change commits.

Changes come in bursts (moving a session rewrites all its prompts, and the patient may move
two), so the first change of a patient starts a push that waits SYNC_PUSH_DELAY_SECONDS and
the others in that time join it: one push, sent when the burst is over, covers them all.
The joining is a key in the shared cache; with the cache away every change sends its own.
Only ids travel in the message.
"""

from __future__ import annotations

import logging
from functools import partial

from celery import current_app
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger("integration.delivery")

# Stored in broker messages: never rename (see worker/tasks.py).
PUSH_SYNC_TASK = "afterglow.integration.push_sync"
SYNC_PUSH_DELAY_SECONDS = 5


def prompts_changed_notify(*, patient_id: str) -> None:
    """After the current transaction commits, have the patient's phones sync soon."""
    transaction.on_commit(partial(_send, str(patient_id)))


def _send(patient_id: str) -> None:
    try:
        if not cache.add(f"push-sync:{patient_id}", 1, timeout=SYNC_PUSH_DELAY_SECONDS):
            return  # a push is already waiting for this patient: it covers this change
    except Exception as error:  # the cache's errors vary by backend
        logger.warning("sync push not joined: cache unavailable (%s)", type(error).__name__)
    try:
        current_app.send_task(PUSH_SYNC_TASK, args=[patient_id], countdown=SYNC_PUSH_DELAY_SECONDS)
    except Exception as error:  # the broker's errors vary by transport
        # Committed already; the app syncs when it opens anyway.
        logger.warning("sync push not queued (%s)", type(error).__name__)
