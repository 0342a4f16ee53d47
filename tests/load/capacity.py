"""`make load`, second part: how much one machine carries.

    python -m tests.load.capacity [--start R] [--step F] [--seconds S]

The same rig as tests/load/run_load.py (a fresh database, the Makefile's gunicorn, Celery
worker and beat with production settings, locust in a process of its own, all on this
machine), then the realistic mix at a rising offered rate: `--start` requests a second,
times `--step` at each step, each step `--seconds` long after a short warm-up. It stops at
the first step where the p99 of all requests passes 100 ms, any request fails, or the
service falls behind (achieves under 95% of what was offered), and prints the highest rate
that held, with the gunicorn and Celery settings used.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.load.run_load import (
    Figures,
    Service,
    cores,
    logged_errors,
    makefile_commands,
    plan,
    run_locust,
    run_setup,
    seed_afresh,
    services,
    wait_ready,
)

P99_LIMIT_MS = 100.0
KEPT_UP = 0.95
GOAL_RPS = 100.0


@dataclass(frozen=True)
class Step:
    offered: float
    achieved: float
    p50: float
    p99: float
    requests: int
    failures: int
    # CPU seconds each service's processes spent per request of the step (ms), and the
    # host's one-minute load average at its end: on a shared host, what the step had.
    cpu_ms: dict[str, float]
    load: float

    @property
    def held(self) -> bool:
        return (
            self.p99 <= P99_LIMIT_MS
            and self.failures == 0
            and self.achieved >= KEPT_UP * self.offered
        )


def step_plan(args: argparse.Namespace, host: str, rate: float) -> dict[str, Any]:
    """The run's mix at one offered rate: a short warm-up, then the measured phase."""
    mix_args = argparse.Namespace(**{**vars(args), "rate": rate, "rounds": 1, "duration": 0})
    the_plan = plan(mix_args, host)
    warm_up, _, mix = the_plan["phases"][:3]
    return {"host": host, "phases": [warm_up, {**mix, "seconds": args.seconds}]}


def group_cpu_seconds(group: int) -> float:
    """User and system CPU time of the live processes of a process group (Linux /proc)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone in the meantime
        # After the command: state, ppid, pgrp, ... utime and stime are the 12th and 13th.
        if int(fields[2]) == group:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def services_cpu(started: list[Service]) -> dict[str, float]:
    if not Path("/proc/self/stat").exists():
        return {}
    return {service.name: group_cpu_seconds(service.process.pid) for service in started}


def measure(
    step_results: list[dict[str, Any]], cpu_before: dict[str, float], cpu_after: dict[str, float]
) -> Step:
    mix = step_results[-1]
    sent = sum(phase["total"]["requests"] for phase in step_results)
    total = Figures()
    total.add(mix["total"], mix["seconds"])
    return Step(
        offered=mix["offered_rps"],
        achieved=total.rps,
        p50=total.percentile(0.50),
        p99=total.percentile(0.99),
        requests=total.requests,
        failures=sum(phase["total"]["failures"] for phase in step_results),
        cpu_ms={
            name: 1000 * (cpu_after[name] - cpu_before[name]) / sent if sent else 0.0
            for name in cpu_after
        },
        load=os.getloadavg()[0],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--start", type=float, default=30.0, help="first offered req/s")
    parser.add_argument("--step", type=float, default=1.25, help="rate factor per step")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured, each step")
    parser.add_argument("--max-rate", type=float, default=600.0)
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--therapists", type=int, default=5)
    parser.add_argument("--users", type=int, default=4 * cores())
    parser.add_argument("--workers", type=int, default=cores(), help="gunicorn workers")
    args = parser.parse_args(argv)

    run_dir, base_url, env = run_setup("capacity", args.workers)
    started_at = time.monotonic()
    seed_afresh(env, run_dir, args)
    commands = makefile_commands()
    print(
        f"Capacity: the realistic mix ({args.patients} patients, {args.therapists} therapists) "
        f"from {args.start:g} req/s, x{args.step:g} a step, {args.seconds:g} s each, until "
        f"p99 > {P99_LIMIT_MS:.0f} ms, a failure, or under {KEPT_UP:.0%} achieved"
    )
    print(
        f"  on {cores()} cores, everything on them: gunicorn `{commands['WEB_CMD']}` with "
        f"WEB_CONCURRENCY={args.workers} (sync workers, 1 thread), Celery "
        f"`{commands['WORKER_CMD']}`, `{commands['BEAT_CMD']}`, PostgreSQL, Redis, locust"
    )
    steps: list[Step] = []
    locust_env = {**env, "AFTERGLOW_LOAD_SEED": str(run_dir / "seed.json")}
    with services(env, run_dir) as started:
        wait_ready(base_url, started)
        rate = args.start
        while rate <= args.max_rate:
            before = services_cpu(started)
            results = run_locust(step_plan(args, base_url, rate), run_dir, locust_env)
            step = measure(results, before, services_cpu(started))
            steps.append(step)
            cpu = "  ".join(f"{name} {ms:.1f}" for name, ms in step.cpu_ms.items())
            print(
                f"  offered {step.offered:6.1f}  achieved {step.achieved:6.1f} req/s  "
                f"p50 {step.p50:4.0f}  p99 {step.p99:4.0f} ms  requests {step.requests:6}  "
                f"failed {step.failures}  {'held' if step.held else 'did NOT hold'}"
            )
            print(f"    CPU ms a request: {cpu}; load average {step.load:.1f}")
            if not step.held:
                break
            rate *= args.step
    errors = logged_errors(started)
    held = [step for step in steps if step.held]
    best = max((step.offered for step in held), default=0.0)
    print(
        f"Highest rate that held: {best:.1f} req/s of the mix (p99 <= {P99_LIMIT_MS:.0f} ms, "
        f"no failure); goal >= {GOAL_RPS:.0f}: {'met' if best >= GOAL_RPS else 'NOT met'}"
    )
    if steps and steps[-1].cpu_ms:
        # The services' own CPU cost of a request, whatever else the host was running:
        # what the cores could carry if they had nothing else to do (locust, PostgreSQL
        # and Redis take theirs besides).
        per_request = sum(min(step.cpu_ms[name] for step in steps) for name in steps[0].cpu_ms)
        print(
            f"CPU of the web, worker and beat processes a request (lowest step): "
            f"{per_request:.1f} ms; load average {min(s.load for s in steps):.1f} to "
            f"{max(s.load for s in steps):.1f} during the run"
        )
    for name, bad in errors.items():
        print(f"Errors logged by {name}: {len(bad)}")
    print(f"Took {time.monotonic() - started_at:.0f} s in all")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
