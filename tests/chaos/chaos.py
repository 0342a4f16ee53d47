"""`make chaos`: fault injection against the real service, with figures.

    python -m tests.chaos.chaos [--repeats 10] [--scenarios worker-kill,redis-restart,...]

Three scenarios, each repeated `--repeats` times (a short run of one repeat each is part
of `make test`, tests/chaos/test_chaos.py):

- worker-kill: two Celery workers and beat deliver 300 due prompts; the worker that pushed
  last is SIGKILLed mid-batch (with its pool) and a replacement started.
  (tests/chaos/delivery.py)
- redis-restart: the same, and the broker (a Redis without persistence) is stopped,
  kept down 3 s and started again, empty: queued deliveries are gone, and the prompts,
  rows in PostgreSQL, are claimed again after their lease. gunicorn's /readyz is polled
  throughout. (tests/chaos/delivery.py)
- postgres-restart: gunicorn over a PostgreSQL cluster of its own; writer threads POST
  journal entries with their own ids (retrying as the app does) while the cluster is
  stopped (fast, or immediate: a crash) and started again. Every acknowledged entry must
  then read back unchanged, none twice, and every refusal must have been a 503 problem
  with Retry-After. (tests/chaos/writes.py)

After each fault, every due prompt must be delivered exactly once (the one allowed
exception, a push repeated because its worker died between the provider's answer and the
write recording it, at most the batch in hand, is counted apart) and every acknowledged
write present; /readyz must have answered 503 during the outage and 200 after. Prints one
table; exits 1 if anything was lost or duplicated, an answer was wrong, /readyz did not
report, or a fault stranded nothing.

The delivery scenarios use a database of this run on the shared PostgreSQL (127.0.0.1:5432),
dropped at the end; everything else (Redis servers, a PostgreSQL cluster, gunicorn, workers,
beat) is started on free ports and stopped at the end, also on failure or Ctrl-C. Logs and
report.json are kept in test-artifacts/chaos/ (or --artifacts).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from tests import processes
from tests.chaos.infra import ROOT
from tests.chaos.results import Scenario, render

SCENARIOS = ("worker-kill", "redis-restart", "postgres-restart")


def _say(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _database_name() -> str:
    return f"afterglow_chaos_{os.getpid()}"


def _database_url(database_name: str) -> str:
    """On the shared PostgreSQL, which the workers and gunicorn of the delivery scenarios
    use too."""
    return f"postgres://postgres@127.0.0.1:5432/{database_name}"


def setup_django(database_name: str) -> None:
    """This process reads and checks prompts through the ORM, on a database of its own
    (the workers use it too)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings_test"
    os.environ["DATABASE_URL"] = _database_url(database_name)
    os.environ["REDIS_URL"] = ""  # a cache in memory: this process needs no Redis
    os.environ["CELERY_BROKER_URL"] = "memory://"
    processes.recreate_database(_database_url(database_name))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def drop_database(database_name: str) -> None:
    from django.db import connections

    connections.close_all()
    processes.drop_database(_database_url(database_name))


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds, so every process started is stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fault injection with figures")
    parser.add_argument("--repeats", type=int, default=10, help="faults per scenario")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="comma-separated, of: " + ", ".join(SCENARIOS),
    )
    parser.add_argument("--artifacts", type=Path, default=ROOT / "test-artifacts" / "chaos")
    parser.add_argument("--seed", type=int, default=None, help="for the moments of the faults")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown or args.repeats < 1:
        parser.error(f"unknown scenarios {unknown}" if unknown else "--repeats must be >= 1")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    signal.signal(signal.SIGTERM, _terminate)

    shutil.rmtree(args.artifacts, ignore_errors=True)
    args.artifacts.mkdir(parents=True)
    started = time.monotonic()
    scenarios: list[Scenario] = []
    database_name = _database_name()
    _say(f"{args.repeats} repeat(s) of {', '.join(chosen)}; seed {seed}")
    try:
        setup_django(database_name)
        from tests.chaos import delivery, writes

        for name in chosen:
            _say(f"{name}: starting")
            directory = args.artifacts / name
            if name == "postgres-restart":
                scenario = writes.run(repeats=args.repeats, directory=directory, rng=rng)
            else:
                scenario = delivery.run(
                    name,
                    repeats=args.repeats,
                    directory=directory,
                    database_name=database_name,
                    rng=rng,
                )
            scenarios.append(scenario)
            if scenario.skipped:
                _say(f"{name}: SKIPPED: {scenario.skipped}")
            else:
                verdict = "ok" if scenario.ok else "FAILED: " + "; ".join(scenario.failures)
                _say(f"{name}: {verdict} ({scenario.seconds:.0f} s)")
    finally:
        if "django" in sys.modules:
            drop_database(database_name)
    report = {
        "ok": all(scenario.ok for scenario in scenarios),
        "seed": seed,
        "repeats": args.repeats,
        "seconds": round(time.monotonic() - started, 1),
        "scenarios": [scenario.as_json() for scenario in scenarios],
    }
    (args.artifacts / "report.json").write_text(json.dumps(report, indent=2))
    print()
    print(render(scenarios))
    print(f"\n{time.monotonic() - started:.0f} s in all; seed {seed}; logs in {args.artifacts}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
