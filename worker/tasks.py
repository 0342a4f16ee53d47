"""Thin Celery tasks: stable names, ids as arguments, the work done by services.

Task names are stored in broker messages: never rename one (add a new name instead).
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.app.task import Task
from django.db import OperationalError
from django.utils import timezone

from backend.accounts import emails, registration
from backend.idempotency import idempotency_keys_purge
from integration.care import alerts
from integration.delivery.dispatch import prompts_deliver, prompts_dispatch
from integration.delivery.sync import patient_sync_push
from integration.prompts.planning import prompts_expire_overdue
from journal.keys import patient_old_keys_wait, patient_reseal_batch

RESEAL_BATCH_SIZE = 200

# Only a database that is briefly away (failover, restart, too many connections) is worth
# retrying: with backoff, jitter and a cap, and never with a countdown past two minutes.
TRANSIENT_ERRORS = (OperationalError,)
RETRY_OPTIONS: dict[str, Any] = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="afterglow.ping")
def ping() -> str:
    """A task that does nothing, so a worker's health can be checked end to end."""
    return "pong"


# A mail server that refuses for now or cannot be reached: 10 s, 20 s, 40 s ... at most
# five minutes apart (well inside the broker's visibility timeout), eight times.
EMAIL_RETRY_OPTIONS: dict[str, Any] = {
    "autoretry_for": (*emails.TRANSIENT_ERRORS, *TRANSIENT_ERRORS),
    "retry_backoff": 10,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="afterglow.accounts.send_email", **EMAIL_RETRY_OPTIONS)
def send_account_email(kind: str, user_id: str, row_id: str | None = None) -> bool:
    """Send one account e-mail (a code or a notice). The message holds the kind and ids
    (the account's, and the code's or the change of address notice's row) only; the
    address and the code are read from the database here. A repeat sends the same code
    again; a stale message (code replaced, used or expired) is not sent."""
    return emails.account_email_send(kind=kind, user_id=user_id, row_id=row_id)


@shared_task(name="afterglow.accounts.purge_unconfirmed", **RETRY_OPTIONS)
def purge_unconfirmed_registrations() -> int:
    """Beat, hourly: registrations never confirmed free their address; old codes, and
    notices of a change of address never sent, go."""
    return registration.registrations_unconfirmed_purge(now=timezone.now())


@shared_task(name="afterglow.backend.purge_idempotency_keys", **RETRY_OPTIONS)
def purge_idempotency_keys() -> int:
    """Beat, hourly: Idempotency-Keys past their 24 hours go."""
    return idempotency_keys_purge(now=timezone.now())


@shared_task(name="afterglow.journal.reseal_patient", bind=True, max_retries=None)
def reseal_patient(self: Task[Any, Any], patient_id: str) -> int:
    """Re-seal one batch of a patient's rows under their active data key; if rows are
    left, queue the next batch. Idempotent: a batch takes only rows under old keys."""
    moved = patient_reseal_batch(patient_id=patient_id, batch_size=RESEAL_BATCH_SIZE)
    if moved:
        self.apply_async(args=(patient_id,))
    elif (wait := patient_old_keys_wait(patient_id=patient_id)) is not None:
        # Old keys stay until no process can still seal under them (or rows are held by
        # another runner): look again then.
        self.apply_async(args=(patient_id,), countdown=max(1.0, wait))
    return moved


@shared_task(name="afterglow.integration.dispatch", **RETRY_OPTIONS)
def dispatch_prompts() -> int:
    """Beat: claim due prompts and queue their delivery, batch by batch. Any number of
    these may run at once (the claim skips rows another one holds)."""
    return prompts_dispatch()


@shared_task(name="afterglow.integration.deliver_prompts", **RETRY_OPTIONS)
def deliver_prompts(claims: list[list[str]]) -> None:
    """Push one claimed batch: `claims` is a list of [prompt id, claim id]. Idempotent: a
    second run of the same message finds the claims taken over and pushes nothing."""
    prompts_deliver(claims=claims)


@shared_task(name="afterglow.integration.push_sync", **RETRY_OPTIONS)
def push_sync(patient_id: str) -> int:
    """Tell a patient's phones, silently, that their prompts changed. Sent after the commit
    of a change (integration/prompts/notify.py); a lost one costs nothing."""
    return patient_sync_push(patient_id=patient_id)


@shared_task(name="afterglow.integration.expire_prompts", **RETRY_OPTIONS)
def expire_prompts() -> int:
    """Beat: expire prompts left unanswered past their answer window."""
    return prompts_expire_overdue(now=timezone.now())


@shared_task(name="afterglow.integration.deliver_safety_alert", **RETRY_OPTIONS)
def deliver_safety_alert(alert_id: str) -> str:
    """Send one safety alert's e-mail, at once (exempt from quiet hours). Idempotent: a
    compare-and-swap before the send lets one run win; e-mail errors are retried by the
    alert's own backoff, through the sweep below, not by this task."""
    return alerts.safety_alert_deliver(alert_id=alert_id)


@shared_task(name="afterglow.integration.deliver_safety_alerts_due", **RETRY_OPTIONS)
def deliver_safety_alerts_due() -> int:
    """Beat: send the safety alerts still due (retries whose backoff has passed, lost
    messages, a dead worker's). Any number of these may run at once."""
    return alerts.safety_alerts_deliver_due(now=timezone.now())
