"""The journal scenario: PostgreSQL restarted while patients write.

The rig: a PostgreSQL cluster of its own (never the shared server, which carries the
test run itself), migrated as compose's migrate service does, a private Redis, and
gunicorn (the Makefile's WEB_CMD, production settings). Four patients register through
the API; each has a writer thread that POSTs journal entries with its own random ids, one
after the other, and retries a refused or unanswered write with the same id and text until
it is acknowledged, as the mobile app does.

Each repeat lets the writers run, stops the cluster (`pg_ctl stop -m fast`, or `-m
immediate`, a crash, every other time), keeps it down 1.5 s, starts it again and lets the
writers go on until /readyz says ready and writes are acknowledged again. Then every
acknowledged entry is read back (GET by id) and compared, each patient's list is checked
for entries stored twice, and every refusal seen during the outage must have been a 503
problem document with Retry-After.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.chaos.infra import (
    ROOT,
    PostgresCluster,
    ReadyzProbe,
    RedisServer,
    Rig,
    service_env,
    web,
)
from tests.chaos.results import Repeat, Scenario
from tests.processes import wait_for

WRITERS = 4
DOWN_SECONDS = 1.5
REQUEST_TIMEOUT_SECONDS = 15
RETRY_PAUSE_SECONDS = 0.1
WRITES_AFTER_RECOVERY = 20
WRITING_AFTER_RECOVERY_SECONDS = 1.0
DATABASE = "afterglow"
PASSWORD = "chaos " + secrets.token_urlsafe(12)
WRITERS_CREATE = (
    "import os\n"
    "from backend.accounts.services import user_create_patient\n"
    f"for number in range({WRITERS}):\n"
    "    user_create_patient(email=f'writer{number}@chaos.example.org',"
    " password=os.environ['CHAOS_PASSWORD'], display_name=f'Writer {number}')\n"
)


@dataclass
class Ack:
    payload: dict[str, Any]
    status: int
    at: float
    refused_first: bool


@dataclass
class Writer:
    """One patient's app: writes one entry after another, each until acknowledged."""

    label: str
    base: str
    token: str
    stop: threading.Event
    give_up: threading.Event
    acked: dict[str, Ack] = field(default_factory=dict)
    unacked: dict[str, dict[str, Any]] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)
    refusals: int = 0

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"writer-{self.label}", daemon=True)

    def _run(self) -> None:
        headers = {"Authorization": f"Token {self.token}"}
        with httpx.Client(
            base_url=self.base, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
        ) as client:
            number = 0
            while not self.stop.is_set():
                number += 1
                if not self._write(client, self._payload(number)):
                    return

    def _payload(self, number: int) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "kind": "note",
            "title": f"chaos {self.label} {number}",
            "body": f"After the session {secrets.token_hex(16)}: the light on the wall.",
            "tags": ["chaos", f"n{number % 7}"],
            "mood": number % 11,
        }

    def _write(self, client: httpx.Client, payload: dict[str, Any]) -> bool:
        refused = False
        while True:
            try:
                response: httpx.Response | None = client.post("/api/v1/entries/", json=payload)
            except httpx.HTTPError as error:
                response = None
                self.bad.append(f"no answer ({type(error).__name__})")
            if response is not None and response.status_code in (200, 201):
                if _answered_id(response) != payload["id"]:
                    self.bad.append(f"{response.status_code} without this entry's id")
                self.acked[payload["id"]] = Ack(
                    payload, response.status_code, time.monotonic(), refused
                )
                return True
            if response is not None:
                if is_clean_refusal(response):
                    self.refusals += 1
                else:
                    self.bad.append(
                        f"{response.status_code} {response.headers.get('content-type', '')}: "
                        f"{response.text[:120]!r}"
                    )
            refused = True
            if self.give_up.is_set():
                self.unacked[payload["id"]] = payload
                return False
            time.sleep(RETRY_PAUSE_SECONDS)


def _answered_id(response: httpx.Response) -> object:
    try:
        return response.json().get("id")
    except (ValueError, AttributeError):
        return None


