"""Benchmark: prompt dispatch (integration/delivery.py) against what it must not become.

    python -m tests.bench.dispatch_bench      (make bench runs it after the journal one)

On a fresh PostgreSQL database (afterglow_bench_dispatch) and a Redis server of its own
(started on a free port by tests/integration/workers.py, like the delivery tests):

(a) Claim and hand off one batch of 200 due prompts (the claim transaction, then the
    task message to Redis), with 10,000 and with 1,000,000 prompts scheduled for later in
    the table. Goal: the large table costs at most 1.5x the small one.
(b) Throughput of 100,000 due prompts to the no-op provider:
    - in process: claim a batch, deliver it with `prompts_deliver`, repeat (no broker, one
      process): the cost of the service code and its SQL alone, on a 10,000 sample;
    - the real path: `prompts_dispatch` claims every batch and sends it to Redis, a real
      worker (prefork, concurrency 2) delivers; timed until every prompt is `sent`;
    - the naive twin: one Celery task per prompt sent with a countdown (an ETA task), the
      worker sending one push and marking it sent. It runs on a 2,000-prompt sample (it is
      linear: one message and one task per prompt). Goal: the real path >= 10x it.
Every variant pushes through the same no-op provider and does the same rows' worth of
writes per prompt (an attempt row and a status update). Each figure is the median of
rounds (tests/bench/rounds.py); in (b) a round runs each variant once, the real path and
the naive twin taking turns to go first.

Where the time went (cProfile of the in-process path, 4,000 prompts): before, a prompt's
record was its own transaction of three statements (lock, update, attempt) committed
after its push; `_prompt_finish` was 92% of the time, nearly all of it waiting on
PostgreSQL round trips (12,129 statements), at 329 prompts/s. Now a batch's record is a
fixed number of statements (about 9 a batch of 200: 189 for 4,000) and the same run does
about 2,000 prompts/s (docs/operations.md has the profile's top lines).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import shared_task

from tests.bench import database
from tests.bench.database import sql
from tests.bench.rounds import figure, goal, in_turn, quiet_logs, rounds_argument

BENCH_DATABASE = os.environ.get("AFTERGLOW_BENCH_DISPATCH_DATABASE", "afterglow_bench_dispatch")
NOOP = "integration.providers.noop.NoopProvider"
NAIVE_TASK = "afterglow.bench.naive_deliver_one"


@shared_task(name=NAIVE_TASK)
def naive_deliver_one(prompt_id: str) -> None:
    """The naive twin: one task per prompt, queued with a countdown when it was scheduled."""
    from django.db import transaction
    from django.utils import timezone

    from integration.models import DeliveryAttempt, Device, Prompt
    from integration.providers.base import PushMessage, provider_for, send_now

    if not Prompt.objects.filter(pk=prompt_id, status="scheduled").update(status="sending"):
        return
    prompt = Prompt.objects.only("id", "patient_id").get(pk=prompt_id)
    attempts = []
    for device in Device.objects.filter(user_id=prompt.patient_id, is_active=True):
        provider = provider_for(device.platform)
        result = send_now(provider, device, PushMessage(prompt_id=prompt_id))
        attempts.append(
            DeliveryAttempt(
                prompt_id=prompt.pk, device=device, provider=provider.name, outcome="delivered"
            )
        )
        assert result.outcome.value == "delivered"
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(attempts)
        Prompt.objects.filter(pk=prompt_id).update(status="sent", sent_at=timezone.now())


def setup_django() -> None:
    database.setup_django(BENCH_DATABASE)
    from django.conf import settings

    settings.PUSH_PROVIDERS = {"default": NOOP}
    from integration.providers.base import provider_for

    provider_for.cache_clear()


def add_prompts(count: int, patients: list[Any], *, due: bool) -> None:
    from django.utils import timezone

    from tests.integration.delivery_data import insert_prompts

    now = timezone.now()
    if due:  # all due within the last hour
        start, spacing = now - timedelta(hours=1), timedelta(seconds=3600 / (count + 1))
    else:  # spread over the coming weeks
        start, spacing = now + timedelta(hours=1), timedelta(seconds=5)
    insert_prompts(count=count, patients=patients, due_from=start, spacing=spacing)


def reset_prompts() -> None:
    sql("TRUNCATE integration_deliveryattempt, integration_prompt CASCADE")


def unsent() -> int:
    from integration.models import Prompt

    return Prompt.objects.exclude(status="sent").count()


def wait_all_sent(total: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while unsent():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up: {unsent()} of {total} prompts not sent after {timeout} s")
        time.sleep(0.2)


def claim_one_batch() -> float:
    from integration.delivery.dispatch import prompts_dispatch

    started = time.perf_counter()
    # One batch: the claim transaction, then (autocommit: at once) the message to Redis.
    claimed = prompts_dispatch(batch_size=200, max_batches=1)
    elapsed = time.perf_counter() - started
    assert claimed == 200, claimed
    return elapsed


def bench_claim_scaling(
    patients: list[Any], *, small: int, large: int, rounds: int, per_round: int
) -> bool:
    """The small table is a copy in schema `small` (same columns and indexes); claims
    alternate between the two tables through `search_path`, so that load from anything
    else on the machine hits both alike. Each round takes `per_round` claims from each;
    its ratio is the ratio of their medians."""
    print(f"(a) claim + hand off one batch of 200 due prompts, {per_round} of each a round")
    started = time.perf_counter()
    claims = 2 * (rounds * per_round + 3)  # a batch each, and three of each to warm up
    add_prompts(small, patients, due=False)
    add_prompts(200 * claims, patients, due=True)
    sql("CREATE SCHEMA small")
    sql("CREATE TABLE small.integration_prompt (LIKE public.integration_prompt INCLUDING ALL)")
    sql("INSERT INTO small.integration_prompt SELECT * FROM public.integration_prompt")
    add_prompts(large - small, patients, due=False)
    sql("VACUUM ANALYZE public.integration_prompt")
    sql("VACUUM ANALYZE small.integration_prompt")
    filled = time.perf_counter() - started
    tables = {small: "small, public", large: "public"}

    def one(future: int) -> float:
        sql(f"SET search_path TO {tables[future]}")
        return claim_one_batch()

    for _ in range(3):  # warm up (and open the Redis connection)
        one(small), one(large)
    times: dict[int, list[float]] = {small: [], large: []}
    ratios = []
    for index in range(rounds):
        taken = len(times[small])
        for repetition in range(per_round):
            in_turn(
                index + repetition,
                lambda: times[small].append(one(small)),
                lambda: times[large].append(one(large)),
            )
        ratios.append(
            statistics.median(times[large][taken:]) / statistics.median(times[small][taken:])
        )
    sql("SET search_path TO public")
    sql("DROP SCHEMA small CASCADE")
    # Out of the way of what follows (their leases would lapse into it).
    sql("UPDATE integration_prompt SET status = 'sent' WHERE status = 'sending'")
    for future in (small, large):
        print(
            f"    {future:>9,} later prompts in the table: "
            f"{figure([t * 1000 for t in times[future]]).spread(' ms', 2, of='claims')}"
        )
    ratio = figure(ratios)
    print(
        f"    {large:,} / {small:,}: {ratio.spread('x', 2)}; goal <= 1.50x: "
        f"{goal(ratio.median <= 1.5)} (tables filled in {filled:.0f} s)"
    )
    return ratio.median <= 1.5


def bench_in_process(patients: list[Any], count: int) -> float:
    from django.utils import timezone

    from integration.delivery.dispatch import prompts_claim_due, prompts_deliver

    reset_prompts()
    add_prompts(count, patients, due=True)
    sql("VACUUM ANALYZE integration_prompt")
    started = time.perf_counter()
    while claims := prompts_claim_due(
        now=timezone.now(), batch_size=200, lease=timedelta(minutes=2)
    ):
        prompts_deliver(claims=[(str(p), str(c)) for p, c in claims])
    elapsed = time.perf_counter() - started
    assert unsent() == 0
    return count / elapsed


def bench_worker(workers: Any, patients: list[Any], count: int) -> tuple[float, float]:
    from integration.delivery.dispatch import prompts_dispatch

    reset_prompts()
    add_prompts(count, patients, due=True)
    sql("VACUUM ANALYZE integration_prompt")
    started = time.perf_counter()
    # Beat would run this every minute with PROMPT_DISPATCH_MAX_BATCHES; here one run
    # claims everything, so the figure is the pipeline's, not the beat interval's.
    assert prompts_dispatch(batch_size=200, max_batches=count // 200 + 1) == count
    dispatched = time.perf_counter() - started
    wait_all_sent(count, timeout=900)
    return count / (time.perf_counter() - started), dispatched


def bench_naive(workers: Any, patients: list[Any], count: int) -> tuple[float, float]:
    from integration.models import Prompt

    reset_prompts()
    add_prompts(count, patients, due=True)
    sql("VACUUM ANALYZE integration_prompt")
    ids = [str(pk) for pk in Prompt.objects.values_list("id", flat=True)]
    started = time.perf_counter()
    for prompt_id in ids:
        # As if each was queued when it was scheduled, due a second from now.
        workers.app.send_task(NAIVE_TASK, args=[prompt_id], countdown=1)
    enqueued = time.perf_counter() - started
    wait_all_sent(count, timeout=900)
    return count / (time.perf_counter() - started), enqueued


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prompt dispatch benchmark")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--claims-per-round", type=int, default=6)
    parser.add_argument("--prompts", type=int, default=100_000)
    parser.add_argument("--in-process-sample", type=int, default=10_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    parser.add_argument("--patients", type=int, default=2_000)
    parser.add_argument("--rounds", type=rounds_argument, default=5)
    args = parser.parse_args(argv)
    quiet_logs()
    began = time.perf_counter()
    setup_django()
    from tests.integration.workers import Workers

    patients = database.make_patients(args.patients, name="bench", token="token")
    with (
        tempfile.TemporaryDirectory() as directory,
        Workers(
            database_name=BENCH_DATABASE,
            directory=Path(directory),
            provider=NOOP,
            include=["tests.bench.dispatch_bench"],
        ) as workers,
    ):
        print(
            f"dispatch benchmark: PostgreSQL, a Redis server of its own, {args.patients:,} "
            f"patients with one device each, no-op provider; medians of {args.rounds} rounds "
            "(lowest-highest)"
        )
        ok = bench_claim_scaling(
            patients,
            small=args.small,
            large=args.large,
            rounds=args.rounds,
            per_round=args.claims_per_round,
        )
        reset_prompts()
        sql("VACUUM ANALYZE integration_prompt")

        workers.flush()  # the messages (a) queued, before a worker would run them
        workers.start(1, concurrency=2)
        in_process: list[float] = []
        batched: list[float] = []
        naive: list[float] = []
        for index in range(args.rounds):
            in_process.append(bench_in_process(patients, args.in_process_sample))
            in_turn(
                index,
                lambda: batched.append(bench_worker(workers, patients, args.prompts)[0]),
                lambda: naive.append(bench_naive(workers, patients, args.naive_sample)[0]),
            )
        print(f"(b) {args.prompts:,} due prompts to the no-op provider, a round each")
        print(
            f"    in process, one process, no broker ({args.in_process_sample:,} sample): "
            f"{figure(in_process).spread(' prompts/s', 0)}"
        )
        print(
            "    batched: prompts_dispatch, Redis, 1 worker (concurrency 2): "
            f"{figure(batched).spread(' prompts/s', 0)}"
        )
        print(
            f"    naive, one countdown task per prompt ({args.naive_sample:,} sample): "
            f"{figure(naive).spread(' prompts/s', 1)}"
        )
        ratio = figure([fast / slow for fast, slow in zip(batched, naive, strict=True)])
        met = ratio.median >= 10
        print(f"    batched / naive: {ratio.spread('x', 1)}; goal >= 10x: {goal(met)}")
        ok &= met
    # A million rows nobody needs afterwards.
    database.drop_database(BENCH_DATABASE)
    print(f"    total {time.perf_counter() - began:.0f} s; goals {goal(ok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
