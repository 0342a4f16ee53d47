"""Benchmark: pushes a second through the real dispatcher and delivery tasks, to FCM over
HTTP/2, against the sequential path.

    python -m tests.bench.push_bench      (make bench runs it after the dispatch one)

Everything on this machine: PostgreSQL (a database of the run), a Redis server of its own,
a local FCM (tests/bench/fake_fcm.py: Google's token endpoint and the send endpoint, over
HTTP/2 with prior knowledge, in a process of its own) that answers every push after a set
latency, and real Celery workers (prefork, two pool processes: the Makefile's worker) that
push through the real FcmProvider. Each round makes the prompts due, runs
`prompts_dispatch` once (it claims them all in batches of PROMPT_DISPATCH_BATCH_SIZE, 400,
and queues one delivery task per batch) and times until every prompt is `sent`; then checks
that the fake delivered each exactly once.

- concurrent: the delivery as it is (a batch's pushes at once, FCM_MAX_IN_FLIGHT 200 per
  process over HTTP/2, outcomes written in batches), 10,000 prompts; the fake allows 100
  streams a connection, the least a server should (RFC 9113 section 5.1.2), so a process
  holds two;
- sequential: the same dispatcher, tasks and writes with one push in flight per process
  (PUSH_MAX_IN_FLIGHT and FCM_MAX_IN_FLIGHT 1): one request after another, as delivery
  sent before. Slow, so measured on a sample (800 prompts at 100 ms: two batches, so that
  both worker processes have one); it is linear in the prompts. Its bookkeeping is the
  new batched one, which flatters it: the ratio is a floor.

At 100 ms (a provider from a data centre; goal: >= 1,000 pushes/s and >= 50x sequential)
and at 0 ms (what the pipeline itself costs: claims, messages, bookkeeping, HTTP/2).
Rounds alternate the two, each taking its turn to go first; figures are medians of the
rounds with their spread (tests/bench/rounds.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.bench import database
from tests.bench.database import sql
from tests.bench.fake_fcm import control
from tests.bench.rounds import figure, goal, in_turn, quiet_logs, rounds_argument

BENCH_DATABASE = os.environ.get("AFTERGLOW_BENCH_PUSH_DATABASE", "afterglow_bench_push")
FCM = "integration.providers.fcm.FcmProvider"
PROJECT_ID = "afterglow-bench"
CLIENT_EMAIL = "push@afterglow-bench.iam.gserviceaccount.com"
BATCH_SIZE = 400  # the service's default (checked once Django is set up)
SEQUENTIAL = {"PUSH_MAX_IN_FLIGHT": 1, "FCM_MAX_IN_FLIGHT": 1}


@dataclass
class FakeFcmProcess:
    process: subprocess.Popen[str]
    url: str

    def latency(self, seconds: float) -> None:
        control(self.url, "/bench/latency", {"seconds": seconds})

    def delivered(self) -> int:
        """Pushes answered 200 since the last call."""
        return int(str(control(self.url, "/bench/count", {})["delivered"]))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_fake(directory: Path) -> tuple[FakeFcmProcess, Path]:
    """The fake in its own process, and the service account file that points at it."""
    from tests.integration.fakes.fcm import write_service_account
    from tests.integration.fakes.keys import rsa_key

    key = rsa_key()
    public_key = directory / "public.pem"
    public_key.write_text(key.public_pem)
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "tests.bench.fake_fcm"),
            *("--public-key", str(public_key)),
            *("--project", PROJECT_ID, "--client-email", CLIENT_EMAIL),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    credentials = write_service_account(
        directory / "service-account.json",
        project_id=PROJECT_ID,
        client_email=CLIENT_EMAIL,
        private_pem=key.private_pem,
        token_uri=f"{url}/token",
        key_id="bench-1",
    )
    return FakeFcmProcess(process, url), Path(credentials)


def make_due(count: int, patients: list[Any]) -> None:
    from django.utils import timezone

    from tests.integration.delivery_data import insert_prompts

    sql("TRUNCATE integration_deliveryattempt, integration_prompt CASCADE")
    start = timezone.now() - timedelta(hours=1)
    insert_prompts(
        count=count, patients=patients, due_from=start, spacing=timedelta(seconds=1 / count)
    )
    sql("VACUUM ANALYZE integration_prompt")


def unfinished() -> int:
    from integration.models import Prompt

    return Prompt.objects.exclude(status="sent").count()


def push_rate(workers: Any, fake: FakeFcmProcess, patients: list[Any], count: int) -> float:
    """Pushes a second for `count` due prompts, from the dispatch to the last `sent`."""
    from integration.delivery.dispatch import prompts_dispatch
    from integration.models import Prompt

    make_due(count, patients)
    fake.delivered()  # count from here
    workers.app.set_current()
    started = time.perf_counter()
    assert prompts_dispatch(batch_size=BATCH_SIZE, max_batches=count // BATCH_SIZE + 1) == count
    deadline = started + 1800
    while unfinished():
        if time.perf_counter() > deadline:
            raise SystemExit(f"gave up: {unfinished()} of {count} prompts not sent")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    delivered = fake.delivered()
    pushed = Prompt.objects.filter(status="sent", delivered_via="push").count()
    if (delivered, pushed) != (count, count):
        raise SystemExit(f"{count} prompts: the fake delivered {delivered}, {pushed} recorded")
    return count / elapsed


def measure(
    workers: dict[str, Any],
    fake: FakeFcmProcess,
    patients: list[Any],
    *,
    latency: float,
    prompts: int,
    sample: int,
    rounds: int,
) -> tuple[list[float], list[float]]:
    fake.latency(latency)
    concurrent: list[float] = []
    sequential: list[float] = []
    for index in range(rounds):
        in_turn(
            index,
            lambda: concurrent.append(push_rate(workers["concurrent"], fake, patients, prompts)),
            lambda: sequential.append(push_rate(workers["sequential"], fake, patients, sample)),
        )
    return concurrent, sequential


def report(
    latency: float, concurrent: list[float], sequential: list[float], *, prompts: int, sample: int
) -> bool:
    rate, slow = figure(concurrent), figure(sequential)
    ratio = figure([fast / one for fast, one in zip(concurrent, sequential, strict=True)])
    print(f"  at {latency * 1000:.0f} ms:")
    print(f"    concurrent ({prompts:,} prompts): {rate.spread(' pushes/s', 0)}")
    print(f"    sequential ({sample:,} prompts): {slow.spread(' pushes/s', 1)}")
    print(f"    concurrent / sequential:  {ratio.spread('x', 1)}")
    if latency:
        met = rate.median >= 1000 and ratio.median >= 50
        print(f"    goal >= 1,000 pushes/s and >= 50x: {goal(met)}")
        return met
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Pushes a second against the sequential path")
    parser.add_argument("--prompts", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=2 * BATCH_SIZE, help="sequential, at 100 ms")
    parser.add_argument("--sample-at-zero", type=int, default=2_000, help="sequential, at 0 ms")
    parser.add_argument("--patients", type=int, default=2_000)
    parser.add_argument("--rounds", type=rounds_argument, default=5)
    args = parser.parse_args(argv)
    quiet_logs()
    began = time.perf_counter()
    database.setup_django(BENCH_DATABASE)
    from integration.delivery.dispatch import DEFAULT_BATCH_SIZE
    from tests.integration.workers import Workers

    if BATCH_SIZE != DEFAULT_BATCH_SIZE:
        raise SystemExit(f"measure the default batch ({DEFAULT_BATCH_SIZE}), not {BATCH_SIZE}")

    patients = database.make_patients(args.patients, name="push", token="fcm-token")
    with tempfile.TemporaryDirectory() as directory:
        for name in ("concurrent", "sequential"):
            (Path(directory) / name).mkdir()
        fake, credentials = start_fake(Path(directory))
        push_settings = {
            "FCM_CREDENTIALS_FILE": str(credentials),
            "FCM_BASE_URL": fake.url,
            "PROMPT_DISPATCH_BATCH_SIZE": BATCH_SIZE,
        }
        try:
            with (
                Workers(
                    database_name=BENCH_DATABASE,
                    directory=Path(directory) / "concurrent",
                    provider=FCM,
                    settings=push_settings,
                ) as concurrent,
                Workers(
                    database_name=BENCH_DATABASE,
                    directory=Path(directory) / "sequential",
                    provider=FCM,
                    settings={**push_settings, **SEQUENTIAL},
                ) as sequential,
            ):
                concurrent.start(1, concurrency=2)
                sequential.start(1, concurrency=2)
                variants = {"concurrent": concurrent, "sequential": sequential}
                print(
                    f"push benchmark: {args.patients:,} patients with an Android device, FCM "
                    f"over HTTP/2 (a local fake in its own process), one worker (prefork, 2 "
                    f"processes) per variant, batches of {BATCH_SIZE}, PostgreSQL, Redis"
                )
                ok = True
                for latency, sample in ((0.1, args.sample), (0.0, args.sample_at_zero)):
                    fast, slow = measure(
                        variants,
                        fake,
                        patients,
                        latency=latency,
                        prompts=args.prompts,
                        sample=sample,
                        rounds=args.rounds,
                    )
                    ok &= report(latency, fast, slow, prompts=args.prompts, sample=sample)
        finally:
            fake.stop()
    database.drop_database(BENCH_DATABASE)
    print(f"  total {time.perf_counter() - began:.0f} s; goals {goal(ok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
