"""What became of each prompt of a batch, and writing it down.

A prompt's outcome is decided once every push to its devices has answered
(`prompt_outcome`); outcomes are written together (`outcomes_write`), in one transaction of
a fixed number of statements whatever their number: the patients' change counters locked
and advanced (a sent or expired prompt is a change the apps sync; one counter update per
patient, all in one statement), the rows locked by primary key, one UPDATE for every
prompt still held, one INSERT of the delivery log, one UPDATE retiring dead devices. On
PostgreSQL the UPDATE is written by hand (`unnest` of one array per column): the ORM's
`bulk_update` would build a CASE per column and row, which costs more to compile than the
pushes it records (docs/architecture.md, "Hand-written statements").
SQLite (`make run`) updates row by row.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from backend import sql
from backend.sql import quoted
from integration.changes import prompt_changes_take
from integration.delivery.sending import Answer
from integration.models import (
    DeliveryAttempt,
    DeliveryOutcome,
    Device,
    Prompt,
    PromptDelivery,
    PromptStatus,
)
from integration.providers.base import Outcome
from journal.records import changes_lock

logger = logging.getLogger("integration.delivery")

DEFAULT_RETRY_BASE_SECONDS = 60
DEFAULT_RETRY_CAP_SECONDS = 30 * 60
# A Retry-After is honoured up to this (a bad header cannot park a prompt for a year).
RETRY_AFTER_CAP = timedelta(hours=6)

NO_DEVICE_PROVIDER = "inbox"
ERROR_TRANSIENT = "push_transient"
ERROR_FAILED = "push_failed"


def _seconds(name: str, default: float) -> timedelta:
    return timedelta(seconds=float(getattr(settings, name, default)))


def retry_delay(*, attempts: int, retry_after: float | None = None) -> timedelta:
    """How long a prompt waits after its `attempts`-th claim ended in a transient failure:
    base * 2**(attempts - 1), at most the cap, and at least what the provider asked for in
    Retry-After (settings PROMPT_RETRY_BASE_SECONDS and PROMPT_RETRY_CAP_SECONDS)."""
    base = _seconds("PROMPT_RETRY_BASE_SECONDS", DEFAULT_RETRY_BASE_SECONDS)
    cap = _seconds("PROMPT_RETRY_CAP_SECONDS", DEFAULT_RETRY_CAP_SECONDS)
    backoff = min(cap, base * (1 << min(max(attempts - 1, 0), 16)))
    return max(backoff, _asked(retry_after))


def _asked(retry_after: float | None) -> timedelta:
    return min(RETRY_AFTER_CAP, timedelta(seconds=max(retry_after or 0.0, 0.0)))


@dataclass
class Finished:
    """A prompt's new state, and what its delivery left to log and to retire."""

    prompt: Prompt
    status: str
    last_error: str | None = ""  # None: keep the stored one
    lease_expires_at: datetime | None = None
    sent_at: datetime | None = None
    expired_at: datetime | None = None
    delivered_via: str = ""
    # 1 when this claim made no request at all (every push was turned away by a provider
    # that asked us to wait): it does not count against PROMPT_MAX_ATTEMPTS.
    refund: int = 0
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    retired: set[uuid.UUID] = field(default_factory=set)


def prompt_expired(prompt: Prompt, *, now: datetime) -> Finished:
    """Too late to matter: it expires instead of arriving out of context."""
    return Finished(prompt, PromptStatus.EXPIRED, expired_at=now, last_error=None)


def prompt_given_up(prompt: Prompt, *, now: datetime) -> Finished:
    """Claimed again and again after its lease (its workers keep dying): no more pushes."""
    return _sent(prompt, now, via=PromptDelivery.INBOX, error=ERROR_FAILED)


def _sent(prompt: Prompt, now: datetime, *, via: str, error: str = "") -> Finished:
    return Finished(prompt, PromptStatus.SENT, last_error=error, sent_at=now, delivered_via=via)


