"""Prompt delivery: claim due prompts, hand them to workers, push each one once.

How a prompt travels:

1. Beat runs the task `afterglow.integration.dispatch` every minute; it calls
   `prompts_dispatch`, which claims due prompts in batches (`prompts_claim_due`): due
   `scheduled` rows, plus `sending` rows whose lease has passed (their worker died), taken
   with `SELECT ... FOR UPDATE SKIP LOCKED` so that any number of dispatchers on any number
   of machines take disjoint rows. A claim marks them `sending` under a fresh claim id and
   a lease.
2. Once that transaction has committed, the batch's ids (never text, never tokens: Celery
   keeps task arguments in Redis in the clear) go to `afterglow.integration.deliver_prompts`,
   addressed by its stable name so that this module never imports `worker`.
3. The task calls `prompts_deliver`: it takes the claim over (a new claim id and a fresh
   lease, compare-and-swap on the claim id it was given), pushes each prompt to the
   patient's active devices, and commits that prompt's attempts together with its move
   `sending -> sent`, a compare-and-swap on (status, claim id), before the next prompt.
   Each compare-and-swap locks the row by primary key and compares in Python (`_lock`
   says why). After a transient provider error the prompt stays `sending`, released, with
   a lease that lapses after an exponential backoff, so a later dispatch claims it again,
   up to PROMPT_MAX_ATTEMPTS claims; a dead token retires the device; a patient without
   devices finds the prompt in the app's inbox; a prompt past its expiry is expired
   rather than pushed.

Exactly once, and the one place where it is only at least once:

- With `acks_late`, Celery runs a task at least once: the message of a killed worker comes
  back (Celery docs, "Should I use retry or acks_late?"). Running the same message again
  finds the claim id already replaced by the first run's takeover, or the prompts `sent`,
  and pushes nothing.
- Two runs of one message at the same time (Redis hands out a message again after its
  visibility timeout even while the first run is alive) cannot both push: the takeover is
  a compare-and-swap on the claim id, so exactly one of them holds each prompt.
- A dead worker leaves its prompts `sending`; after the lease the next dispatch claims them
  again under a new claim id, and a late run of the old message is a no-op. A live worker
  renews its lease whenever a third of it has passed, so a slow batch is not taken from
  under it.
- The window that remains lies between a provider accepting a push and the commit of that
  prompt's compare-and-swap (a few milliseconds: one small transaction). A worker killed
  exactly there has pushed without recording it, and the prompt is pushed again once the
  lease passes. It is kept small by committing each prompt right after its own sends,
  never at the end of the batch; closing it needs an idempotency key at the provider,
  which FCM and APNs do not offer. A provider that sets the prompt id as its collapse key
  (APNs `apns-collapse-id`, an FCM notification `tag`, a Web Push `Topic`) makes such a
  repeat replace the first notification on the device instead of showing twice. The inbox
  never depends on the push at all.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from integration.models import DeliveryAttempt, DeliveryOutcome, Device, Prompt, PromptStatus
from integration.providers.base import Outcome, Provider, PushMessage, SendResult, provider_for

logger = logging.getLogger("integration.delivery")  # named before the split: log filters use it

# Stored in broker messages: never rename (see worker/tasks.py).
DELIVER_TASK = "afterglow.integration.deliver_prompts"

DEFAULT_BATCH_SIZE = 200
DEFAULT_MAX_BATCHES = 50
DEFAULT_LEASE_SECONDS = 120
DEFAULT_MAX_ATTEMPTS = 5
# A transient failure waits base * 2**(attempt - 1), at most the cap, and at least what
# the provider asked for in Retry-After (itself bounded, so a bad header cannot park a
# prompt for a year). Settings PROMPT_RETRY_BASE_SECONDS and PROMPT_RETRY_CAP_SECONDS.
DEFAULT_RETRY_BASE_SECONDS = 60
DEFAULT_RETRY_CAP_SECONDS = 30 * 60
RETRY_AFTER_CAP = timedelta(hours=6)

NO_DEVICE_PROVIDER = "inbox"
ERROR_TRANSIENT = "push_transient"
ERROR_FAILED = "push_failed"

Claim = tuple[uuid.UUID, uuid.UUID]


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _seconds(name: str, default: float) -> timedelta:
    return timedelta(seconds=float(getattr(settings, name, default)))


def prompts_claim_due(*, now: datetime, batch_size: int, lease: timedelta) -> list[Claim]:
    """Claim up to `batch_size` prompts for delivery: `sending` ones whose lease passed
    before `now` (their worker died, or a retry is due), then due `scheduled` ones, oldest
    due first. Returns (prompt id, claim id) pairs; every prompt is now `sending` under that
    claim until `now + lease`, its `attempts` one higher.

    On PostgreSQL each part is one indexed range read (the partial indexes
    `prompt_lease_sending` and `prompt_due_scheduled`) that stops after `batch_size` rows,
    so its cost follows what is due, not what is scheduled later. SQLite (`make run`) has no
    SKIP LOCKED: there each row is taken by its own compare-and-swap.
    """
    if batch_size < 1:
        return []
    claim_id = uuid.uuid4()
    claimed: dict[str, Any] = {
        "status": PromptStatus.SENDING,
        "claim_id": claim_id,
        "lease_expires_at": now + lease,
        "sending_at": now,
        "attempts": F("attempts") + 1,
    }
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            ids = _lock_claimable(now=now, batch_size=batch_size)
            if ids:
                Prompt.objects.filter(pk__in=ids).update(**claimed)
        else:
            ids = _swap_claimable(now=now, batch_size=batch_size, claimed=claimed)
    return [(prompt_id, claim_id) for prompt_id in ids]


def _lock_claimable(*, now: datetime, batch_size: int) -> list[uuid.UUID]:
    lapsed = list(
        Prompt.objects.select_for_update(skip_locked=True)
        .filter(status=PromptStatus.SENDING, lease_expires_at__lt=now)
        .order_by("lease_expires_at")
        .values_list("id", flat=True)[:batch_size]
    )
    room = batch_size - len(lapsed)
    if room == 0:
        return lapsed
    # Ordered by due_at alone, the column of the partial index: the scan reads the index
    # in order and stops at the limit.
    due = list(
        Prompt.objects.select_for_update(skip_locked=True)
        .filter(status=PromptStatus.SCHEDULED, due_at__lte=now)
        .order_by("due_at")
        .values_list("id", flat=True)[:room]
    )
    return lapsed + due


def _swap_claimable(*, now: datetime, batch_size: int, claimed: dict[str, Any]) -> list[uuid.UUID]:
    candidates = list(
        Prompt.objects.filter(
            Q(status=PromptStatus.SCHEDULED, due_at__lte=now)
            | Q(status=PromptStatus.SENDING, lease_expires_at__lt=now)
        )
        .order_by("due_at")
        .values_list("id", "status", "claim_id", "lease_expires_at")[:batch_size]
    )
    ids = []
    for prompt_id, status, old_claim, old_lease in candidates:
        # The lease is part of the swap too: a live worker may have just renewed it.
        swapped = Prompt.objects.filter(
            pk=prompt_id, status=status, claim_id=old_claim, lease_expires_at=old_lease
        ).update(**claimed)
        if swapped == 1:
            ids.append(prompt_id)
    return ids


def prompts_dispatch(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> int:
    """Claim due prompts batch by batch and queue one delivery task per batch, each sent
    only after its claim has committed. Returns how many prompts were claimed.

    A batch costs a fixed number of queries whatever its size. `max_batches` bounds one
    run; what is left waits for the next beat tick (settings PROMPT_DISPATCH_BATCH_SIZE,
    PROMPT_DISPATCH_MAX_BATCHES, PROMPT_LEASE_SECONDS).
    """
    now = timezone.now() if now is None else now
    size = batch_size or _setting("PROMPT_DISPATCH_BATCH_SIZE", DEFAULT_BATCH_SIZE)
    batches = max_batches or _setting("PROMPT_DISPATCH_MAX_BATCHES", DEFAULT_MAX_BATCHES)
    lease = _seconds("PROMPT_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)
    total = 0
    for _ in range(batches):
        claims = prompts_claim_due(now=now, batch_size=size, lease=lease)
        if not claims:
            break
        transaction.on_commit(
            partial(_hand_off, [[str(prompt_id), str(claim_id)] for prompt_id, claim_id in claims])
        )
        total += len(claims)
        if len(claims) < size:
            break
    return total


def _hand_off(claims: list[list[str]]) -> None:
    current_app.send_task(DELIVER_TASK, args=[claims])


def prompts_deliver(*, claims: Sequence[Sequence[str]]) -> None:
    """Push the prompts still held under the given claims, one by one; skip the others
    (already sent, or claimed again by someone else). Safe to run twice with one message.
    """
    wanted = {uuid.UUID(str(prompt_id)): uuid.UUID(str(claim_id)) for prompt_id, claim_id in claims}
    if not wanted:
        return
    lease = _seconds("PROMPT_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)
    max_attempts = _setting("PROMPT_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)
    token = uuid.uuid4()
    prompts = _claims_take(wanted, token=token, lease=lease)
    if not prompts:
        return
    devices = _active_devices(prompt.patient_id for prompt in prompts)
    held = {prompt.id for prompt in prompts}
    renewed_at = time.monotonic()
    for index, prompt in enumerate(prompts):
        if time.monotonic() - renewed_at > lease.total_seconds() / 3:
            held = _claims_renew([p.id for p in prompts[index:]], token=token, lease=lease)
            renewed_at = time.monotonic()
        if prompt.id in held:
            _prompt_push(prompt, devices[prompt.patient_id], token=token, max_attempts=max_attempts)


def _claims_take(
    wanted: dict[uuid.UUID, uuid.UUID], *, token: uuid.UUID, lease: timedelta
) -> list[Prompt]:
    """Swap each given claim id for this run's own token and a fresh lease; return the
    prompts this run now holds, oldest due first. Rows another run or a later dispatch
    changed are left alone."""
    with transaction.atomic():
        rows = (
            Prompt.objects.select_for_update()
            .filter(pk__in=list(wanted))
            .only("id", "patient_id", "attempts", "due_at", "expires_at", "status", "claim_id")
        )
        held = [p for p in rows if p.status == PromptStatus.SENDING and p.claim_id == wanted[p.id]]
        if held:
            Prompt.objects.filter(pk__in=[p.id for p in held]).update(
                claim_id=token, lease_expires_at=timezone.now() + lease
            )
    return sorted(held, key=lambda prompt: prompt.due_at)


def _claims_renew(
    prompt_ids: list[uuid.UUID], *, token: uuid.UUID, lease: timedelta
) -> set[uuid.UUID]:
    with transaction.atomic():
        held = [
            prompt_id
            for prompt_id, (status, claim_id) in _lock(prompt_ids).items()
            if status == PromptStatus.SENDING and claim_id == token
        ]
        Prompt.objects.filter(pk__in=held).update(lease_expires_at=timezone.now() + lease)
    return set(held)


def _lock(prompt_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, uuid.UUID | None]]:
    """Lock prompts by primary key and read their status and claim, inside a transaction.

    The compare-and-swaps of delivery lock by primary key and compare in Python, rather than
    `filter(pk=..., status="sending", claim_id=...).update(...)`: given a status condition,
    PostgreSQL may prefer the partial index on `sending` rows, which statistics gathered in a
    quiet moment call nearly empty but which holds every claimed row during a backlog, and
    scan all of it for each prompt (seen in the benchmark: 4x slower at 100,000 prompts).
    """
    return {
        prompt_id: (status, claim_id)
        for prompt_id, status, claim_id in Prompt.objects.select_for_update()
        .filter(pk__in=prompt_ids)
        .values_list("id", "status", "claim_id")
    }


def _active_devices(patient_ids: Iterable[uuid.UUID]) -> defaultdict[uuid.UUID, list[Device]]:
    """Every active device of the batch's patients, in one query."""
    devices: defaultdict[uuid.UUID, list[Device]] = defaultdict(list)
    for device in Device.objects.filter(user_id__in=set(patient_ids), is_active=True).order_by(
        "created_at"
    ):
        devices[device.user_id].append(device)
    return devices


