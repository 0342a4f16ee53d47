"""Re-planning and a prompt waiting to retry its push: `sending`, released by its last
claim after a transient provider error, its lease lapsing when the retry is due. It has not
reached the patient, so planning treats it as scheduled; one held under a live lease is
the dispatcher's and planning leaves it alone."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from integration.delivery.dispatch import prompts_claim_due
from integration.models import Prompt, PromptStatus
from integration.prompts.planning import prompts_sync_for_session
from tests.integration.conftest import NOW
from tests.integration.factories import prompts_of
from tests.integration.prompts.helpers import MONDAY, dosing, update

pytestmark = pytest.mark.usefixtures("frozen_now")

D = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)


def in_flight(session, *, claim_id: uuid.UUID | None, lease: dt.timedelta) -> Prompt:
    """The session's intention prompt, due ten minutes ago and now `sending`: released to
    wait for a retry (no claim id) or held by a worker (a claim id), its lease ending after
    `lease`."""
    prompt = prompts_of(session)["set-intention"]
    Prompt.objects.filter(pk=prompt.pk).update(
        status=PromptStatus.SENDING,
        due_at=NOW - 10 * MINUTE,
        sending_at=NOW - 9 * MINUTE,
        claim_id=claim_id,
        lease_expires_at=NOW + lease,
        attempts=1,
        last_error="push_transient",
    )
    prompt.refresh_from_db()
    return prompt


def test_cancelling_a_session_cancels_its_prompt_waiting_to_retry(patient) -> None:
    session = dosing(patient, MONDAY)
    waiting = in_flight(session, claim_id=None, lease=5 * MINUTE)

    update(patient, session, status="cancelled")

    waiting.refresh_from_db()
    assert (waiting.status, waiting.cancelled_at) == (PromptStatus.CANCELLED, NOW)
    assert waiting.change > 0  # the sync feed hears of it
    # Its retry time comes and the dispatcher has nothing to push.
    assert prompts_claim_due(now=NOW + 10 * MINUTE, batch_size=50, lease=2 * MINUTE) == []


def test_a_retry_whose_lease_lapsed_under_a_dead_claim_is_cancelled_too(patient) -> None:
    session = dosing(patient, MONDAY)
    lapsed = in_flight(session, claim_id=uuid.uuid4(), lease=-MINUTE)

    update(patient, session, status="cancelled")

    lapsed.refresh_from_db()
    assert lapsed.status == PromptStatus.CANCELLED


def test_cancelling_leaves_a_prompt_held_under_a_live_lease_alone(patient) -> None:
    session = dosing(patient, MONDAY)
    claim_id = uuid.uuid4()
    held = in_flight(session, claim_id=claim_id, lease=2 * MINUTE)

    update(patient, session, status="cancelled")

    held.refresh_from_db()
    assert (held.status, held.claim_id, held.cancelled_at) == (PromptStatus.SENDING, claim_id, None)
    others = [p for slug, p in prompts_of(session).items() if slug != "set-intention"]
    assert {p.status for p in others} == {PromptStatus.CANCELLED}


def test_moving_a_session_moves_its_prompt_waiting_to_retry_back_to_scheduled(patient) -> None:
    session = dosing(patient, MONDAY)
    waiting = in_flight(session, claim_id=None, lease=5 * MINUTE)

    update(patient, session, scheduled_start=MONDAY + D)

    waiting.refresh_from_db()
    assert waiting.status == PromptStatus.SCHEDULED
    assert waiting.nominal_at == MONDAY + D - 3 * D
    assert waiting.due_at > NOW
    assert (waiting.claim_id, waiting.lease_expires_at, waiting.attempts) == (None, None, 0)


def test_a_re_plan_without_a_move_leaves_a_prompt_waiting_to_retry_as_it_is(patient) -> None:
    session = dosing(patient, MONDAY)
    waiting = in_flight(session, claim_id=None, lease=5 * MINUTE)

    prompts_sync_for_session(session=session)

    after = Prompt.objects.get(pk=waiting.pk)
    assert (after.status, after.lease_expires_at, after.change) == (
        PromptStatus.SENDING,
        waiting.lease_expires_at,
        waiting.change,
    )
