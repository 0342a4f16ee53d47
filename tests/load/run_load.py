"""`make load`: the service as in production, on loopback, under a realistic load.

    python -m tests.load.run_load [--duration S] [--rate R] [--users N]

1. Makes a fresh PostgreSQL database (afterglow_load, on the server DATABASE_URL names)
   and empties a Redis database of its own (LOAD_REDIS_DB, 11), migrates, and seeds
   patients, therapists with care links and shares, and open prompts (tests/load/seed.py).
2. Starts the Makefile's WEB_CMD (gunicorn, one worker per core), WORKER_CMD and BEAT_CMD
   with production settings (DEBUG off, generated SECRET_KEY and JOURNAL_KEKS, ALLOWED_HOSTS)
   plus the stock twin's URLs (tests/load/settings_load.py), on a free loopback port, and
   waits for /readyz.
3. Drives it with locust, headless (tests/load/phases.py), for `--duration` seconds of load:
   - a third: the realistic mix at a fixed offered rate (`--rate` requests a second, each
     user starting one every 1/rate-per-user seconds from a random phase): patients
     syncing, listing, writing and editing entries, reading the inbox and answering
     prompts; therapists reading shares;
   - the rest: our create, list and retrieve of entries against the stock twin
     (tests/load/stock.py), each operation closed loop at `--users` concurrent users
     (saturation, where a throughput ratio means something), one phase at a time,
     ours and the twin alternating and in turn going first, so drift hits both.
4. Stops every process it started (always), reads their logs for errors and prints: per
   endpoint the requests, failures, req/s and p50/p95/p99; offered against achieved;
   ours against the twin with the ratios and the goal (at least 1.3x the twin's
   throughput at no worse p99).

Exits 1 when a request failed or a process logged an error; a missed goal is reported,
and fails the run only with --require-goal. Logs stay in .local/load/ for a look.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.processes import database_url, free_port, recreate_database

ROOT = Path(__file__).resolve().parents[2]
DATABASE = os.environ.get("AFTERGLOW_LOAD_DATABASE", "afterglow_load")
SETTINGS = "tests.load.settings_load"
GOAL_RATIO = 1.3
COMPARED = ("create", "list", "retrieve")
# JSON log lines (the app, and Celery through it), gunicorn's and Celery's own formats.
ERROR_MARKS = (
    '"level": "ERROR"',
    '"level": "CRITICAL"',
    "] [ERROR] ",
    "] [CRITICAL] ",
    ": ERROR/",
    ": CRITICAL/",
    "Traceback (most recent call last)",
)
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0


# Setup ------------------------------------------------------------------------------------


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def redis_url() -> str:
    base = urllib.parse.urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return urllib.parse.urlunsplit(base._replace(path=f"/{os.environ.get('LOAD_REDIS_DB', '11')}"))


def empty_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def makefile_commands() -> dict[str, str]:
    """The production commands, from the one place that names them."""
    text = (ROOT / "Makefile").read_text()
    found = dict(re.findall(r"^(WEB_CMD|WORKER_CMD|BEAT_CMD) := (.+)$", text, re.MULTILINE))
    missing = {"WEB_CMD", "WORKER_CMD", "BEAT_CMD"} - found.keys()
    if missing:
        raise SystemExit(f"Makefile lacks {', '.join(sorted(missing))}")
    return found


def service_env(run_dir: Path, port: int, workers: int) -> dict[str, str]:
    """Production settings: DEBUG off, real secrets (made for this run), this run's
    database and Redis, and the venv's commands first on PATH (as the Makefile does)."""
    kek = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "PYTEST")) and key not in ("DEBUG",)
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "JOURNAL_KEKS": f"1:{kek}",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url(DATABASE),
            "REDIS_URL": redis_url(),
            "AFTERGLOW_LOCAL_DIR": str(run_dir / "local"),
            # Plain HTTP on the loopback: production mode refuses SECURE_COOKIES=false (if
            # the caller's environment has it) unless told that this is meant.
            "ALLOW_INSECURE_COOKIES": "true",
            "BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            # Nothing here should send mail (no PHQ-9 item 9 is answered above 0).
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            # The beat's dispatcher runs a few times within a bounded run.
            "PROMPT_DISPATCH_INTERVAL_SECONDS": "15",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def run_setup(name: str, workers: int) -> tuple[Path, str, dict[str, str]]:
    """An empty .local/<name>/ for the run's files, and the base URL and the service's
    environment on a free loopback port."""
    run_dir = ROOT / ".local" / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    port = free_port()
    return run_dir, f"http://127.0.0.1:{port}", service_env(run_dir, port, workers)


