"""What the simulated people do, without locust: the routes, the patient's and the
therapist's actions, and the entries operations measured against the stock twin.

Every action sends exactly one request through a `Send`, so an action is one arrival and
the offered rate is the number of arrivals a second. The locustfile's `Send` goes through
locust's HTTP client; the tests' goes through Django's test client and runs every action
against the real application in process (tests/load/test_scenario.py).
"""

from __future__ import annotations

import random
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

API = "/api/v1"
STOCK = "/api/stock"

# Path templates, each an operation of the OpenAPI schema (the stock ones excepted).
ROUTES: dict[str, str] = {
    "sync": f"{API}/sync/",
    "entries": f"{API}/entries/",
    "entry": f"{API}/entries/{{entry_id}}/",
    "prompts": f"{API}/prompts/",
    "prompt_complete": f"{API}/prompts/{{prompt_id}}/complete/",
    "therapist_patients": f"{API}/therapist/patients/",
    "therapist_patient_shares": f"{API}/therapist/patients/{{patient_id}}/shares/",
    "therapist_share": f"{API}/therapist/shares/{{share_id}}/",
    "therapist_share_measures": f"{API}/therapist/shares/{{share_id}}/measures/",
}
STOCK_ROUTES: dict[str, str] = {
    "entries": f"{STOCK}/entries/",
    "entry": f"{STOCK}/entries/{{entry_id}}/",
}
LIST_SIZE = 20
OPEN_PROMPT_STATUSES = frozenset({"scheduled", "sending", "sent", "opened"})
MEASURE_ITEMS = {"phq9": 9, "gad7": 7}


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    name: str
    expect: tuple[int, ...]
    json: Any
    headers: Mapping[str, str]


