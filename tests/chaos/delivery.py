"""The delivery scenarios: a worker SIGKILLed mid-batch, and Redis restarted mid-dispatch.

The rig is the real thing: two Celery workers (prefork, two pool children each) and
Celery beat (the Makefile's BEAT_CMD, ticking every second instead of every minute) on a
private Redis without persistence, the pushes counted by the counting provider
(tests/integration/counting_provider.py) in a log that survives any kill, and for the Redis
scenario gunicorn (the Makefile's WEB_CMD) answering /readyz. Prompts are rows in a
PostgreSQL database of this run; the lease is 3 seconds, so a stranded batch is claimed
again within a few seconds.

Each repeat makes 300 prompts due at once; beat's next tick claims them in batches of 20.
When a random number of them (30 to 150) has been pushed, the fault strikes; then the rig
runs on until every prompt is sent, and the repeat counts, per prompt, the pushes in the
provider's log and the deliveries the service recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from integration.models import DeliveryAttempt, Prompt, PromptStatus
from tests.chaos.infra import (
    Process,
    ReadyzProbe,
    RedisServer,
    Rig,
    beat,
    service_env,
    web,
)
from tests.chaos.results import Repeat, Scenario
from tests.integration.counting_provider import Push, read_log
from tests.integration.delivery_data import make_prompts
from tests.integration.workers import Worker, Workers
from tests.processes import wait_for

PROMPTS = 300
PATIENTS = 30
LEASE_SECONDS = 3
BATCH_SIZE = 20
PUSH_DELAY_SECONDS = 0.02
DISPATCH_INTERVAL_SECONDS = 1
REDIS_DOWN_SECONDS = 3.0  # /readyz's broker check takes 2 s to give up: long enough to see
DELIVERY_TIMEOUT_SECONDS = 90


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class DeliveryRig(Rig):
    def __init__(
        self, *, directory: Path, database_name: str, with_web: bool, rng: random.Random
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.database_name = database_name
        self.with_web = with_web
        self.rng = rng
        self.stack = contextlib.ExitStack()
        self.live: list[Worker] = []
        self.died: list[Worker] = []  # killed or crashed during the current repeat
        self.crashes: list[str] = []  # during the current repeat
        self.probe: ReadyzProbe | None = None

    def _start(self) -> None:
        self.redis = RedisServer(self.directory).start()
        self.stack.callback(self.redis.close)
        with _environment(AFTERGLOW_TEST_BROKER_URL=self.redis.url(0)):
            self.workers = Workers(
                database_name=self.database_name,
                directory=self.directory,
                settings={
                    "PROMPT_LEASE_SECONDS": LEASE_SECONDS,
                    "PROMPT_DISPATCH_BATCH_SIZE": BATCH_SIZE,
                },
                push_delay=PUSH_DELAY_SECONDS,
            )
        self.stack.enter_context(self.workers)
        self.live = self.workers.start(2, timeout=60)
        self.beat = self._start_beat()
        self.stack.callback(self.beat.stop)
        if self.with_web:
            env = service_env(
                database_url=(
                    f"postgres://postgres@127.0.0.1:5432/{self.database_name}?sslmode=disable"
                ),
                redis_url=self.redis.url(0),
                local_dir=self.directory / "web",
            )
            process, base = web(env=env, log=self.directory / "web.log")
            self.stack.callback(process.stop)
            self.probe = ReadyzProbe(base)
            self.stack.callback(self.probe.close)

    def _start_beat(self) -> Process:
        return beat(
            env=self.workers.env
            | {
                "PROMPT_DISPATCH_INTERVAL_SECONDS": str(DISPATCH_INTERVAL_SECONDS),
                "AFTERGLOW_LOCAL_DIR": str(self.directory / "beat"),
            },
            log=self.directory / "beat.log",
        )

    def pushes(self, ids: set[str]) -> list[Push]:
        return [push for push in read_log(self.workers.push_log) if push.prompt_id in ids]

    def supervise(self) -> None:
        """Start a process again when it exits on its own, as compose's `restart:
        unless-stopped` does, and note why it exited."""
        for worker in [w for w in self.live if w.process.poll() is not None]:
            self.live.remove(worker)
            self.died.append(worker)
            self.crashes.append(f"worker {worker.name}: {_exit_reason(worker.process, worker.log)}")
            self.live += self.workers.start(1, timeout=60)
        if not self.beat.running():
            self.crashes.append(f"beat: {_exit_reason(self.beat.process, self.beat.log)}")
            self.beat = self._start_beat()
            self.stack.callback(self.beat.stop)


def _exit_reason(process: subprocess.Popen[bytes], log: Path) -> str:
    """The exit code and the line of the log that says why (the log is JSON lines)."""
    messages = []
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        try:
            messages.append(str(json.loads(line).get("message", "")))
        except (ValueError, AttributeError):
            messages.append(line)
    for needle in ("Unrecoverable error", "CRITICAL", "Error"):
        for message in reversed(messages):
            if needle in message:
                return f"exit {process.poll()}: {message.splitlines()[0][:200]}"
    return f"exit {process.poll()}: {messages[-1][:200] if messages else 'no output'}"


# One repeat -------------------------------------------------------------------------------


Fault = Callable[[DeliveryRig, set[str], int], "FaultReport"]


class FaultReport:
    def __init__(self, *, detail: str, down: float, up: float | None = None) -> None:
        self.detail = detail
        self.down = down
        self.up = up


def _unsent(ids: set[str]) -> int:
    return Prompt.objects.filter(pk__in=ids).exclude(status=PromptStatus.SENT).count()


def run_repeat(rig: DeliveryRig, index: int, fault: Fault) -> Repeat:
    started = time.monotonic()
    rig.died, rig.crashes = [], []
    ids = {str(prompt.pk) for prompt in make_prompts(PROMPTS, patients=PATIENTS)}
    threshold = rig.rng.randint(PROMPTS // 10, PROMPTS // 2)
    wait_for(
        lambda: len(rig.pushes(ids)) >= threshold,
        timeout=60,
        what=f"{threshold} pushes before the fault",
    )
    report = fault(rig, ids, index)
    problems: list[str] = []

    def all_sent() -> bool:
        rig.supervise()
        return _unsent(ids) == 0

    try:
        wait_for(all_sent, timeout=DELIVERY_TIMEOUT_SECONDS, what="every prompt to be sent")
    except TimeoutError as error:
        problems.append(f"{error}: {_unsent(ids)} left")
    delivered_after = time.monotonic() - (report.up or report.down)

    pushes = rig.pushes(ids)
    died = {worker.process.pid for worker in rig.died}
    dead_children = frozenset(push.pid for push in pushes if push.parent in died)
    repeat = count(ids, pushes, dead_children=dead_children)
    repeat.detail = f"{report.detail}; all sent {delivered_after:.1f} s after"
    if rig.probe is not None and report.up is not None:
        with contextlib.suppress(TimeoutError):
            rig.probe.wait_recovered(up=report.up, timeout=30)
        seen, recovered, after = rig.probe.report("broker", down=report.down, up=report.up)
        repeat.outage_seen, repeat.recovery_seen = seen, recovered
        repeat.readyz_recovery_seconds = after
        if not any(s.status == 200 and s.finished <= report.down for s in rig.probe.samples):
            problems.append("/readyz never answered 200 before the fault")
    rig.supervise()
    repeat.crashes = list(rig.crashes)
    repeat.problems += problems
    repeat.seconds = time.monotonic() - started
    return repeat


def count(ids: set[str], pushes: list[Push], *, dead_children: frozenset[int]) -> Repeat:
    """Per prompt: pushes in the provider's log against deliveries the service recorded."""
    pushed = Counter(push.prompt_id for push in pushes if push.outcome == "delivered")
    recorded = Counter(
        str(prompt_id)
        for prompt_id in DeliveryAttempt.objects.filter(
            prompt_id__in=ids, outcome="delivered"
        ).values_list("prompt_id", flat=True)
    )
    rows = {
        str(pk): (status, attempts, last_error)
        for pk, status, attempts, last_error in Prompt.objects.filter(pk__in=ids).values_list(
            "pk", "status", "attempts", "last_error"
        )
    }
    lost = {
        prompt_id
        for prompt_id in ids
        if not pushed[prompt_id]
        or not recorded[prompt_id]
        or rows[prompt_id][0] != PromptStatus.SENT
        or rows[prompt_id][2]
    }
    # The one repeat the design allows: a pool child killed after the provider's answers
    # and before the write that records them pushed without recording; those prompts go
    # out again after their lease. A child's batch goes out together, so that is at most
    # its batch in hand (BATCH_SIZE prompts), each first pushed by it, pushed twice.
    window: set[str] = set()
    duplicated: set[str] = set()
    first_push: dict[str, Push] = {}
    for push in pushes:
        first_push.setdefault(push.prompt_id, push)
    windows_per_child: Counter[int] = Counter()
    for prompt_id in sorted(ids):
        if recorded[prompt_id] > 1:
            duplicated.add(prompt_id)
        elif pushed[prompt_id] > 1:
            child = first_push[prompt_id].pid
            if (
                pushed[prompt_id] == 2
                and recorded[prompt_id] == 1
                and child in dead_children
                and windows_per_child[child] < BATCH_SIZE
            ):
                windows_per_child[child] += 1
                window.add(prompt_id)
            else:
                duplicated.add(prompt_id)
    recovered = {prompt_id for prompt_id in ids - lost if rows.get(prompt_id, ("", 0, ""))[1] >= 2}
    return Repeat(
        items=len(ids),
        lost=len(lost),
        duplicated=len(duplicated),
        recovered=len(recovered),
        window=len(window),
        seconds=0.0,
    )


# The faults -------------------------------------------------------------------------------


def kill_a_worker(rig: DeliveryRig, ids: set[str], index: int) -> FaultReport:
    """SIGKILL the worker (main process and pool children at once) that pushed last, so it
    is mid-batch, and start a replacement as an orchestrator would."""
    latest = rig.pushes(ids)[-1]
    victim = next((w for w in rig.live if w.process.pid == latest.parent), rig.live[0])
    victim.kill()
    down = time.monotonic()
    pushed = len(rig.pushes(ids))
    sending = Prompt.objects.filter(pk__in=ids, status=PromptStatus.SENDING).count()
    rig.live.remove(victim)
    rig.died.append(victim)
    rig.live += rig.workers.start(1, timeout=60)
    return FaultReport(
        detail=f"killed after {pushed} of {len(ids)} pushes, {sending} sending", down=down
    )


def restart_redis(rig: DeliveryRig, ids: set[str], index: int) -> FaultReport:
    """Stop the broker (SIGTERM, or SIGKILL every other time), keep it down long enough
    for /readyz to notice, start it again on the same port, empty."""
    queued = rig.redis.client().llen(rig.workers.queue)
    signum = signal.SIGKILL if index % 2 else signal.SIGTERM
    pushed = len(rig.pushes(ids))
    down = time.monotonic()
    rig.redis.stop(signum)
    time.sleep(REDIS_DOWN_SECONDS)
    rig.redis.start()
    up = time.monotonic()
    return FaultReport(
        detail=(
            f"{signal.Signals(signum).name} after {pushed} of {len(ids)} pushes; "
            f"{queued} queued messages lost"
        ),
        down=down,
        up=up,
    )


# Whether a fault strands work is timing: a broker restart between two deliveries loses
# only dispatch ticks, and every prompt goes out without a recovery to prove. Such a repeat
# proves nothing either way (results.py says "not tested"), so up to this many more run
# until one strands something; every repeat run still counts for lost and duplicated.
EXTRA_REPEATS_UNTIL_STRANDED = 3


def run(
    name: str, *, repeats: int, directory: Path, database_name: str, rng: random.Random
) -> Scenario:
    fault: Fault = kill_a_worker if name == "worker-kill" else restart_redis
    scenario = Scenario(name, repeats)
    started = time.monotonic()
    try:
        with DeliveryRig(
            directory=directory,
            database_name=database_name,
            with_web=name == "redis-restart",
            rng=rng,
        ) as rig:
            for index in range(repeats + EXTRA_REPEATS_UNTIL_STRANDED):
                if index >= repeats and any(r.recovered or r.lost for r in scenario.repeats):
                    break  # the fault was tested: it stranded work, which came back
                repeat = run_repeat(rig, index, fault)
                scenario.repeats.append(repeat)
                _say(name, index, repeat)
                if repeat.problems:
                    break  # a rig in an unknown state tells nothing more
    except Exception as error:
        scenario.error = f"{type(error).__name__}: {error}"
    scenario.seconds = time.monotonic() - started
    return scenario


def _say(name: str, index: int, repeat: Repeat) -> None:
    readyz = ""
    if repeat.outage_seen is not None:
        after = repeat.readyz_recovery_seconds
        readyz = (
            f", readyz outage {'seen' if repeat.outage_seen else 'NOT SEEN'}"
            f", recovery {'seen' if repeat.recovery_seen else 'NOT SEEN'}"
            + (f" {after:.1f} s after" if after is not None else "")
        )
    print(
        f"  {name} #{index + 1}: {repeat.detail}; lost {repeat.lost}, duplicated "
        f"{repeat.duplicated}, recovered {repeat.recovered}, window {repeat.window}{readyz}"
        + "".join(f"\n    CRASHED (started again): {crash}" for crash in repeat.crashes)
        + "".join(f"\n    PROBLEM: {problem}" for problem in repeat.problems),
        flush=True,
    )