def seed_afresh(env: dict[str, str], run_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The run's database made afresh and its Redis database emptied, then migrated and
    seeded; the seed also goes to run_dir/seed.json, where locust's users read it."""
    recreate_database(env["DATABASE_URL"])
    empty_redis(env["REDIS_URL"])
    data = seed_database(env, args)
    (run_dir / "seed.json").write_text(json.dumps(data))
    return data


def seed_database(env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """Migrate and seed in this process, with the service's own settings and keys."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    from tests.load.seed import seed

    data = seed(
        patients=args.patients,
        therapists=args.therapists,
        bench_patients=max(args.users, 1),
    )
    connections.close_all()
    return data


# Processes --------------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def services(env: dict[str, str], run_dir: Path) -> Iterator[list[Service]]:
    """WEB_CMD, WORKER_CMD and BEAT_CMD, each in its own process group; all stopped on the
    way out, whatever happens (SIGTERM, then SIGKILL to the group after a grace time)."""
    started: list[Service] = []
    try:
        for name, variable in (("web", "WEB_CMD"), ("worker", "WORKER_CMD"), ("beat", "BEAT_CMD")):
            log = run_dir / f"{name}.log"
            with log.open("wb") as output:
                process = subprocess.Popen(
                    shlex.split(makefile_commands()[variable]),
                    cwd=ROOT,
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            started.append(Service(name, process, log))
        yield started
    finally:
        stop(started)


def stop(started: list[Service]) -> None:
    for service in started:
        if service.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for service in started:
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{service.name} did not stop in time: killing it", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()
        # Whatever the leader left behind in its group (gunicorn or pool workers).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGKILL)


def wait_ready(base_url: str, started: list[Service]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        for service in started:
            if service.process.poll() is not None:
                tail = service.log.read_text(errors="replace")[-2000:]
                code = service.process.returncode
                raise SystemExit(f"{service.name} exited with {code}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the service did not answer /readyz within {READY_TIMEOUT:.0f} s")


def logged_errors(started: list[Service]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for service in started:
        lines = service.log.read_text(errors="replace").splitlines()
        bad = [line for line in lines if any(mark in line for mark in ERROR_MARKS)]
        if bad:
            found[service.name] = bad
    return found


# The plan ---------------------------------------------------------------------------------


def plan(args: argparse.Namespace, host: str) -> dict[str, Any]:
    people = {"PatientUser": args.patients, "TherapistUser": args.therapists}
    per_user_rate = args.rate / sum(people.values())
    mix_seconds = max(5.0, args.duration / 3)
    compare_seconds = max(3.0, (args.duration - mix_seconds) / (len(COMPARED) * 2 * args.rounds))
    phases: list[dict[str, Any]] = [
        {"name": "warm-up mix", "kind": "warm-up", "users": people, "seconds": 4.0,
         "per_user_rate": per_user_rate},
        {"name": "warm-up entries", "kind": "warm-up", "seconds": 4.0, "operation": "retrieve",
         "users": {"OurEntriesUser": args.users, "StockEntriesUser": args.users}},
        {"name": "mix", "kind": "mix", "users": people, "seconds": mix_seconds,
         "per_user_rate": per_user_rate},
    ]  # fmt: skip
    for round_index in range(args.rounds):
        for op_index, operation in enumerate(COMPARED):
            variants = ["ours", "stock"]
            if (round_index + op_index) % 2:
                variants.reverse()
            for variant in variants:
                user = "OurEntriesUser" if variant == "ours" else "StockEntriesUser"
                phases.append(
                    {
                        "name": f"{operation} {variant} #{round_index + 1}",
                        "kind": "compare",
                        "variant": variant,
                        "operation": operation,
                        "users": {user: args.users},
                        "seconds": compare_seconds,
                    }
                )
    return {"host": host, "phases": phases}


def run_locust(the_plan: dict[str, Any], run_dir: Path, env: dict[str, str]) -> list[dict]:
    plan_path, results_path = run_dir / "plan.json", run_dir / "results.json"
    plan_path.write_text(json.dumps(the_plan, indent=1))
    subprocess.run(
        [sys.executable, "-m", "tests.load.phases", str(plan_path), str(results_path)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    results: list[dict] = json.loads(results_path.read_text())
    for phase, result in zip(the_plan["phases"], results, strict=True):
        result.update({key: phase[key] for key in ("kind", "variant", "operation") if key in phase})
    return results


# Figures ----------------------------------------------------------------------------------


@dataclass
class Figures:
    """Requests of one endpoint (or a total) over one or more phases."""

    requests: int = 0
    failures: int = 0
    seconds: float = 0.0
    histogram: dict[int, int] | None = None

    def add(self, entry: dict[str, Any], seconds: float) -> None:
        self.requests += entry["requests"]
        self.failures += entry["failures"]
        self.seconds += seconds
        histogram = self.histogram if self.histogram is not None else {}
        for value, count in entry["histogram"].items():
            histogram[int(value)] = histogram.get(int(value), 0) + count
        self.histogram = histogram

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        """The smallest response time (ms, as locust rounds it) that at least `fraction`
        of the requests did not exceed."""
        if not self.histogram:
            return 0.0
        total = sum(self.histogram.values())
        seen = 0
        for value in sorted(self.histogram):
            seen += self.histogram[value]
            if seen >= fraction * total:
                return float(value)
        return float(max(self.histogram))


def row(label: str, figures: Figures, width: int) -> str:
    return (
        f"{label:<{width}} {figures.requests:>8} {figures.failures:>6} {figures.rps:>8.1f}"
        f" {figures.percentile(0.5):>6.0f} {figures.percentile(0.95):>6.0f}"
        f" {figures.percentile(0.99):>6.0f}"
    )


def table(title: str, phases: list[dict[str, Any]]) -> list[str]:
    by_name: dict[str, Figures] = {}
    total = Figures()
    for phase in phases:
        for entry in phase["endpoints"]:
            by_name.setdefault(entry["name"], Figures()).add(entry, phase["seconds"])
        total.add(phase["total"], phase["seconds"])
    width = max([len(name) for name in by_name] + [24])
    lines = [
        title,
        f"{'endpoint':<{width}} {'requests':>8} {'fails':>6} {'req/s':>8}"
        f" {'p50':>6} {'p95':>6} {'p99':>6}  (ms)",
    ]
    lines += [row(name, by_name[name], width) for name in sorted(by_name)]
    lines.append(row("total", total, width))
    return lines


def comparison(phases: list[dict[str, Any]], users: int) -> tuple[list[str], bool]:
    lines = [
        f"Ours against the stock twin: closed loop, {users} users, each operation alone,"
        " alternating",
        f"{'operation':<10} {'ours req/s':>10} {'p50':>5} {'p99':>5} | {'stock req/s':>11}"
        f" {'p50':>5} {'p99':>5} | {'ratio':>6}  goal (>= {GOAL_RATIO}x, p99 no worse)",
    ]
    met = True
    ratios: list[float] = []
    for operation in COMPARED:
        figures = {"ours": Figures(), "stock": Figures()}
        for phase in phases:
            if phase["operation"] == operation:
                figures[phase["variant"]].add(phase["total"], phase["seconds"])
        ours, stock = figures["ours"], figures["stock"]
        ratio = ours.rps / stock.rps if stock.rps else 0.0
        ok = ratio >= GOAL_RATIO and ours.percentile(0.99) <= stock.percentile(0.99)
        met &= ok
        ratios.append(ratio)
        lines.append(
            f"{operation:<10} {ours.rps:>10.1f} {ours.percentile(0.5):>5.0f}"
            f" {ours.percentile(0.99):>5.0f} | {stock.rps:>11.1f} {stock.percentile(0.5):>5.0f}"
            f" {stock.percentile(0.99):>5.0f} | {ratio:>5.2f}x  {'met' if ok else 'NOT met'}"
        )
    if ratios and all(ratios):
        lines.append(
            f"{'geometric mean of the ratios':<52} {math.prod(ratios) ** (1 / len(ratios)):>5.2f}x"
        )
    return lines, met


def report(
    results: list[dict[str, Any]], args: argparse.Namespace, errors: dict[str, list[str]]
) -> int:
    mix = [phase for phase in results if phase["kind"] == "mix"]
    compared = [phase for phase in results if phase["kind"] == "compare"]
    offered = sum(phase["offered_rps"] * phase["seconds"] for phase in mix)
    seconds = sum(phase["seconds"] for phase in mix)
    achieved = sum(phase["total"]["requests"] for phase in mix)
    print()
    kept_up = achieved >= 0.95 * offered
    lines = table(
        f"Realistic mix: {seconds:.0f} s, {args.patients} patients and {args.therapists}"
        f" therapists, offered {offered / seconds:.1f} req/s, achieved"
        f" {achieved / seconds:.1f} req/s"
        + ("" if kept_up else " (fell behind: the service is saturated at this rate)"),
        mix,
    )
    lines += ["", *table("Entries, ours and the stock twin, per endpoint:", compared)]
    compare_lines, met = comparison(compared, args.users)
    lines += ["", *compare_lines]
    failures = sum(phase["total"]["failures"] for phase in results)
    messages: dict[str, int] = {}
    for phase in results:
        for error in phase["errors"]:
            key = f"{error['name']}: {error['error']}"  # the name holds the method
            messages[key] = messages.get(key, 0) + error["count"]
    in_user_code = sum(
        error["count"]
        for phase in results
        for error in phase["errors"]
        if error["name"] == "(user code)"
    )
    empty = [phase["name"] for phase in results if phase["total"]["requests"] == 0]
    lines.append("")
    lines.append(f"Failed requests (warm-up included): {failures}")
    if in_user_code:
        lines.append(f"Exceptions in the load users' own code: {in_user_code}")
    lines += [f"  {count} x {message}" for message, count in sorted(messages.items())]
    if empty:
        lines.append(f"Phases that sent no request: {', '.join(empty)}")
    for name, bad in errors.items():
        lines.append(f"Errors logged by {name}: {len(bad)}")
        lines += [f"  {line[:300]}" for line in bad[:5]]
    if any(phase.get("cpu_warning") for phase in results):
        lines.append("Note: locust's own CPU went over 90% in a phase; figures may be low.")
    verdict = "met" if met else "NOT met"
    lines.append(f"Goal (ours >= {GOAL_RATIO}x the stock twin's req/s, p99 no worse): {verdict}")
    clean = failures == 0 and not in_user_code and not empty and not errors
    lines.append("PASSED: no errors" if clean else "FAILED: errors above")
    print("\n".join(lines))
    if not clean:
        return 1
    return 1 if args.require_goal and not met else 0


def dispatched_prompts() -> int:
    """Prompts the worker moved on from `scheduled` (the beat's dispatcher at work)."""
    from integration.models import Prompt, PromptStatus

    moved = Prompt.objects.filter(sent_at__isnull=False).exclude(status=PromptStatus.SCHEDULED)
    return moved.count()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load in all")
    parser.add_argument("--rate", type=float, default=30.0, help="offered req/s of the mix")
    parser.add_argument("--users", type=int, default=4 * cores(), help="closed-loop users")
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--therapists", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="of ours-vs-twin phases")
    parser.add_argument("--workers", type=int, default=cores(), help="gunicorn workers")
    parser.add_argument("--require-goal", action="store_true", help="exit 1 on a missed goal")
    args = parser.parse_args(argv)

    run_dir, base_url, env = run_setup("load", args.workers)

    started_at = time.monotonic()
    print(f"Database {DATABASE} and Redis db {redis_url().rsplit('/', 1)[1]}: made afresh")
    data = seed_afresh(env, run_dir, args)
    print(
        f"Seeded {len(data['patients'])} patients ({data['prompts']} open prompts),"
        f" {len(data['therapists'])} therapists, {len(data['bench'])} comparison patients"
    )
    the_plan = plan(args, base_url)
    mix_phase = next(phase for phase in the_plan["phases"] if phase["kind"] == "mix")
    compare_phase = next(phase for phase in the_plan["phases"] if phase["kind"] == "compare")
    print(
        f"Plan: the mix for {mix_phase['seconds']:.0f} s at {args.rate:g} req/s offered; then"
        f" create, list and retrieve, ours and the twin, {args.rounds} rounds of"
        f" {compare_phase['seconds']:.1f} s each, closed loop at {args.users} users"
    )
    locust_env = {**env, "AFTERGLOW_LOAD_SEED": str(run_dir / "seed.json")}
    with services(env, run_dir) as started:
        wait_ready(base_url, started)
        print(
            f"Service up at {base_url}: gunicorn with {args.workers} workers, a Celery worker"
            f" and beat; locust phases (logs in .local/load/):"
        )
        results = run_locust(the_plan, run_dir, locust_env)
    errors = logged_errors(started)
    print(f"Prompts dispatched by the worker during the run: {dispatched_prompts()}")
    code = report(results, args, errors)
    print(f"Took {time.monotonic() - started_at:.0f} s in all")
    return code


if __name__ == "__main__":
    sys.exit(main())
