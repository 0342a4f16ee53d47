"""Benchmark: encrypted journal endpoints against a twin that stores plaintext.

    make bench            (or: python -m tests.bench.journal_bench [--rounds N])

One run, one PostgreSQL database, one process. The twin is the very same code with the
key service replaced by an identity (`Sealer.seal` returns the text, `Sealer.open` the
stored value, and no data key is ever loaded), so the difference is exactly the cost of
encryption. Requests alternate between the two so that drift (caches, autovacuum, a busy
neighbour) hits both alike. A round is `--requests` requests of each; its ratio is the
encrypted throughput over the twin's. Prints the median of the rounds' ratios with their
spread (tests/bench/rounds.py), and throughput and p50/p99 over all requests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.bench.database import setup_django
from tests.bench.rounds import figure, goal, quiet_logs, rounds_argument

BENCH_DATABASE = os.environ.get("AFTERGLOW_BENCH_DATABASE", "afterglow_bench")
# What the cipher allows: opening 40 sealed fields is well under 0.1 ms of AES-GCM.
CREATE_GOAL = 0.98
LIST_GOAL = 0.97


@contextlib.contextmanager
def plaintext_twin() -> Iterator[None]:
    from journal.keys import Sealer

    original_seal, original_open = Sealer.seal, Sealer.open

    def plain_seal(self: Sealer, instance: Any, field: str, text: str) -> str:
        return text

    def plain_open(self: Sealer, instance: Any, field: str) -> str:
        return str(getattr(instance, field))

    Sealer.seal = plain_seal  # type: ignore[method-assign]
    Sealer.open = plain_open  # type: ignore[method-assign]
    try:
        yield
    finally:
        Sealer.seal = original_seal  # type: ignore[method-assign]
        Sealer.open = original_open  # type: ignore[method-assign]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "rps": len(samples) / sum(samples),
        "p50": percentile(samples, 0.50) * 1000,
        "p99": percentile(samples, 0.99) * 1000,
    }


def client_for(email: str) -> Any:
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from backend.accounts.models import DeviceToken

    user = get_user_model().objects.create_user(
        email=email, password="bench password 123", display_name="Bench", role="patient"
    )
    _, token = DeviceToken.objects.create(user=user, device_name="bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def entry_payload(index: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "kind": "note",
        "title": f"Evening after session {index}",
        "body": ("I noticed the light on the wall and felt calmer than I expected. " * 16)[:1024],
        "tags": ["calm", "light", "evening"],
        "mood": index % 11,
    }


def measure(
    encrypted: Callable[[int], None], twin: Callable[[int], None], requests: int
) -> tuple[list[float], list[float]]:
    enc_samples: list[float] = []
    twin_samples: list[float] = []
    for index in range(requests):
        # Alternate which goes first, so neither always follows the other.
        order = [(encrypted, enc_samples, False), (twin, twin_samples, True)]
        if index % 2:
            order.reverse()
        for call, samples, is_twin in order:
            context = plaintext_twin() if is_twin else contextlib.nullcontext()
            with context:
                started = time.perf_counter()
                call(index)
                samples.append(time.perf_counter() - started)
    return enc_samples, twin_samples


@dataclass
class Rounds:
    encrypted: list[float] = field(default_factory=list)
    twin: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    def add(self, encrypted: list[float], twin: list[float]) -> None:
        self.encrypted += encrypted
        self.twin += twin
        self.ratios.append((len(encrypted) / sum(encrypted)) / (len(twin) / sum(twin)))


def report(name: str, rounds: Rounds, *, target: float) -> bool:
    enc, twin, ratio = summary(rounds.encrypted), summary(rounds.twin), figure(rounds.ratios)
    print(
        f"  {name:<16} encrypted {enc['rps']:6.1f} req/s  p50 {enc['p50']:5.2f} ms  "
        f"p99 {enc['p99']:6.2f} ms | plaintext twin {twin['rps']:6.1f} req/s  "
        f"p50 {twin['p50']:5.2f} ms  p99 {twin['p99']:6.2f} ms"
    )
    met = ratio.median >= target
    print(f"  {'':<16} ratio {ratio.spread('x')}; goal >= {target:.2f}x: {goal(met)}")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Encrypted vs plaintext journal endpoints")
    parser.add_argument("--rounds", type=rounds_argument, default=7)
    parser.add_argument("--requests", type=int, default=500, help="of each, a round")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args(argv)
    quiet_logs()
    setup_django(BENCH_DATABASE)

    enc_client = client_for("encrypted@bench.test")
    twin_client = client_for("plaintext@bench.test")

    def create(client: Any) -> Callable[[int], None]:
        def call(index: int) -> None:
            response = client.post("/api/v1/entries/", entry_payload(index), format="json")
            if response.status_code != 201:
                raise SystemExit(f"create failed: {response.status_code} {response.content!r}")

        return call

    def list_20(client: Any) -> Callable[[int], None]:
        def call(index: int) -> None:
            response = client.get("/api/v1/entries/?limit=20")
            if response.status_code != 200 or len(response.json()["results"]) != 20:
                raise SystemExit(f"list failed: {response.status_code}")

        return call

    measure(create(enc_client), create(twin_client), args.warmup)
    measure(list_20(enc_client), list_20(twin_client), args.warmup)
    print(
        f"journal benchmark: {args.rounds} rounds of {args.requests} requests per endpoint and "
        "variant, PostgreSQL; ratios are medians of the rounds (lowest-highest)"
    )
    creates, lists = Rounds(), Rounds()
    for _ in range(args.rounds):
        creates.add(*measure(create(enc_client), create(twin_client), args.requests))
        lists.add(*measure(list_20(enc_client), list_20(twin_client), args.requests))
    ok = report("create entry", creates, target=CREATE_GOAL)
    ok &= report("list 20 entries", lists, target=LIST_GOAL)
    print(f"  goals {goal(ok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