class Send(ABC):
    """Send one request; `name` groups it in the statistics. Returns the reply when its
    status is one of `expect`, None when it is not (the transport has recorded the
    failure). Each transport implements `exchange`."""

    def __call__(
        self,
        method: str,
        path: str,
        *,
        name: str,
        expect: tuple[int, ...] = (200,),
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply | None:
        return self.exchange(Request(method, path, name, expect, json, headers or {}))

    @abstractmethod
    def exchange(self, request: Request) -> Reply | None: ...


def stat_name(method: str, route: str, query: str = "") -> str:
    """The name a request is counted under: method and path template (and the query's
    shape, where it has one)."""
    return f"{method} {route}{query}"


def entry_payload(rng: random.Random, *, with_id: bool) -> dict[str, Any]:
    words = ["light", "calm", "brother", "tired", "music", "walk", "grief", "warm"]
    body = " ".join(rng.choice(words) for _ in range(rng.randint(40, 160)))
    payload: dict[str, Any] = {
        "kind": rng.choice(["note", "checkin", "reflection"]) if with_id else "note",
        "title": f"Evening {rng.randint(1, 999)}",
        "body": body,
        "tags": rng.sample(words, 2),
        "mood": rng.randint(0, 10),
    }
    if with_id:
        payload["id"] = str(uuid.uuid4())
    return payload


# The patient ------------------------------------------------------------------------------


@dataclass
class PatientState:
    """What a phone knows: its last sync cursor, the entries it wrote or read (with the
    version of each, for If-Match) and the open prompts its inbox showed."""

    entries: dict[str, int] = field(default_factory=dict)
    cursor: str | None = None
    prompts: list[dict[str, Any]] = field(default_factory=list)


class Patient:
    """A patient's app: syncs, lists, writes and edits entries, reads the inbox and
    answers prompts. Weights are how often each action is picked."""

    WEIGHTS: dict[str, int] = {
        "sync": 3,
        "list_entries": 3,
        "create_entry": 2,
        "edit_entry": 1,
        "inbox": 2,
        "complete_prompt": 1,
    }

    def __init__(self, entries: Mapping[str, int], rng: random.Random) -> None:
        self.state = PatientState(entries=dict(entries))
        self.rng = rng

    def act(self, action: str, send: Send) -> None:
        getattr(self, action)(send)

    def sync(self, send: Send) -> None:
        route = ROUTES["sync"]
        query = f"?since={self.state.cursor}" if self.state.cursor else ""
        reply = send("GET", route + query, name=stat_name("GET", route, "?since=…"))
        if reply is not None:
            self.state.cursor = reply.body["cursor"]
            for change in reply.body["changes"]:
                if change["type"] == "entry" and not change["deleted"]:
                    self.state.entries[change["id"]] = change["data"]["version"]

    def list_entries(self, send: Send) -> None:
        route = ROUTES["entries"]
        send(
            "GET",
            f"{route}?limit={LIST_SIZE}",
            name=stat_name("GET", route, f"?limit={LIST_SIZE}"),
        )

    def create_entry(self, send: Send) -> None:
        route = ROUTES["entries"]
        payload = entry_payload(self.rng, with_id=True)
        reply = send("POST", route, name=stat_name("POST", route), expect=(201,), json=payload)
        if reply is not None:
            self.state.entries[reply.body["id"]] = reply.body["version"]

    def edit_entry(self, send: Send) -> None:
        if not self.state.entries:
            self.list_entries(send)
            return
        entry_id = self.rng.choice(sorted(self.state.entries))
        route = ROUTES["entry"]
        reply = send(
            "PATCH",
            route.format(entry_id=entry_id),
            name=stat_name("PATCH", route),
            json={"body": entry_payload(self.rng, with_id=False)["body"]},
            headers={"If-Match": f'"{self.state.entries[entry_id]}"'},
            # A phone can hold a stale version: its last edit's answer was lost (locust
            # stops a phase's users mid-request). The service's 412 is then right, and the
            # app reads the entry again, as here.
            expect=(200, 412),
        )
        if reply is not None and reply.status == 412:
            fresh = send("GET", route.format(entry_id=entry_id), name=stat_name("GET", route))
            if fresh is not None:
                self.state.entries[entry_id] = fresh.body["version"]
        elif reply is not None:
            self.state.entries[entry_id] = reply.body["version"]

    def inbox(self, send: Send) -> None:
        route = ROUTES["prompts"]
        reply = send("GET", route, name=stat_name("GET", route))
        if reply is not None:
            self.state.prompts = [
                prompt
                for prompt in reply.body["results"]
                if prompt["status"] in OPEN_PROMPT_STATUSES
            ]

    def complete_prompt(self, send: Send) -> None:
        if not self.state.prompts:
            self.inbox(send)
            return
        prompt = self.state.prompts.pop()
        exercise = prompt["exercise"]
        answer: dict[str, Any]
        if exercise["answer_kind"] == "measure":
            items = MEASURE_ITEMS[exercise["instrument"]]
            # Item 9 of the PHQ-9 stays 0: a load test must not page a therapist.
            answers = [self.rng.randint(0, 3) for _ in range(items - 1)] + [0]
            answer = {"measure_id": str(uuid.uuid4()), "answers": answers}
        else:
            answer = {
                "entry_id": str(uuid.uuid4()),
                "body": entry_payload(self.rng, with_id=False)["body"],
                "mood": self.rng.randint(0, 10),
            }
        route = ROUTES["prompt_complete"]
        reply = send(
            "POST",
            route.format(prompt_id=prompt["id"]),
            name=stat_name("POST", route),
            json=answer,
        )
        if reply is not None and reply.body.get("entry"):
            self.state.entries[reply.body["entry"]] = 1


# The therapist ----------------------------------------------------------------------------


class Therapist:
    """A therapist preparing sessions: their patients, a patient's shares, a share's
    content and its measures. Reads only."""

    WEIGHTS: dict[str, int] = {
        "patients": 1,
        "patient_shares": 2,
        "share": 3,
        "share_measures": 1,
    }

    def __init__(self, shares: Mapping[str, list[str]], rng: random.Random) -> None:
        self.shares = {patient: list(ids) for patient, ids in shares.items() if ids}
        self.rng = rng

    def act(self, action: str, send: Send) -> None:
        getattr(self, action)(send)

    def patients(self, send: Send) -> None:
        route = ROUTES["therapist_patients"]
        send("GET", route, name=stat_name("GET", route))

    def patient_shares(self, send: Send) -> None:
        route = ROUTES["therapist_patient_shares"]
        patient_id = self.rng.choice(sorted(self.shares))
        send("GET", route.format(patient_id=patient_id), name=stat_name("GET", route))

    def _share_id(self) -> str:
        return self.rng.choice(self.shares[self.rng.choice(sorted(self.shares))])

    def share(self, send: Send) -> None:
        route = ROUTES["therapist_share"]
        send("GET", route.format(share_id=self._share_id()), name=stat_name("GET", route))

    def share_measures(self, send: Send) -> None:
        route = ROUTES["therapist_share_measures"]
        send("GET", route.format(share_id=self._share_id()), name=stat_name("GET", route))


# Ours against the stock twin --------------------------------------------------------------

COMPARED = ("create", "list", "retrieve")


class EntriesClient:
    """The three entries operations the twin also has, against ours or the twin."""

    def __init__(self, entry_ids: list[str], rng: random.Random, *, stock: bool) -> None:
        self.entry_ids = list(entry_ids)
        self.rng = rng
        self.stock = stock
        self.routes = STOCK_ROUTES if stock else {k: ROUTES[k] for k in ("entries", "entry")}

    def act(self, operation: str, send: Send) -> None:
        getattr(self, operation)(send)

    def create(self, send: Send) -> None:
        route = self.routes["entries"]
        # Ours takes the phone's own id, as the app sends it; the stock way has none.
        payload = entry_payload(self.rng, with_id=not self.stock)
        payload["kind"] = "note"
        send("POST", route, name=stat_name("POST", route), expect=(201,), json=payload)

    def list(self, send: Send) -> None:
        route = self.routes["entries"]
        query = f"?limit={LIST_SIZE}"
        send("GET", route + query, name=stat_name("GET", route, query))

    def retrieve(self, send: Send) -> None:
        route = self.routes["entry"]
        entry_id = self.rng.choice(self.entry_ids)
        send("GET", route.format(entry_id=entry_id), name=stat_name("GET", route))


def weighted_choice(weights: Mapping[str, int], rng: random.Random) -> str:
    names = sorted(weights)
    return rng.choices(names, weights=[weights[name] for name in names])[0]
