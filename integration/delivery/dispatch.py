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
   lease, compare-and-swap on the claim id it was given) and sends the whole batch's
   pushes at once on the process's push loop (`sending.py`: many streams over one
   HTTP/2 connection per provider, bounded in flight). As each prompt's last push answers
   its outcome is decided (`outcomes.py`), and outcomes are written together: when the
   batch has answered, or PROMPT_RECORD_INTERVAL_SECONDS after the first outcome not yet
   written, each write a fixed number of statements, a compare-and-swap on (status,
   claim id) that locks the rows by primary key and compares in Python
   (`outcomes.prompts_lock` says why). After a transient provider error the prompt stays
   `sending`, released, with a lease that lapses after an exponential backoff (or after
   the provider's Retry-After), so a later dispatch claims it again, up to
   PROMPT_MAX_ATTEMPTS claims; a dead token retires the device; a patient without a device
   that took the push finds the prompt in the app's inbox (`delivered_via` "inbox"); a
   prompt past its expiry is expired rather than pushed.

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
- The window that remains lies between a provider accepting a push and the commit that
  records it. A worker killed there has pushed without recording, and those prompts are
  pushed again once the lease passes: at most the batch in hand (its pushes in flight,
  whose fate nobody can know, and its answers not yet written, at most
  PROMPT_RECORD_INTERVAL_SECONDS' worth). Closing it needs an idempotency key at the
  provider, which FCM and APNs do not offer. Every provider sets the prompt id as its
  collapse key (APNs `apns-collapse-id`, an FCM notification `tag`, a Web Push `Topic`),
  so such a repeat replaces the first notification on the device instead of showing
  twice. The inbox never depends on the push at all.
- A provider's back-pressure (429 with Retry-After, FCM's QUOTA_EXCEEDED), a GOAWAY or a
  reset stream costs only the pushes it touched: their prompts retry later, the rest of
  the batch goes on. A push a provider turned away without a request (it had asked the
  process to wait) is not an attempt.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from integration.delivery.outcomes import (
    Finished,
    outcomes_write,
    prompt_expired,
    prompt_given_up,
    prompt_outcome,
    prompts_lock,
)
from integration.delivery.selectors import signed_in
from integration.delivery.sending import Answer, Push, Sending
from integration.models import Device, Prompt, PromptStatus, PushPermission, answerable
from integration.providers.base import PushMessage, provider_for

logger = logging.getLogger("integration.delivery")  # named before the split: log filters use it

# Stored in broker messages: never rename (see worker/tasks.py).
DELIVER_TASK = "afterglow.integration.deliver_prompts"

# Two waves of a provider's 200 pushes in flight: a batch's fixed costs (the claim, the
# devices, the last answer's wait and the last write) spread over more pushes.
DEFAULT_BATCH_SIZE = 400
DEFAULT_MAX_BATCHES = 50
DEFAULT_LEASE_SECONDS = 120
DEFAULT_MAX_ATTEMPTS = 5
# Outcomes wait at most this long for the rest of their batch before they are written: the
# longer, the fewer writes for a slow batch; the shorter, the fewer pushes a worker killed
# mid-batch repeats.
DEFAULT_RECORD_INTERVAL_SECONDS = 0.25

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
    """Push the prompts still held under the given claims, all at once; skip the others
    (already sent, or claimed again by someone else). Safe to run twice with one message.
    """
    wanted = {uuid.UUID(str(prompt_id)): uuid.UUID(str(claim_id)) for prompt_id, claim_id in claims}
    if not wanted:
        return
    lease = _seconds("PROMPT_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)
    token = uuid.uuid4()
    prompts = _claims_take(wanted, token=token, lease=lease)
    if prompts:
        _Batch(prompts, token=token, lease=lease).deliver()


class _Batch:
    """One batch on its way: its pushes in flight on the push loop, its outcomes decided as
    each prompt's last push answers and written together, its claims renewed meanwhile."""

    def __init__(self, prompts: list[Prompt], *, token: uuid.UUID, lease: timedelta) -> None:
        self.prompts = {prompt.id: prompt for prompt in prompts}
        self.token = token
        self.lease = lease
        self.max_attempts = _setting("PROMPT_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)
        self.record_interval = float(
            getattr(settings, "PROMPT_RECORD_INTERVAL_SECONDS", DEFAULT_RECORD_INTERVAL_SECONDS)
        )
        self.waiting: dict[uuid.UUID, list[Answer]] = {}  # prompt id -> answers so far
        self.pushes: Counter[uuid.UUID] = Counter()  # prompt id -> pushes sent
        self.ready: list[Finished] = []
        self.ready_since = 0.0
        self.unwritten = set(self.prompts)

    def deliver(self) -> None:
        sending = Sending(self._pushes(timezone.now()))
        try:
            self._follow(sending)
        except SoftTimeLimitExceeded:
            # What has been pushed is recorded, so that it is not pushed again.
            self._write()
            raise
        finally:
            sending.cancel()

    def _pushes(self, now: datetime) -> list[Push]:
        patients = {prompt.patient_id for prompt in self.prompts.values()}
        devices = _active_devices(patients, now=now)
        badges = inbox_counts(patients, now=now)
        # The batch's prompts count as on their way, but for those it expires below.
        expiring = Counter(p.patient_id for p in self.prompts.values() if p.expires_at <= now)
        pushes = []
        for prompt in self.prompts.values():
            if prompt.expires_at <= now:
                self._decided(prompt_expired(prompt, now=now))
            elif prompt.attempts > self.max_attempts:
                self._decided(prompt_given_up(prompt, now=now))
            elif not devices[prompt.patient_id]:
                self._decided(prompt_outcome(prompt, [], max_attempts=self.max_attempts, now=now))
            else:
                badge = badges.get(prompt.patient_id, 0) - expiring[prompt.patient_id]
                message = PushMessage(
                    prompt_id=str(prompt.id), badge=badge, expires_at=prompt.expires_at
                )
                self.waiting[prompt.id] = []
                for device in devices[prompt.patient_id]:
                    provider = provider_for(device.platform)
                    pushes.append(Push(prompt.id, device, provider, message))
                    self.pushes[prompt.id] += 1
        return pushes

    def _follow(self, sending: Sending) -> None:
        renew_every = self.lease.total_seconds() / 3
        renewed_at = time.monotonic()
        while self.waiting or self.ready:
            now = time.monotonic()
            if self.ready and (not self.waiting or now - self.ready_since >= self.record_interval):
                self._write()
                continue
            if now - renewed_at >= renew_every:
                # A live batch keeps its claims whatever its length.
                _claims_renew(list(self.unwritten), token=self.token, lease=self.lease)
                renewed_at = now
            timeout = renewed_at + renew_every - now
            if self.ready:
                timeout = min(timeout, self.ready_since + self.record_interval - now)
            for answer in sending.answers(timeout=timeout):
                answers = self.waiting[answer.push.prompt_id]
                answers.append(answer)
                if len(answers) == self.pushes[answer.push.prompt_id]:
                    del self.waiting[answer.push.prompt_id]
                    prompt = self.prompts[answer.push.prompt_id]
                    self._decided(
                        prompt_outcome(
                            prompt, answers, max_attempts=self.max_attempts, now=timezone.now()
                        )
                    )

    def _decided(self, finished: Finished) -> None:
        if not self.ready:
            self.ready_since = time.monotonic()
        self.ready.append(finished)

    def _write(self) -> None:
        outcomes_write(self.ready, token=self.token, now=timezone.now())
        self.unwritten.difference_update(item.prompt.id for item in self.ready)
        self.ready = []


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
            for prompt_id, (status, claim_id) in prompts_lock(prompt_ids).items()
            if status == PromptStatus.SENDING and claim_id == token
        ]
        Prompt.objects.filter(pk__in=held).update(lease_expires_at=timezone.now() + lease)
    return set(held)


def inbox_counts(patient_ids: Iterable[uuid.UUID], *, now: datetime) -> dict[uuid.UUID, int]:
    """Each patient's inbox count (the app's badge), in one query for the batch. The
    batch's own prompts count: they are on their way."""
    rows = (
        Prompt.objects.filter(answerable(now), patient_id__in=set(patient_ids))
        .values_list("patient_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    return dict(rows)


def _active_devices(
    patient_ids: Iterable[uuid.UUID], *, now: datetime
) -> defaultdict[uuid.UUID, list[Device]]:
    """Every active device of the batch's patients that may show a push, in one query. A
    device whose notifications are refused gets none: its app reminds from the synced due
    times (a patient with no other device finds the prompt in the inbox, `inbox`); nor
    does one whose sign-in expired (`selectors.signed_in`)."""
    devices: defaultdict[uuid.UUID, list[Device]] = defaultdict(list)
    for device in (
        Device.objects.filter(signed_in(now), user_id__in=set(patient_ids), is_active=True)
        .exclude(push_permission=PushPermission.REFUSED)
        .order_by("created_at")
    ):
        devices[device.user_id].append(device)
    return devices
