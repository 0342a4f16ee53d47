"""Real Celery worker processes for delivery tests (and the dispatch benchmark).

`Workers` starts `celery -A worker worker` processes (prefork) that consume a queue of
their own. The broker is a Redis server of their own, started on a free port for as long as
the helper is open: the shared Redis on 6379 has its databases flushed by every test run's
cache clearing (each run may point REDIS_URL at any database), and a flush in the middle of
a run silently drops queued messages and the queue's binding. AFTERGLOW_TEST_BROKER_URL
names another broker instead (flushed when the helper opens); without `redis-server` on
PATH the helper falls back to redis://127.0.0.1:6379/14.

Workers use the pytest-django test database, so the test must commit its rows
(`django_db(transaction=True)`), and push through the counting provider
(tests/integration/counting_provider.py), whose log counts pushes per prompt across
processes. While the helper is open, this process's current Celery app sends to that broker
and queue, so `prompts_dispatch()` called by the test reaches the workers exactly as
beat's would.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from celery._state import get_current_app

from tests.integration import counting_provider
from tests.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
SHARED_BROKER_URL = "redis://127.0.0.1:6379/14"


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once: nothing gets to clean up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        self.kill()  # and any child left behind

    def is_ready_or_gone(self) -> bool:
        # The whole log: a worker that takes tasks the moment it is up soon pushes its
        # "ready." line out of any tail.
        log = self.log.read_text(errors="replace") if self.log.exists() else ""
        return " ready." in log or self.process.poll() is not None

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


class Workers:
    def __init__(
        self,
        *,
        database_name: str,
        directory: Path,
        settings: dict[str, Any] | None = None,
        push_delay: float = 0.0,
        provider: str = counting_provider.PROVIDER_PATH,
        include: list[str] | None = None,
    ) -> None:
        self.queue = f"afterglow-test-{uuid.uuid4().hex[:12]}"
        self.directory = directory
        self.push_log = directory / "pushes.log"
        self.running: list[Worker] = []
        self.include = include or []
        self.redis_server: subprocess.Popen[bytes] | None = None
        self.broker_url = os.environ.get("AFTERGLOW_TEST_BROKER_URL", "")
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.integration.worker_settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database_name}",
            "AFTERGLOW_TEST_QUEUE": self.queue,
            "AFTERGLOW_TEST_SETTINGS": json.dumps(settings or {}),
            counting_provider.LOG_VARIABLE: str(self.push_log),
            counting_provider.DELAY_VARIABLE: str(push_delay),
            "AFTERGLOW_TEST_PUSH_PROVIDER": provider,
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "INFO",
        }
        self.app = Celery("afterglow-tests", set_as_current=False)
        self._previous_app = get_current_app()

    def __enter__(self) -> Workers:
        if not self.broker_url and shutil.which("redis-server"):
            port = free_port()
            self.redis_server = subprocess.Popen(
                [
                    "redis-server",
                    *("--port", str(port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
                ],
                stdout=subprocess.DEVNULL,
            )
            self.broker_url = f"redis://127.0.0.1:{port}/0"
            client = redis.Redis.from_url(self.broker_url)
            wait_for(lambda: _answers(client), timeout=10, what="the test's Redis server")
        else:
            self.broker_url = self.broker_url or SHARED_BROKER_URL
            redis.Redis.from_url(self.broker_url).flushdb()
        self.env["CELERY_BROKER_URL"] = self.broker_url
        self.app.conf.update(
            broker_url=self.broker_url,
            task_default_queue=self.queue,
            task_serializer="json",
            accept_content=["json"],
            task_ignore_result=True,
            broker_connection_retry_on_startup=True,
        )
        self.app.set_current()
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.running:
            worker.stop()
        self._previous_app.set_current()
        self.app.close()
        if self.redis_server is not None:
            self.redis_server.terminate()
            self.redis_server.wait(timeout=10)

    def start(self, count: int = 1, *, concurrency: int = 2, timeout: float = 30) -> list[Worker]:
        """Start `count` workers and wait until each says it is ready."""
        started = []
        for _ in range(count):
            name = f"w{len(self.running) + 1}-{self.queue}"
            log = self.directory / f"{name}.log"
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [
                        CELERY,
                        *("-A", "worker", "worker", "--pool=prefork"),
                        f"--concurrency={concurrency}",
                        *("-Q", self.queue, "-n", f"{name}@%h"),
                        *("--without-mingle", "--without-gossip", "--loglevel=INFO"),
                        *(f"--include={module}" for module in self.include),
                    ],
                    cwd=ROOT,
                    env=self.env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: kill() reaches the pool
                )
            worker = Worker(name, process, log)
            self.running.append(worker)
            started.append(worker)
        for worker in started:
            try:
                wait_for(worker.is_ready_or_gone, timeout=timeout, what=f"worker {worker.name}")
            except TimeoutError:
                raise AssertionError(worker.log_tail()) from None
            assert worker.process.poll() is None, worker.log_tail()
        return started

    def send(self, task_name: str, args: list[Any] | None = None) -> None:
        self.app.send_task(task_name, args=args or [])

    def flush(self) -> None:
        """Drop every queued message (and the queue's binding, which a worker redeclares)."""
        redis.Redis.from_url(self.broker_url).flushdb()


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
