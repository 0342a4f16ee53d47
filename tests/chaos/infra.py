"""The processes the chaos scenarios run, break and bring back.

- `Process`: a child in a process group of its own, its output in a log file; stopped
  with SIGTERM, then SIGKILL for anything left.
- `RedisServer`: a private `redis-server` on a free port that keeps nothing on disk; it
  can be stopped (SIGTERM or SIGKILL) and started again on the same port.
- `PostgresCluster`: a private PostgreSQL cluster (initdb in a temporary directory, a free
  port), stopped and started with `pg_ctl`; as root every command runs as the `postgres`
  user through `runuser`, since initdb refuses root. `PostgresCluster.unavailable()`
  says why one cannot be made here.
- `web` and `beat`: the Makefile's WEB_CMD (gunicorn with backend/gunicorn_conf.py) and
  BEAT_CMD, so the scenarios run the production commands.
- `ReadyzProbe`: polls `/readyz` in a thread and keeps every answer with its time, so a
  scenario can tell whether the outage and the recovery were reported.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import httpx
import redis

from tests.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class Rig:
    """A set of processes started together and stopped together: `_start` starts them and
    registers each one's stop on `self.stack`; leaving (or a failed start) stops them all."""

    stack: contextlib.ExitStack

    def _start(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()


def makefile_command(name: str) -> list[str]:
    """A command the Makefile defines (WEB_CMD, BEAT_CMD), its program taken from the
    virtualenv this runs in."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{name} := (.+)$", text, re.MULTILINE)
    if match is None:
        raise LookupError(f"the Makefile defines no {name}")
    program, *arguments = shlex.split(match.group(1))
    return [str(BIN / program), *arguments]


class Process:
    """A child process (and its children) in a process group of its own."""

    def __init__(self, name: str, command: list[str], *, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:] if self.log.exists() else ""

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the group, SIGKILL whatever is left after `timeout`."""
        if self.running():
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


class RedisServer:
    """A private Redis on a free port, with nothing on disk: a restart loses every queued
    message, as a Redis without persistence (or a replaced container) does."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: Process | None = None
        self.starts = 0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url(), socket_timeout=5)

    def start(self) -> RedisServer:
        self.starts += 1
        self.process = Process(
            "redis",
            [
                "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            ],
            env=dict(os.environ),
            log=self.directory / "redis.log",
        )
        client = self.client()
        wait_for(lambda: _pings(client), timeout=15, what="the private Redis")
        return self

    def stop(self, signum: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        self.process.signal(signum)
        self.process.process.wait(timeout=15)
        self.process = None

    def close(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class PostgresCluster:
    """A PostgreSQL cluster of the scenario's own, so that restarting it disturbs nobody
    (the shared server on 5432 carries the test run itself)."""

    def __init__(self, log_directory: Path) -> None:
        self.bin = _postgres_bin()
        self.port = free_port()
        self.log_directory = log_directory
        self.data: Path | None = None
        self.running = False

    @staticmethod
    def unavailable() -> str:
        """Why no private cluster can be made here ("" when one can)."""
        if _postgres_bin() is None:
            return "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql"
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                return "running as root and `runuser` is missing (initdb refuses root)"
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no `postgres` user to run initdb as"
        return ""

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def _run(self, *command: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        assert self.bin is not None
        result = subprocess.run(
            [*prefix, str(self.bin / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{command[0]} failed ({result.returncode}): {result.stderr.strip()[-800:]}"
            )

    def init(self) -> PostgresCluster:
        self.data = Path(tempfile.mkdtemp(prefix="afterglow-chaos-pg-"))
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.data, account.pw_uid, account.pw_gid)
        self.data.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        return self

    @property
    def server_log(self) -> Path:
        assert self.data is not None
        return self.data / "server.log"

    def start(self) -> None:
        assert self.data is not None
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.server_log), "-w",
            "-t", "60", "start",
        )  # fmt: skip
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """`fast` rolls back open transactions and checkpoints; `immediate` is a crash (the
        next start recovers from the WAL)."""
        assert self.data is not None
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    def destroy(self) -> None:
        if self.data is None:
            return
        if self.running:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        if self.server_log.exists():
            shutil.copy(self.server_log, self.log_directory / "postgres.log")
        shutil.rmtree(self.data, ignore_errors=True)
        self.data = None


def _postgres_bin() -> Path | None:
    found = sorted(
        (Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


# The service: gunicorn and beat -----------------------------------------------------------


def web(*, env: dict[str, str], log: Path) -> tuple[Process, str]:
    """gunicorn as the Makefile's WEB_CMD starts it, on a free port; returns it and its
    base URL once /healthz answers."""
    port = free_port()
    process = Process(
        "web", makefile_command("WEB_CMD"), env=env | {"BIND": f"127.0.0.1:{port}"}, log=log
    )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if not process.running():
            raise RuntimeError(f"gunicorn exited:\n{process.tail()}")
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, timeout=60, what="gunicorn's /healthz")
    except BaseException:
        process.stop()
        raise
    return process, base


def beat(*, env: dict[str, str], log: Path) -> Process:
    """Celery beat as the Makefile's BEAT_CMD starts it."""
    return Process("beat", makefile_command("BEAT_CMD"), env=env, log=log)


# /readyz ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    started: float
    finished: float
    status: int  # 0: no answer at all
    checks: dict[str, bool]
    problem: bool  # a 503 carried a problem document


class ReadyzProbe:
    """Asks /readyz every `interval` seconds, in a thread, until closed."""

    def __init__(self, base: str, *, interval: float = 0.1) -> None:
        self.url = f"{base}/readyz"
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="readyz-probe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                status, checks, problem = 0, {}, False
                try:
                    response = client.get(self.url)
                    status = response.status_code
                    body = response.json()
                    checks = {name: bool(check.get("ok")) for name, check in body["checks"].items()}
                    problem = response.headers.get("content-type") == "application/problem+json"
                except (httpx.HTTPError, ValueError, KeyError, AttributeError, TypeError):
                    pass
                self.samples.append(Sample(started, time.monotonic(), status, checks, problem))
                self._stop.wait(self.interval)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def report(self, check: str, *, down: float, up: float) -> tuple[bool, bool, float | None]:
        """For an outage of `check` from `down` to `up` (monotonic times): whether /readyz
        answered 503 with that check failing while it lasted, whether it answered 200 with
        every check passing afterwards, and how long after `up` that first 200 came."""
        samples = list(self.samples)
        outage = [
            s
            for s in samples
            if s.status == 503
            and s.problem
            and s.checks.get(check) is False
            and s.finished > down
            and s.started < up
        ]
        last_outage = max((s.finished for s in outage), default=up)
        recovered = [
            s
            for s in samples
            if s.status == 200
            and s.checks
            and all(s.checks.values())
            and s.started >= max(up, last_outage)
        ]
        after = min(s.finished for s in recovered) - up if recovered else None
        return bool(outage), bool(recovered), after

    def wait_recovered(self, *, up: float, timeout: float) -> None:
        def recovered() -> bool:
            return any(
                s.status == 200 and s.checks and all(s.checks.values()) and s.started >= up
                for s in list(self.samples)
            )

        wait_for(recovered, timeout=timeout, what="/readyz to answer 200 again")


def service_env(*, database_url: str, redis_url: str, local_dir: Path) -> dict[str, str]:
    """The environment of the service processes: production settings (DEBUG off), secrets
    of this run, nothing of the caller's settings."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TZ")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    env.setdefault("LANG", "C.UTF-8")
    return env | {
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "JOURNAL_KEKS": "1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        # Plain HTTP on the loopback: production mode refuses insecure cookies unless told.
        "SECURE_COOKIES": "false",
        "ALLOW_INSECURE_COOKIES": "true",
        "AFTERGLOW_LOCAL_DIR": str(local_dir),
        "LOG_LEVEL": "INFO",
        # Each writer signs in once; the defaults (a few a minute from one address) are
        # for the internet, not for one test client.
        "THROTTLE_REGISTER": "1000/min",
        "THROTTLE_LOGIN": "1000/min",
    }


def dump_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