def prompt_outcome(
    prompt: Prompt, answers: Sequence[Answer], *, max_attempts: int, now: datetime
) -> Finished:
    """The outcome of a prompt once every push to its devices has answered."""
    sent = [answer for answer in answers if answer.result.was_sent]
    if not answers:
        # No device: the prompt waits in the app's inbox, which is the delivery.
        finished = _sent(prompt, now, via=PromptDelivery.INBOX)
        finished.attempts.append(
            DeliveryAttempt(
                prompt_id=prompt.id,
                provider=NO_DEVICE_PROVIDER,
                outcome=DeliveryOutcome.NO_DEVICE,
                attempted_at=now,
            )
        )
        return finished
    outcomes = {answer.result.outcome for answer in answers}
    if Outcome.DELIVERED in outcomes:
        finished = _sent(prompt, now, via=PromptDelivery.PUSH)
    elif Outcome.TRANSIENT in outcomes and (
        prompt.attempts < max_attempts or not sent  # turned away: not an attempt
    ):
        finished = _retry(prompt, answers, sent, now)
    else:
        # Dead tokens, permanent errors, or transient ones past the last attempt: the
        # inbox still has it.
        finished = _sent(prompt, now, via=PromptDelivery.INBOX, error=ERROR_FAILED)
    for answer in sent:
        device = answer.push.device
        finished.attempts.append(
            DeliveryAttempt(
                prompt_id=prompt.id,
                device=device,
                provider=answer.push.provider.name[:16],
                outcome=DeliveryOutcome(answer.result.outcome.value),
                status_code=answer.result.status_code,
                attempted_at=answer.answered_at,
            )
        )
        if answer.result.outcome is Outcome.UNREGISTERED:
            finished.retired.add(device.pk)
    return finished


def _retry(
    prompt: Prompt, answers: Sequence[Answer], sent: Sequence[Answer], now: datetime
) -> Finished:
    """Released, but left `sending` with a lease that lapses when the retry is due: the
    dispatcher takes lapsed leases back, so the retry needs no ETA task, and the prompt
    keeps its due time and its place in the inbox meanwhile."""
    asked = max((answer.result.retry_after or 0.0) for answer in answers)
    # When nothing went out, the wait is only what the provider asked for.
    delay = retry_delay(attempts=prompt.attempts, retry_after=asked) if sent else _asked(asked)
    return Finished(
        prompt,
        PromptStatus.SENDING,
        last_error=ERROR_TRANSIENT,
        lease_expires_at=now + delay,
        refund=0 if sent else 1,
    )


def prompts_lock(prompt_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[str, uuid.UUID | None]]:
    """Lock prompts by primary key and read their status and claim, inside a transaction.

    The compare-and-swaps of delivery lock by primary key and compare in Python, rather than
    `filter(pk=..., status="sending", claim_id=...).update(...)`: given a status condition,
    PostgreSQL may prefer the partial index on `sending` rows, which statistics gathered in a
    quiet moment call nearly empty but which holds every claimed row during a backlog, and
    scan all of it for each prompt (seen in the benchmark: 4x slower at 100,000 prompts).
    On PostgreSQL the ids go as one array (`= ANY`), written by hand: the ORM's IN list
    binds and quotes each of a batch's 200 ids in Python.
    """
    if sql.is_available():
        table = connection.ops.quote_name(Prompt._meta.db_table)
        statement = (
            f"SELECT {quoted(Prompt, 'id')}, {quoted(Prompt, 'status')}, "  # noqa: S608 (names only)
            f"{quoted(Prompt, 'claim_id')} FROM {table} "
            f"WHERE {quoted(Prompt, 'id')} = ANY(%s::uuid[]) FOR UPDATE"
        )
        with connection.cursor() as cursor:
            cursor.execute(statement, [list(prompt_ids)])
            return {prompt_id: (status, claim_id) for prompt_id, status, claim_id in cursor}
    return {
        prompt_id: (status, claim_id)
        for prompt_id, status, claim_id in Prompt.objects.select_for_update()
        .filter(pk__in=list(prompt_ids))
        .values_list("id", "status", "claim_id")
    }


