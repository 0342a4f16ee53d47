"""The long fuzz run (`make fuzz`): Schemathesis against the running service.

    python -m tests.fuzz.run_fuzz [--examples N] [--workers N] [--seed N]

Makes a fresh database (afterglow_fuzz_run, on the server DATABASE_URL names), migrates it,
seeds a patient and a therapist (tests/fuzz/seed.py), starts gunicorn on a free loopback
port with tests.fuzz.settings_fuzz, and runs every Schemathesis phase (examples, coverage,
fuzzing, stateful) once signed in as each role, with the checks of the in-process tests.
Prints the requests sent and the failures by check; exits 1 when a check failed (findings
already reported, see tests/fuzz/harness.py, are listed apart and do not count).

The database is left in place for a look afterwards; the next run starts it afresh.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.processes import database_url, free_port, recreate_database

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "afterglow_fuzz_run"
SETTINGS = "tests.fuzz.settings_fuzz"
SERVER_ERROR_MARK = '"logger": "afterglow.errors"'
SAMPLE_CHARS = 600  # of a failure's reproduction (curl); fuzzed URLs run to pages


@contextmanager
def service(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """gunicorn serving the app on a free loopback port; yields its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server_env = {**env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "backend.wsgi:application",
        "-c",
        "backend/gunicorn_conf.py",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until_up(f"{base_url}/healthz", process)
            yield base_url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}: see its log")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


@dataclass
class RoleResult:
    role: str
    cases: int = 0
    by_phase: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    known: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def token_provider(user: Any, *, second_factor: bool) -> type:
    """A Schemathesis auth provider holding a live device token for `user`.

    A fuzzed POST /auth/logout/ revokes the token in use: then the service answers 401,
    Schemathesis asks for auth again (its default `retry_on`), and a new token is issued.
    """
    from knox.settings import CONSTANTS

    from backend.accounts.models import DeviceToken
    from tests.fuzz.seed import issue_token

    class TokenAuth:
        token = issue_token(user, second_factor=second_factor)

        def get(self, case: Any, context: Any) -> str:
            key = self.token[: CONSTANTS.TOKEN_KEY_LENGTH]  # the token's public prefix
            if not DeviceToken.objects.filter(token_key=key).exists():
                type(self).token = issue_token(user, second_factor=second_factor)
            return type(self).token

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}

    return TokenAuth


def run_role(
    base_url: str, role: str, user: Any, *, examples: int, workers: int, seed: int
) -> RoleResult:
    import schemathesis
    from schemathesis.engine import events, from_schema

    from tests.fuzz.harness import CHECK_NAMES, is_known_finding

    config = schemathesis.Config.from_dict(
        {
            "seed": seed,
            "workers": workers,
            "generation": {"max-examples": examples},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECK_NAMES}},
            "phases": {"stateful": {"max-steps": 20}},
        }
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/", config=config)
    schema.auth(refresh_interval=None)(token_provider(user, second_factor=role == "therapist"))

    result = RoleResult(role)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            result.cases += len(event.recorder.interactions)
            result.by_phase[event.phase.value] += len(event.recorder.interactions)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    if is_known_finding(failure):
                        result.known[check.name] += 1
                        continue
                    result.failures[check.name] += 1
                    result.examples.setdefault(
                        f"{check.name}: {failure.title} ({failure.operation})",
                        check.failure_info.code_sample,
                    )
        elif isinstance(event, events.NonFatalError):
            result.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            result.errors.append(f"fatal: {event.exception!r}")
    return result


def server_figures(log_path: Path) -> tuple[int, int]:
    """Requests that reached Django (gunicorn refuses some itself) and the unhandled
    exceptions logged."""
    answered = errors = 0
    for line in log_path.read_text(errors="replace").splitlines():
        if '"logger": "afterglow.access"' in line:
            answered += 1
        elif SERVER_ERROR_MARK in line:
            errors += 1
    return answered, errors


def report(results: list[RoleResult], answered: int, server_errors: int, elapsed: float) -> int:
    print(f"\nFuzz run: {elapsed:.0f} s")
    print(
        f"Requests that reached Django: {answered} (unhandled exceptions logged: {server_errors})"
    )
    for result in results:
        phases = ", ".join(f"{name} {count}" for name, count in sorted(result.by_phase.items()))
        print(f"\n[{result.role}] test cases sent: {result.cases} ({phases})")
        if result.failures:
            print("  failures by check:")
            for name, count in result.failures.most_common():
                print(f"    {name}: {count}")
        else:
            print("  failures by check: none")
        if result.known:
            print("  known findings (reported, skipped):")
            for name, count in result.known.most_common():
                print(f"    {name}: {count}")
        for error in result.errors:
            print(f"  error: {error}")
    new = [result for result in results if result.failures or result.errors]
    for result in new:
        for title, sample in result.examples.items():
            shown = sample if len(sample) <= SAMPLE_CHARS else sample[:SAMPLE_CHARS] + " [...]"
            print(f"\n[{result.role}] {title}\n    {shown}")
    failed = bool(new) or server_errors > 0
    print("\nFAILED" if failed else "\nPASSED")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="per operation (fuzzing)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None, help="for a repeatable run")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    print(f"Seed: {seed} (repeat with --seed {seed})")

    url = database_url(DATABASE)
    recreate_database(url)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    os.environ.update({"DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": url})
    import django

    django.setup()
    from tests.fuzz.seed import seed as seed_users

    users = seed_users(label="fuzz-run")

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "gunicorn.log"
        with service(env, log_path) as base_url:
            results = [
                run_role(
                    base_url, role, user, examples=args.examples, workers=args.workers, seed=seed
                )
                for role, user in (("patient", users.patient), ("therapist", users.therapist))
            ]
        answered, server_errors = server_figures(log_path)
        if server_errors:
            print("\nThe service logged unhandled exceptions:")
            for line in log_path.read_text(errors="replace").splitlines():
                if SERVER_ERROR_MARK in line:
                    print("  " + line[:400])
    return report(results, answered, server_errors, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