def retry_delay(*, attempts: int, retry_after: float | None = None) -> timedelta:
    """How long a prompt waits after its `attempts`-th claim ended in a transient failure."""
    base = _seconds("PROMPT_RETRY_BASE_SECONDS", DEFAULT_RETRY_BASE_SECONDS)
    cap = _seconds("PROMPT_RETRY_CAP_SECONDS", DEFAULT_RETRY_CAP_SECONDS)
    backoff = min(cap, base * (1 << min(max(attempts - 1, 0), 16)))
    asked = min(RETRY_AFTER_CAP, timedelta(seconds=max(retry_after or 0.0, 0.0)))
    return max(backoff, asked)


def _send(provider: Provider, device: Device, message: PushMessage) -> SendResult:
    try:
        return provider.send(device, message)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        # A provider bug must not strand the rest of the batch; the prompt is retried.
        logger.exception("push provider %s raised; counted as transient", provider.name)
        return SendResult(Outcome.TRANSIENT)


def _prompt_push(
    prompt: Prompt, devices: list[Device], *, token: uuid.UUID, max_attempts: int
) -> None:
    """Push one prompt to its patient's devices, then record it all in one transaction."""
    started = timezone.now()
    if prompt.expires_at <= started:
        # Too late to matter: it expires instead of arriving out of context.
        _prompt_finish(
            prompt,
            token=token,
            changes={
                "status": PromptStatus.EXPIRED,
                "expired_at": started,
                "lease_expires_at": None,
            },
            attempts=[],
            retired=[],
        )
        return
    attempts: list[DeliveryAttempt] = []
    retired: list[Device] = []
    results: list[SendResult] = []
    if prompt.attempts <= max_attempts:
        message = PushMessage(prompt_id=str(prompt.id))
        for device in devices:
            if not device.is_active:  # retired earlier in this batch
                continue
            provider = provider_for(device.platform)
            result = _send(provider, device, message)
            results.append(result)
            attempts.append(
                DeliveryAttempt(
                    prompt_id=prompt.id,
                    device=device,
                    provider=provider.name[:16],
                    outcome=DeliveryOutcome(result.outcome.value),
                    status_code=result.status_code,
                    attempted_at=timezone.now(),
                )
            )
            if result.outcome is Outcome.UNREGISTERED:
                device.is_active = False
                retired.append(device)
    # else: claimed again and again after its lease (its workers keep dying): give up.
    finished = timezone.now()
    sent: dict[str, Any] = {
        "status": PromptStatus.SENT,
        "sent_at": finished,
        "lease_expires_at": None,
        "last_error": "",
    }
    outcomes = {result.outcome for result in results}
    if prompt.attempts > max_attempts:
        changes = {**sent, "last_error": ERROR_FAILED}
    elif not results:
        # No device: the prompt waits in the app's inbox, which is the delivery.
        attempts.append(
            DeliveryAttempt(
                prompt_id=prompt.id,
                provider=NO_DEVICE_PROVIDER,
                outcome=DeliveryOutcome.NO_DEVICE,
                attempted_at=finished,
            )
        )
        changes = sent
    elif Outcome.DELIVERED in outcomes:
        changes = sent
    elif Outcome.TRANSIENT in outcomes and prompt.attempts < max_attempts:
        # Released, but left `sending` with a lease that lapses when the retry is due: the
        # dispatcher takes lapsed leases back, so the retry needs no ETA task, and the
        # prompt keeps its due time and its place in the inbox meanwhile.
        retry_after = max((result.retry_after or 0.0) for result in results)
        delay = retry_delay(attempts=prompt.attempts, retry_after=retry_after)
        changes = {
            "claim_id": None,
            "lease_expires_at": finished + delay,
            "last_error": ERROR_TRANSIENT,
        }
    else:
        # Dead tokens, permanent errors, or transient ones past the last attempt: the
        # inbox still has it.
        changes = {**sent, "last_error": ERROR_FAILED}
    _prompt_finish(prompt, token=token, changes=changes, attempts=attempts, retired=retired)