def is_clean_refusal(response: httpx.Response) -> bool:
    """What an app can act on: 503, a problem document saying the database is away, and
    when to try again."""
    if response.status_code != 503:
        return False
    if response.headers.get("content-type") != "application/problem+json":
        return False
    if not response.headers.get("retry-after", "").isdigit():
        return False
    try:
        return bool(response.json().get("code") == "database_unavailable")
    except ValueError:
        return False


class WritesRig(Rig):
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.stack = contextlib.ExitStack()
        self.tokens: list[str] = []

    def _start(self) -> None:
        self.cluster = PostgresCluster(self.directory)
        self.stack.callback(self.cluster.destroy)
        self.cluster.init()
        self.cluster.start()
        with psycopg.connect(self.cluster.url("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        self.redis = RedisServer(self.directory).start()
        self.stack.callback(self.redis.close)
        env = service_env(
            database_url=self.cluster.url(DATABASE),
            redis_url=self.redis.url(0),
            local_dir=self.directory / "web",
        )
        with (self.directory / "migrate.log").open("wb") as log:
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--no-input"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=300,
            )
        process, self.base = web(env=env, log=self.directory / "web.log")
        self.stack.callback(process.stop)
        self.probe = ReadyzProbe(self.base)
        self.stack.callback(self.probe.close)
        # Registration signs a device in only once a code sent by e-mail is typed in; the
        # writers' accounts are made directly, as an operator would, then sign in.
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", WRITERS_CREATE],
            cwd=ROOT,
            env=env | {"CHAOS_PASSWORD": PASSWORD},
            check=True,
            timeout=120,
            capture_output=True,
        )
        with httpx.Client(base_url=self.base, timeout=30) as client:
            for number in range(WRITERS):
                response = client.post(
                    "/api/v1/auth/login/",
                    json={"email": f"writer{number}@chaos.example.org", "password": PASSWORD},
                )
                response.raise_for_status()
                self.tokens.append(response.json()["token"])


def run_repeat(rig: WritesRig, index: int, rng: random.Random) -> Repeat:
    started = time.monotonic()
    stop, give_up = threading.Event(), threading.Event()
    writers = [
        Writer(f"{index + 1}-{number}", rig.base, token, stop, give_up)
        for number, token in enumerate(rig.tokens)
    ]
    for writer in writers:
        writer.thread.start()
    problems: list[str] = []

    def acked(after: float = 0.0) -> int:
        return sum(1 for w in writers for ack in list(w.acked.values()) if ack.at > after)

    try:
        wait_for(lambda: acked() >= 1, timeout=30, what="a first write")
        time.sleep(rng.uniform(0.5, 1.5))
        mode = "immediate" if index % 2 else "fast"
        acked_before = acked()
        down = time.monotonic()
        rig.cluster.stop(mode)
        time.sleep(DOWN_SECONDS)
        rig.cluster.start()
        up = time.monotonic()
        try:
            rig.probe.wait_recovered(up=up, timeout=30)
            wait_for(
                lambda: acked(up) >= WRITES_AFTER_RECOVERY,
                timeout=30,
                what="writes acknowledged after the restart",
            )
            time.sleep(WRITING_AFTER_RECOVERY_SECONDS)
        except TimeoutError as error:
            problems.append(str(error))
    finally:
        stop.set()
        deadline = time.monotonic() + 30
        for writer in writers:
            writer.thread.join(timeout=max(0.1, deadline - time.monotonic()))
        give_up.set()
        for writer in writers:
            writer.thread.join(timeout=REQUEST_TIMEOUT_SECONDS + 5)

    repeat = verify(rig, writers)
    seen, recovered, after = rig.probe.report("database", down=down, up=up)
    repeat.outage_seen, repeat.recovery_seen = seen, recovered
    repeat.readyz_recovery_seconds = after
    if not any(s.status == 200 and s.finished <= down for s in rig.probe.samples):
        problems.append("/readyz never answered 200 before the fault")
    unacked = sum(len(w.unacked) for w in writers)
    if unacked:
        problems.append(f"{unacked} writes never acknowledged after the restart")
    refusals = sum(w.refusals for w in writers)
    answered_late = sum(1 for w in writers for a in w.acked.values() if a.status == 200)
    repeat.detail = (
        f"stop -m {mode} after {acked_before} writes; {refusals} refusals (503); "
        f"{answered_late} committed but unanswered, then answered 200 on retry"
    )
    repeat.problems = problems + repeat.problems
    repeat.seconds = time.monotonic() - started
    return repeat


