"""Delivery through real Celery worker processes, Redis and PostgreSQL: racing workers,
a worker SIGKILLed mid-batch, retries and dead tokens end to end."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from integration.delivery.dispatch import prompts_dispatch
from integration.models import DeliveryAttempt, Device, Prompt, PromptStatus
from tests.integration.counting_provider import delivered_counts, read_log
from tests.integration.delivery_data import make_device, make_prompts
from tests.integration.workers import Workers
from tests.processes import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def workers_for(tmp_path, **options) -> Workers:
    return Workers(database_name=connection.settings_dict["NAME"], directory=tmp_path, **options)


def unsent() -> int:
    return Prompt.objects.exclude(status=PromptStatus.SENT).count()


def dispatch_until_all_sent(*, timeout: float) -> None:
    """What beat does, every half second instead of every minute."""
    deadline = time.monotonic() + timeout
    while unsent():
        assert time.monotonic() < deadline, f"{unsent()} prompts still not sent"
        prompts_dispatch()
        time.sleep(0.5)


def test_two_workers_racing_over_the_same_due_prompts_push_each_exactly_once(tmp_path):
    prompts = make_prompts(1000, patients=50)

    with workers_for(tmp_path, settings={"PROMPT_DISPATCH_BATCH_SIZE": 50}) as workers:
        first, second = workers.start(2)
        # Four dispatch runs at once, two in each worker, claiming from the same rows.
        for _ in range(4):
            workers.send("afterglow.integration.dispatch")
        wait_for(lambda: unsent() == 0, timeout=30, what="every prompt sent")

    counts = delivered_counts(workers.push_log)
    assert set(counts) == {str(p.pk) for p in prompts}
    assert Counter(counts.values()) == {1: 1000}
    assert set(Prompt.objects.values_list("attempts", flat=True)) == {1}
    assert DeliveryAttempt.objects.count() == 1000
    # Both workers did part of the work.
    by_worker = Counter(push.parent for push in read_log(workers.push_log))
    assert set(by_worker) == {first.process.pid, second.process.pid}


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_only_its_unrecorded_batch(
    tmp_path, settings
):
    """SIGKILL a worker mid-batch, then let a fresh worker and the next dispatches finish.

    The kill comes right after pushes are logged, so it often lands in the one window the
    design leaves open (between the provider's answers and the write that records them). A
    batch's pushes go out together and answer together, so what a killed pool child can
    leave unrecorded is its batch in hand. The test counts pushes outside the database (the
    provider's log survives the kill) and asserts the exact guarantee: nothing lost; one
    recorded delivery per prompt; and a prompt pushed twice only when the killed worker had
    pushed it without recording it, at most one batch per pool child.
    """
    settings.PROMPT_LEASE_SECONDS = 3
    settings.PROMPT_DISPATCH_BATCH_SIZE = 20
    prompts = make_prompts(300, patients=30)
    options = {"settings": {"PROMPT_LEASE_SECONDS": 3}, "push_delay": 0.02}

    with workers_for(tmp_path, **options) as workers:
        (victim,) = workers.start(1, concurrency=2)
        assert prompts_dispatch() == 300  # 15 batches queued
        wait_for(lambda: len(read_log(workers.push_log)) >= 60, timeout=20, what="some pushes")
        victim.kill()
        killed_at = time.monotonic()
        pushed_before_kill = len(read_log(workers.push_log))
        assert pushed_before_kill < 300
        assert Prompt.objects.filter(status=PromptStatus.SENDING).exists()

        workers.start(1)
        dispatch_until_all_sent(timeout=25)
        recovered_after = time.monotonic() - killed_at

    pushes = read_log(workers.push_log)
    pushed = Counter(push.prompt_id for push in pushes)
    recorded = Counter(
        str(prompt_id)
        for prompt_id in DeliveryAttempt.objects.filter(outcome="delivered").values_list(
            "prompt_id", flat=True
        )
    )
    everything = {str(p.pk) for p in prompts}
    # Nothing lost: every prompt pushed and sent.
    assert set(pushed) == everything
    assert unsent() == 0
    # The service's own record is exactly once.
    assert recorded == dict.fromkeys(everything, 1)
    # Pushed without a record: only by the killed worker's two pool children, at most a
    # batch each; exactly those prompts were pushed a second time, every other one once.
    victim_children = {push.pid for push in pushes if push.parent == victim.process.pid}
    unrecorded = {prompt_id for prompt_id in everything if pushed[prompt_id] > recorded[prompt_id]}
    first_pushers = Counter(
        next(push for push in pushes if push.prompt_id == prompt_id).pid for prompt_id in unrecorded
    )
    assert set(first_pushers) <= victim_children
    assert max(first_pushers.values(), default=0) <= settings.PROMPT_DISPATCH_BATCH_SIZE
    assert {p for p, n in pushed.items() if n > 1} == unrecorded
    assert max(pushed.values()) <= 2
    print(
        f"\nkilled after {pushed_before_kill} of 300 pushes; all sent "
        f"{recovered_after:.1f} s after the kill; pushed twice (killed between push and "
        f"record): {len(unrecorded)}"
    )


def test_retries_dead_tokens_and_no_device_end_to_end(tmp_path, settings):
    settings.PROMPT_RETRY_BASE_SECONDS = 1
    flaky, dead, none, fine = (
        make_prompts(1, patients=1, tokens=tokens)[0]
        for tokens in [("transient:2",), ("unregistered",), (), ("ok",)]
    )
    spare = make_device(dead.patient, "ok")  # the dead token's patient has a working one too

    with workers_for(tmp_path, settings={"PROMPT_RETRY_BASE_SECONDS": 1}) as workers:
        workers.start(1)
        dispatch_until_all_sent(timeout=20)

    counts = delivered_counts(workers.push_log)
    assert counts == {str(p.pk): 1 for p in (flaky, dead, fine)}

    flaky.refresh_from_db()
    assert (flaky.attempts, flaky.last_error) == (3, "")
    tries = list(DeliveryAttempt.objects.filter(prompt=flaky).order_by("attempted_at"))
    assert [a.outcome for a in tries] == ["transient", "transient", "delivered"]
    gaps = [
        later.attempted_at - earlier.attempted_at for earlier, later in itertools.pairwise(tries)
    ]
    assert gaps[0] >= timedelta(seconds=1)  # base
    assert gaps[1] >= timedelta(seconds=2)  # doubled

    retired = Device.objects.get(user=dead.patient, token="unregistered")
    assert (retired.is_active, retired.retired_reason) == (False, "unregistered")
    assert Device.objects.get(pk=spare.pk).is_active

    attempt = DeliveryAttempt.objects.get(prompt=none)
    assert (attempt.outcome, attempt.device_id) == ("no_device", None)
    assert Prompt.objects.get(pk=none.pk).status == PromptStatus.SENT
    fine.refresh_from_db()
    assert fine.sent_at is not None
    assert timezone.now() - fine.sent_at < timedelta(seconds=30)