def _prompt_finish(
    prompt: Prompt,
    *,
    token: uuid.UUID,
    changes: dict[str, Any],
    attempts: list[DeliveryAttempt],
    retired: list[Device],
) -> None:
    now = timezone.now()
    with transaction.atomic():
        status, claim_id = _lock([prompt.id]).get(prompt.id, ("", None))
        if status == PromptStatus.SENDING and claim_id == token:
            Prompt.objects.filter(pk=prompt.id).update(**changes)
        # The attempts happened whether or not the claim still held: log them either way,
        # unless the prompt is gone (an erased account takes its prompts along).
        if status:
            DeliveryAttempt.objects.bulk_create(attempts)
        if retired:
            Device.objects.filter(pk__in=[device.pk for device in retired], is_active=True).update(
                is_active=False, retired_at=now, retired_reason="unregistered"
            )
    if status != PromptStatus.SENDING:
        # The patient opened, answered, skipped or snoozed it in the app meanwhile (or their
        # account was erased): theirs to decide.
        logger.info("prompt %s became %r during delivery; left so", prompt.id, status)
    elif claim_id != token:
        logger.warning(
            "prompt %s: claim taken back during delivery (lease passed); may arrive twice",
            prompt.id,
        )
    else:
        logger.debug("prompt %s: %s", prompt.id, changes)