def verify(rig: WritesRig, writers: list[Writer]) -> Repeat:
    """Every acknowledged entry reads back unchanged; none is stored twice."""
    lost: list[str] = []
    duplicated = 0
    problems: list[str] = []
    with httpx.Client(base_url=rig.base, timeout=30) as client:
        for writer in writers:
            headers = {"Authorization": f"Token {writer.token}"}
            for entry_id, ack in writer.acked.items():
                response = client.get(f"/api/v1/entries/{entry_id}/", headers=headers)
                if response.status_code != 200:
                    lost.append(f"{entry_id}: GET answered {response.status_code}")
                    continue
                stored = response.json()
                changed = [
                    name
                    for name in ("kind", "title", "body", "tags", "mood")
                    if stored.get(name) != ack.payload[name]
                ]
                if changed:
                    lost.append(f"{entry_id}: {', '.join(changed)} differ")
            listed = [
                entry
                for entry in list_entries(client, headers)
                if str(entry.get("title", "")).startswith(f"chaos {writer.label} ")
            ]
            ids = Counter(entry["id"] for entry in listed)
            titles = Counter(entry["title"] for entry in listed)
            duplicated += sum(n - 1 for n in ids.values()) + sum(n - 1 for n in titles.values())
            unknown = set(ids) - set(writer.acked) - set(writer.unacked)
            if unknown:
                problems.append(f"writer {writer.label}: {len(unknown)} entries nobody wrote")
    problems += [f"lost: {line}" for line in lost[:5]]
    bad = [line for writer in writers for line in writer.bad]
    problems += [f"bad answer: {line}" for line in bad[:5]]
    return Repeat(
        items=sum(len(w.acked) for w in writers),
        lost=len(lost),
        duplicated=duplicated,
        recovered=sum(1 for w in writers for a in w.acked.values() if a.refused_first),
        bad=len(bad),
        seconds=0.0,
        problems=problems,
    )


def list_entries(client: httpx.Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    url: str | None = "/api/v1/entries/?limit=200"
    while url:
        response = client.get(url, headers=headers)
        response.raise_for_status()
        page = response.json()
        entries += page["results"]
        url = page["next"]
    return entries


def run(*, repeats: int, directory: Path, rng: random.Random) -> Scenario:
    scenario = Scenario("postgres-restart", repeats)
    reason = PostgresCluster.unavailable()
    if reason:
        scenario.skipped = reason
        return scenario
    started = time.monotonic()
    try:
        with WritesRig(directory) as rig:
            for index in range(repeats):
                repeat = run_repeat(rig, index, rng)
                scenario.repeats.append(repeat)
                _say(index, repeat)
                if repeat.problems:
                    break
    except Exception as error:
        scenario.error = f"{type(error).__name__}: {error}"
    scenario.seconds = time.monotonic() - started
    return scenario


def _say(index: int, repeat: Repeat) -> None:
    after = repeat.readyz_recovery_seconds
    print(
        f"  postgres-restart #{index + 1}: {repeat.detail}; acknowledged {repeat.items}, "
        f"lost {repeat.lost}, duplicated {repeat.duplicated}, recovered {repeat.recovered}, "
        f"bad {repeat.bad}, readyz outage {'seen' if repeat.outage_seen else 'NOT SEEN'}, "
        f"recovery {'seen' if repeat.recovery_seen else 'NOT SEEN'}"
        + (f" {after:.1f} s after" if after is not None else "")
        + "".join(f"\n    PROBLEM: {problem}" for problem in repeat.problems),
        flush=True,
    )
