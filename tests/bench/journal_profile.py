"""Where the journal benchmark's gap goes: the same requests as `journal_bench`, encrypted
and through the plaintext twin, counted by instructions (repeatable on a busy machine,
where wall-clock ratios move by several per cent) or profiled by cProfile.

    python -m tests.bench.journal_profile --cprofile list    (makes the database)
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/journal.cg \\
        python -m tests.bench.journal_profile --callgrind --reuse list
    callgrind_annotate /tmp/journal.cg.1    (encrypted)   /tmp/journal.cg.2    (twin)

`--reuse` takes the database a previous run left, rather than migrating a new one under
valgrind (which takes long).

    python -m tests.bench.journal_profile --cold create

times the cipher's calls alone (no database) hot, one after another, and cold, each after
8 MiB of other memory was touched, as a request's own work does to the caches: the gap
of the benchmark is these calls at their cold cost, not at their hot one.

Under callgrind, counting runs only around the measured requests (one dump for each
variant), with the garbage collector paused so that a collection falls in neither.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import os
import pstats
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import django

from tests.bench.database import SERVER, setup_django
from tests.bench.journal_bench import BENCH_DATABASE, client_for, entry_payload, plaintext_twin
from tests.bench.rounds import quiet_logs


def callgrind(*command: str) -> None:
    subprocess.run(
        ["callgrind_control", *command, str(os.getpid())], check=True, capture_output=True
    )


def hot_and_cold(samples: int = 300) -> int:
    """Median µs of sealing a 1 KB body, opening it and AES-GCM alone, hot and cold."""
    import statistics
    import time
    import uuid

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from journal.crypto import SealedRow, SealingKey, new_data_key, open_in_row, seal_in_row

    key = SealingKey(new_data_key())
    row = SealedRow("journal_entry", str(uuid.uuid4()), str(uuid.uuid4()), 1)
    text = ("I noticed the light on the wall and felt calmer than I expected. " * 16)[:1024]
    token = seal_in_row(key, text, row=row, field="body", key_version=1)
    aead, nonce, data = AESGCM(new_data_key()), os.urandom(12), text.encode()
    other = bytearray(8 * 1024 * 1024)

    def touch_other_memory() -> None:
        for index in range(0, len(other), 64):
            other[index] ^= 1

    calls: dict[str, Callable[[], object]] = {
        "seal a 1 KB field": lambda: seal_in_row(key, text, row=row, field="body", key_version=1),
        "open it": lambda: open_in_row(lambda _: key, token, row=row, field="body"),
        "AES-GCM encrypt alone": lambda: aead.encrypt(nonce, data, b"associated"),
    }
    for name, call in calls.items():
        hot: list[int] = []
        cold: list[int] = []
        for _ in range(samples):
            started = time.perf_counter_ns()
            call()
            hot.append(time.perf_counter_ns() - started)
            touch_other_memory()
            started = time.perf_counter_ns()
            call()
            cold.append(time.perf_counter_ns() - started)
        print(
            f"{name:<24} hot {statistics.median(hot) / 1000:6.1f} µs   "
            f"cold {statistics.median(cold) / 1000:6.1f} µs  (medians of {samples})"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Instructions or a profile, encrypted vs twin")
    parser.add_argument("endpoint", choices=["list", "create"])
    parser.add_argument("--requests", type=int, default=20)
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--callgrind", action="store_true", help="run under valgrind's callgrind")
    how.add_argument("--cprofile", action="store_true")
    how.add_argument("--cold", action="store_true", help="the cipher's calls hot and cold")
    parser.add_argument("--reuse", action="store_true", help="the database of a previous run")
    args = parser.parse_args(argv)
    quiet_logs()
    if args.cold:
        return hot_and_cold()
    if args.reuse:
        os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings_test"
        os.environ["DATABASE_URL"] = f"{SERVER}/{BENCH_DATABASE}"
        django.setup()
        from backend.accounts.models import User

        User.objects.filter(email__endswith="@bench.test").delete()
    else:
        setup_django(BENCH_DATABASE)
    encrypted, twin = client_for("encrypted@bench.test"), client_for("plaintext@bench.test")
    created = iter(range(10**9))

    def create(client: Any) -> None:
        response = client.post("/api/v1/entries/", entry_payload(next(created)), format="json")
        assert response.status_code == 201, response.status_code

    def list_20(client: Any) -> None:
        assert len(client.get("/api/v1/entries/?limit=20").json()["results"]) == 20

    call: Callable[[Any], None] = create if args.endpoint == "create" else list_20
    for _ in range(60):  # rows to list, and warm caches on both sides
        create(encrypted)
        with plaintext_twin():
            create(twin)
    for name, client, variant in (
        ("encrypted", encrypted, contextlib.nullcontext),
        ("twin", twin, plaintext_twin),
    ):
        with variant():
            call(client)
            gc.collect()
            gc.disable()
            profile = cProfile.Profile()
            if args.callgrind:
                callgrind("--instr=on")
                callgrind("--zero")  # nothing before the measured requests
            else:
                profile.enable()
            for _ in range(args.requests):
                call(client)
            if args.callgrind:
                callgrind("--dump", name)
            else:
                profile.disable()
                print(f"{name}:")
                pstats.Stats(profile).sort_stats("tottime").print_stats(15)
            gc.enable()
    return 0


if __name__ == "__main__":
    sys.exit(main())
