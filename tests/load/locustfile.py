"""locust users for `make load`: patients, therapists, and the entries operations against
ours or the stock twin. What each person does is in tests/load/scenario.py.

`make load` runs these through tests/load/phases.py. To point locust's own command line
at a service that is already running and seeded by tests/load/seed.py:

    AFTERGLOW_LOAD_SEED=seed.json locust -f tests/load/locustfile.py --headless \
        --host http://127.0.0.1:8000 -u 45 -r 45 -t 60s PatientUser TherapistUser

The seed file is the JSON that tests/load/run_load.py writes (ids and device tokens).
Each user takes the next person of its pool, so a pool is never shared by two users at
once while there are at least as many people as users.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import time
from functools import cache
from typing import Any, ClassVar

import gevent
from locust import FastHttpUser, task
from locust.contrib.fasthttp import FastHttpSession

from tests.load.scenario import (
    EntriesClient,
    Patient,
    Reply,
    Request,
    Send,
    Therapist,
    weighted_choice,
)


@cache
def seed_data() -> dict[str, Any]:
    path = os.environ.get("AFTERGLOW_LOAD_SEED", "")
    if not path:
        raise RuntimeError("AFTERGLOW_LOAD_SEED names the seed file (see tests/load/run_load.py)")
    with open(path) as file:
        data: dict[str, Any] = json.load(file)
    return data


class LocustSend(Send):
    """Sends through a locust user's HTTP client, signed in with the person's device token;
    locust records a failure for every unexpected status."""

    def __init__(self, client: FastHttpSession, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Token {token}"}

    def exchange(self, request: Request) -> Reply | None:
        with self.client.request(
            request.method,
            request.path,
            name=request.name,
            json=request.json,
            headers={**self.headers, **request.headers},
            catch_response=True,
        ) as response:
            if response.status_code not in request.expect:
                code = ""
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    code = str(json.loads(response.content or b"{}").get("code", ""))
                response.failure(f"{response.status_code} {code}".strip())
                return None
            response.success()
            body = json.loads(response.content) if response.content else None
            return Reply(response.status_code, body, dict(response.headers.items()))


class _LoadUser(FastHttpUser):
    """One person with their own device token; each action is one request."""

    abstract = True
    pool: ClassVar[str] = ""
    # Seconds from one request of a paced user to its next (0: closed loop, no wait).
    pace: ClassVar[float] = 0.0
    _counter: ClassVar[itertools.count[int]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = seed_data()[self.pool]
        index = next(type(self)._counter)
        self.person: dict[str, Any] = people[index % len(people)]
        self.rng = random.Random(index)
        self.send = LocustSend(self.client, self.person["token"])

    @classmethod
    def reset_pool(cls) -> None:
        cls._counter = itertools.count()

    def on_start(self) -> None:
        # A fixed arrival rate: each paced user starts one request every `pace` seconds,
        # from a random point of its first period. locust starts users in batches once a
        # second, and its constant_throughput counts from a user's start, which would
        # line every user up into one burst a period; a random phase spreads them evenly.
        if self.pace:
            gevent.sleep(self.rng.uniform(0, self.pace))
        self.next_start = time.monotonic()
        self.begin()

    def wait_time(self) -> float:
        if not self.pace:
            return 0.0
        now = time.monotonic()
        # Behind schedule (the service is slower than the pace): go now, without trying
        # to catch up in a burst; the shortfall shows as achieved below offered.
        self.next_start = max(self.next_start + self.pace, now)
        return self.next_start - now

    def begin(self) -> None:
        """Set up this person's client state."""


# A patient's phone outlives a phase: the next user of the same patient picks up its sync
# cursor and the versions of the entries it knows, as the same phone would.
PHONES: dict[str, Patient] = {}


class PatientUser(_LoadUser):
    """A patient's phone: sync, entries, inbox, prompts (scenario.Patient)."""

    abstract = False
    pool = "patients"
    _counter = itertools.count()

    def begin(self) -> None:
        person_id = self.person["id"]
        if person_id not in PHONES:
            PHONES[person_id] = Patient(self.person["entries"], self.rng)
        self.patient = PHONES[person_id]

    @task
    def act(self) -> None:
        self.patient.act(weighted_choice(Patient.WEIGHTS, self.rng), self.send)


class TherapistUser(_LoadUser):
    """A therapist reading what their patients share (scenario.Therapist)."""

    abstract = False
    pool = "therapists"
    _counter = itertools.count()

    def begin(self) -> None:
        self.therapist = Therapist(self.person["shares"], self.rng)

    @task
    def act(self) -> None:
        self.therapist.act(weighted_choice(Therapist.WEIGHTS, self.rng), self.send)


class _EntriesUser(_LoadUser):
    """One of the compared operations (`operation`: create, list or retrieve), closed loop."""

    abstract = True
    pool = "bench"
    stock: ClassVar[bool] = False
    operation: ClassVar[str] = "list"

    def begin(self) -> None:
        self.entries = EntriesClient(self.person["entries"], self.rng, stock=self.stock)

    @task
    def act(self) -> None:
        self.entries.act(self.operation, self.send)


class OurEntriesUser(_EntriesUser):
    abstract = False
    stock = False
    _counter = itertools.count()


class StockEntriesUser(_EntriesUser):
    abstract = False
    stock = True
    _counter = itertools.count()
