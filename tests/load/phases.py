"""Run locust phases headless, in this process, and write their statistics as JSON.

    python -m tests.load.phases PLAN.json RESULTS.json

tests/load/run_load.py writes the plan and starts this in a process of its own (importing
locust patches the standard library for gevent, which the driver must not have). A plan is
the service's address and a list of phases; each phase names the users to start (class
name -> count), how long to measure, and either a per-user rate (each user starts a request
every 1/rate seconds from a random phase: a fixed, bounded offered load, see
locustfile._LoadUser) or none (closed loop: each user sends its next request when the last
one is answered, the most the service gives at that concurrency). Statistics are reset
once every user has started, so each phase counts only its own steady requests.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust import User
from locust.env import Environment
from locust.stats import RequestStats, StatsEntry

from tests.load import locustfile

USER_CLASSES: dict[str, type[locustfile._LoadUser]] = {
    "PatientUser": locustfile.PatientUser,
    "TherapistUser": locustfile.TherapistUser,
    "OurEntriesUser": locustfile.OurEntriesUser,
    "StockEntriesUser": locustfile.StockEntriesUser,
}
PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
SPAWN_RATE = 100  # users a second; locust warns above it
SETTLE_SECONDS = 0.5  # after the last user started, before counting


def entry_figures(entry: StatsEntry, seconds: float) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "name": entry.name,
        "method": entry.method,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": entry.num_requests / seconds if seconds else 0.0,
        # Response times (ms, rounded as locust rounds them) -> count: phases add up.
        "histogram": {str(value): count for value, count in entry.response_times.items()},
    }
    for label, fraction in PERCENTILES.items():
        figures[label] = entry.get_response_time_percentile(fraction) if entry.num_requests else 0
    return figures


def snapshot(stats: RequestStats, seconds: float) -> dict[str, Any]:
    return {
        "endpoints": [
            entry_figures(entry, seconds)
            for entry in sorted(stats.entries.values(), key=lambda item: item.name)
        ],
        "total": entry_figures(stats.total, seconds),
        "errors": [
            {"name": error.name, "method": error.method, "error": str(error.error), "count": n}
            for error in stats.errors.values()
            for n in [error.occurrences]
        ],
    }


def run_phase(host: str, phase: dict[str, Any]) -> dict[str, Any]:
    counts: dict[str, int] = phase["users"]
    classes: list[type[User]] = []
    for name, count in counts.items():
        cls = USER_CLASSES[name]
        cls.fixed_count = count
        rate = phase.get("per_user_rate")
        cls.pace = 1 / rate if rate else 0.0
        if "operation" in phase and issubclass(cls, locustfile._EntriesUser):
            cls.operation = phase["operation"]
        cls.reset_pool()
        classes.append(cls)
    environment = Environment(user_classes=classes, host=host)
    runner = environment.create_local_runner()
    total_users = sum(counts.values())
    rate = phase.get("per_user_rate")
    # Paced users start within one period of their own (locustfile._LoadUser.on_start).
    settle = max(SETTLE_SECONDS, 1 / rate) if rate else SETTLE_SECONDS
    try:
        runner.start(total_users, spawn_rate=SPAWN_RATE)
        spawning = runner.spawning_greenlet
        if spawning is not None:
            spawning.join()
            if spawning.exception is not None:
                raise RuntimeError(f"{phase['name']}: users did not start") from spawning.exception
        gevent.sleep(settle)
        environment.stats.reset_all()
        runner.exceptions = {}
        started = time.monotonic()
        gevent.sleep(phase["seconds"])
        seconds = time.monotonic() - started
        result = snapshot(environment.stats, seconds)
        # An exception in a user's own code (not a failed request) is an error too.
        result["errors"] += [
            {"name": "(user code)", "method": "", "error": row["msg"], "count": row["count"]}
            for row in runner.exceptions.values()
        ]
        result["cpu_warning"] = bool(getattr(runner, "cpu_warning_emitted", False))
    finally:
        runner.quit()
    result.update({"name": phase["name"], "seconds": seconds, "users": total_users})
    if phase.get("per_user_rate"):
        result["offered_rps"] = phase["per_user_rate"] * total_users
    return result


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[0]).read_text())
    results = []
    for phase in plan["phases"]:
        result = run_phase(plan["host"], phase)
        total = result["total"]
        print(
            f"  {phase['name']:<22} {result['seconds']:5.1f} s  {total['requests']:6d} requests"
            f"  {total['rps']:7.1f} req/s  p99 {total['p99']:5.0f} ms"
            f"  failures {total['failures']}",
            flush=True,
        )
        if phase.get("record", True):
            results.append(result)
    Path(argv[1]).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