def outcomes_write(finished: Sequence[Finished], *, token: uuid.UUID, now: datetime) -> None:
    """Write the outcomes of prompts held under `token`, in one transaction. A prompt no
    longer held (the patient acted on it, a later claim took it, it was erased) keeps its
    state; the attempts happened all the same and are logged, unless the prompt is gone."""
    if not finished:
        return
    with transaction.atomic():
        # Counters before rows, the order of every writer of a patient: a sent or expired
        # prompt is a change its apps sync; a retry (still `sending`) is not.
        shown = [item for item in finished if item.status != PromptStatus.SENDING]
        counters = changes_lock(item.prompt.patient_id for item in shown)
        found = prompts_lock([item.prompt.id for item in finished])
        held = [
            item for item in finished if found.get(item.prompt.id) == (PromptStatus.SENDING, token)
        ]
        if held:
            numbers = prompt_changes_take(
                (
                    (item.prompt.id, item.prompt.patient_id)
                    for item in held
                    if item.status != PromptStatus.SENDING
                ),
                locked=counters,
            )
            _update(held, numbers)
        attempts = [a for item in finished if item.prompt.id in found for a in item.attempts]
        if attempts:
            DeliveryAttempt.objects.bulk_create(attempts)
        retired = {pk for item in finished for pk in item.retired}
        if retired:
            Device.objects.filter(pk__in=retired, is_active=True).update(
                is_active=False, retired_at=now, retired_reason="unregistered"
            )
    for item in finished:
        status, claim_id = found.get(item.prompt.id, ("", None))
        if status != PromptStatus.SENDING:
            # The patient opened, answered, skipped or snoozed it in the app meanwhile (or
            # their account was erased): theirs to decide.
            logger.info("prompt %s became %r during delivery; left so", item.prompt.id, status)
        elif claim_id != token:
            logger.warning(
                "prompt %s: claim taken back during delivery (lease passed); may arrive twice",
                item.prompt.id,
            )


def _update(held: Sequence[Finished], numbers: dict[uuid.UUID, int]) -> None:
    if sql.is_available():
        with connection.cursor() as cursor:
            cursor.execute(
                _update_statement(),
                [
                    [item.prompt.id for item in held],
                    [item.status for item in held],
                    [item.sent_at for item in held],
                    [item.expired_at for item in held],
                    [item.lease_expires_at for item in held],
                    [item.last_error for item in held],
                    [item.delivered_via for item in held],
                    [item.refund for item in held],
                    [numbers.get(item.prompt.id) for item in held],
                ],
            )
        return
    for item in held:
        changes: dict[str, Any] = {
            "status": item.status,
            "claim_id": None,
            "lease_expires_at": item.lease_expires_at,
            "attempts": F("attempts") - item.refund,
        }
        optional = {
            "last_error": item.last_error,
            "sent_at": item.sent_at,
            "expired_at": item.expired_at,
            "delivered_via": item.delivered_via or None,
            "change": numbers.get(item.prompt.id),
        }
        changes.update({name: value for name, value in optional.items() if value is not None})
        Prompt.objects.filter(pk=item.prompt.id).update(**changes)


@cache
def _update_statement() -> str:
    """One UPDATE for a whole write: each column's new values as an array, in row order.
    A value left NULL (a retry has no sent_at) keeps the stored one; the claim is released in
    every case (a sent prompt is done with it, a retry is claimed afresh). A retry keeps
    its change number: only what the app sees takes a new one."""
    table = connection.ops.quote_name(Prompt._meta.db_table)

    def column(name: str) -> str:
        return quoted(Prompt, name)

    return f"""
        UPDATE {table} AS p SET
            {column("status")} = v.status,
            {column("sent_at")} = COALESCE(v.sent_at, p.{column("sent_at")}),
            {column("expired_at")} = COALESCE(v.expired_at, p.{column("expired_at")}),
            {column("claim_id")} = NULL,
            {column("lease_expires_at")} = v.lease_expires_at,
            {column("last_error")} = COALESCE(v.last_error, p.{column("last_error")}),
            {column("delivered_via")} = COALESCE(
                NULLIF(v.delivered_via, ''), p.{column("delivered_via")}
            ),
            {column("attempts")} = p.{column("attempts")} - v.refund,
            {column("change")} = COALESCE(v.change, p.{column("change")})
        FROM unnest(
            %s::uuid[], %s::varchar[], %s::timestamptz[], %s::timestamptz[],
            %s::timestamptz[], %s::varchar[], %s::varchar[], %s::int[], %s::bigint[]
        ) AS v(id, status, sent_at, expired_at, lease_expires_at, last_error, delivered_via,
               refund, change)
        WHERE p.{column("id")} = v.id
    """  # noqa: S608 (names from the model, never input)
