"""`make leakscan`: nothing a patient writes may leak out of the sealed columns.

    python -m tests.leakscan.leakscan

Starts the real service (gunicorn and a Celery worker, at log level DEBUG) on a database
and a Redis database of its own, writes journal text carrying random canaries through
every flow over HTTP (tests/leakscan/flows.py: entries, sessions, prompts, measures,
shares, therapist reads by API and dashboard, exports, sync, key rotation in the worker,
and errors provoked on purpose), then searches every place text could end up:

- the database (`pg_dump`), every SQL text and parameter sent to PostgreSQL and every
  reply (a relay records the wire), and PostgreSQL's own log with `log_statement = all`
  for this database;
- Redis: every key and value left, and every command run while the service ran (MONITOR:
  broker messages already consumed, cache writes already expired);
- every e-mail the service sent (codes and notices, through an SMTP server of the scan's
  own, aiosmtpd on a free loopback port; the journey reads the codes from it);
- the API's and the worker's logs, the push payloads (the console provider's lines), the
  Django admin's pages (signed in with a password and a TOTP code, as the admin
  requires), the error answers, the management commands' output;
- and, in the API's and the worker's logs, the e-mail addresses of the scan's accounts:
  an address in a log line marks a person as a KAP patient.

It prints a table of places, how much was scanned and the hits, and exits 1 unless every
place has none. The positive controls must not be zero: the patient's own answers
(decrypted) carry every stored canary, the therapist's carry the shared ones, and canaries
the scanner plants itself in Redis are found there, so zero elsewhere means something.

Artefacts (logs, dump, wire, MONITOR capture, transcript, report.json) are kept in
test-artifacts/leakscan/. The database is dropped at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from celery import Celery

from tests.leakscan import flows
from tests.leakscan.canaries import Finder, Registry, unescape_monitor
from tests.leakscan.capture import RedisMonitor, Service, WireRecorder
from tests.processes import drop_database, free_port, recreate_database, wait_for
from tests.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "leakscan"
LOCK = ROOT / "test-artifacts" / ".leakscan.lock"
BIN = Path(sys.executable).parent
# Both can be moved, so that two checkouts on one machine can scan at the same time.
DB_NAME = os.environ.get("LEAKSCAN_DATABASE", "afterglow_leakscan")
PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = int(os.environ.get("LEAKSCAN_REDIS_DB", "8"))
if not re.fullmatch(r"[a-z_][a-z0-9_]*", DB_NAME):
    raise SystemExit(f"LEAKSCAN_DATABASE must be a plain lower-case name, not {DB_NAME!r}")
DB_URL = f"postgres://postgres@{PG_HOST}:{PG_PORT}/{DB_NAME}"
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
ADMIN_PASSWORD = "leakscan-admin " + secrets.token_urlsafe(12)
CACHE_PREFIX = b"afterglow:"  # settings.CACHES KEY_PREFIX
SEALED_PREFIX = b"ag2."  # journal.crypto.TOKEN_PREFIX: what every seal writes


def _say(message: str) -> None:
    print(f"[leakscan {time.strftime('%H:%M:%S')}] {message}", flush=True)


# Results ----------------------------------------------------------------------------------


@dataclass
class Place:
    name: str
    scanned: str
    hits: Counter[str]
    skipped: str = ""

    @property
    def total(self) -> int:
        return sum(self.hits.values())


@dataclass
class Control:
    name: str
    value: int
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.value > 0


@dataclass
class Report:
    places: list[Place] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def leaks(self) -> int:
        return sum(place.total for place in self.places)

    @property
    def ok(self) -> bool:
        return self.leaks == 0 and all(control.ok for control in self.controls)

    def render(self) -> str:
        names = [place.name for place in self.places] + [c.name for c in self.controls]
        width = max(map(len, names)) + 2
        lines = [f"{'place':<{width}}{'scanned':>26}{'hits':>8}", "-" * (width + 34)]
        for place in self.places:
            hits = "skip" if place.skipped else str(place.total)
            lines.append(f"{place.name:<{width}}{place.scanned or place.skipped:>26}{hits:>8}")
        lines += ["", f"{'positive controls (must be > 0)':<{width}}{'':>26}{'count':>8}"]
        lines.append("-" * (width + 34))
        for control in self.controls:
            mark = "" if control.ok else "  <- FAILED"
            lines.append(f"{control.name:<{width}}{control.detail:>26}{control.value:>8}{mark}")
        leaking = [place for place in self.places if place.total]
        if leaking:
            lines += ["", "LEAKS (canary label: hits)"]
            for place in leaking:
                found = ", ".join(f"{label}: {n}" for label, n in place.hits.most_common())
                lines.append(f"  {place.name}: {found}")
        for note in self.notes:
            lines.append(f"note: {note}")
        verdict = "PASS: no canary outside the patient's and therapist's own answers"
        if not self.ok:
            verdict = f"FAIL: {self.leaks} leak hit(s)" + (
                "" if all(c.ok for c in self.controls) else "; a positive control failed"
            )
        lines += ["", verdict]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "leaks": self.leaks,
            "places": [
                {"name": p.name, "scanned": p.scanned, "hits": dict(p.hits), "skipped": p.skipped}
                for p in self.places
            ],
            "controls": [
                {"name": c.name, "value": c.value, "detail": c.detail, "ok": c.ok}
                for c in self.controls
            ],
            "notes": self.notes,
        }


def unfold_icalendar(body: bytes) -> bytes:
    """An iCalendar document as its text reads: folded lines joined (RFC 5545 3.1) and
    TEXT escapes undone (3.3.11), so a canary split by a fold or escaped is still found."""
    unfolded = re.sub(rb"\r\n[ \t]", b"", body)
    return re.sub(
        rb"\\([\\;,nN])", lambda m: b"\n" if m.group(1) in b"nN" else m.group(1), unfolded
    )


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return str(count)


# Infrastructure ---------------------------------------------------------------------------


def _admin_connection() -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True
    )


def _database_connection() -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user="postgres", dbname=DB_NAME, autocommit=True
    )


def _create_database() -> bool:
    """A fresh database; True when its statements go to the server log."""
    recreate_database(DB_URL)
    with _admin_connection() as connection:
        try:
            connection.execute(f"ALTER DATABASE {DB_NAME} SET log_statement = 'all'")
            connection.execute(f"ALTER DATABASE {DB_NAME} SET log_parameter_max_length = -1")
        except psycopg.Error:
            return False
    return True


def _server_log() -> Path | None:
    """PostgreSQL's log file, when this process may read it."""
    configured = os.environ.get("LEAKSCAN_PG_LOG")
    if configured:
        candidates = [Path(configured)]
    else:
        with _admin_connection() as connection:

            def value(query: str) -> str:
                row = connection.execute(query).fetchone()
                return str(row[0]) if row and row[0] is not None else ""

            current = value("SELECT pg_current_logfile()")
            major = int(value("SHOW server_version_num") or 0) // 10000
            directory = value("SHOW data_directory")
        candidates = [Path(directory) / current] if current else []
        candidates.append(Path(f"/var/log/postgresql/postgresql-{major}-main.log"))
    for path in candidates:
        if path.is_file() and os.access(path, os.R_OK):
            return path
    return None


def _base_env() -> dict[str, str]:
    """A clean environment: nothing of the caller's settings (pytest's included)."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TZ")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    env.setdefault("LANG", "C.UTF-8")
    env |= {"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    return env


def _service_env(database_port: int, local_dir: Path) -> dict[str, str]:
    return _base_env() | {
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "JOURNAL_KEKS": "1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "DATABASE_URL": (
            f"postgres://postgres@{PG_HOST}:{database_port}/{DB_NAME}?sslmode=disable"
        ),
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "LOG_LEVEL": "DEBUG",
        # Plain HTTP on the loopback: cookies without the Secure flag, or the dashboard's
        # session and CSRF cookies would never come back.
        "SECURE_COOKIES": "false",
        "ALLOW_INSECURE_COOKIES": "true",
        "AFTERGLOW_LOCAL_DIR": str(local_dir),
        "PUSH_PROVIDER_DEFAULT": "integration.providers.console.ConsoleProvider",
        # No memory of active key versions, so no grace after a data key rotation: the
        # re-seal drops the old key at once instead of looking again minutes later (and
        # the worker's queue empties within the scan).
        "JOURNAL_ACTIVE_KEY_CACHE_SECONDS": "0",
        # The admin is off unless turned on: on, so that its pages are scanned too.
        "ADMIN_ENABLED": "true",
    }


@dataclass
class Run:
    registry: Registry
    run_id: str
    env: dict[str, str]
    commands_log: Path
    services: list[Service] = field(default_factory=list)

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = result.stdout + result.stderr
        with self.commands_log.open("a") as log:
            log.write(f"$ manage.py {' '.join(args)}\n{output}\n")
        if result.returncode != 0:
            raise flows.FlowError(f"manage.py {args[0]} failed:\n{output[-3000:]}")
        return output

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Service:
        service = Service(name, command, env=env, cwd=ROOT, log=ARTIFACTS / f"{name}.log")
        self.services.append(service)
        return service

    def stop_all(self) -> None:
        for service in reversed(self.services):
            service.stop()


def _worker_idle(client: Any) -> bool:
    return not client.llen("celery") and not client.hlen("unacked")


# Scanning ---------------------------------------------------------------------------------


def _scan_files(finder: Finder, paths: list[Path]) -> tuple[Counter[str], int]:
    hits: Counter[str] = Counter()
    size = 0
    for path in paths:
        data = path.read_bytes()
        size += len(data)
        hits += finder.count(data)
    return hits, size


def _bodies_place(name: str, bodies: list[bytes], finder: Finder, *, counted: str) -> Place:
    """A place made of answers' bodies: their total size and `counted` (how many of what)
    as what was scanned, and the hits in them."""
    scanned = f"{_size(sum(map(len, bodies)))}, {counted}"
    return Place(name, scanned, finder.count(b"\n".join(bodies)))


def _dump_redis(client: Any, path: Path) -> int:
    """Every key of the database with its value, by type, one record a line."""
    count = 0
    with path.open("wb") as out:
        for key in client.scan_iter(count=1000):
            kind = bytes(client.type(key)).decode()
            value: Any
            if kind == "string":
                value = [client.get(key)]
            elif kind == "list":
                value = client.lrange(key, 0, -1)
            elif kind == "hash":
                value = [item for pair in client.hgetall(key).items() for item in pair]
            elif kind == "set":
                value = list(client.smembers(key))
            elif kind == "zset":
                value = [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
            elif kind == "stream":
                value = [
                    item
                    for _, fields in client.xrange(key)
                    for pair in fields.items()
                    for item in pair
                ]
            else:
                value = []
            out.write(b"\x1e" + kind.encode() + b" " + key + b"\n")
            for item in value:
                if item is not None:
                    out.write(item + b"\n")
            count += 1
    return count


_MONITOR_LINE = re.compile(rb'^\+?[0-9.]+ \[(\d+) [^\]]*\] "([^"]*)"(?: "((?:[^"\\]|\\.)*)")?')


def _split_monitor(path: Path) -> dict[str, list[bytes]]:
    """MONITOR lines (escapes undone) by what they touch: the broker, the cache, or
    another database."""
    parts: dict[str, list[bytes]] = {"broker": [], "cache": [], "other": []}
    for line in path.read_bytes().splitlines():
        match = _MONITOR_LINE.match(line)
        if match is None:
            parts["other"].append(unescape_monitor(line))
            continue
        db, key = int(match.group(1)), unescape_monitor(match.group(3) or b"")
        if db != REDIS_DB:
            parts["other"].append(unescape_monitor(line))
        elif key.startswith(CACHE_PREFIX):
            parts["cache"].append(unescape_monitor(line))
        else:
            parts["broker"].append(unescape_monitor(line))
    return parts


_LOG_RECORD_START = re.compile(rb"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.MULTILINE)


def _mail_env(smtp: SmtpServer) -> dict[str, str]:
    """The service sends its e-mail to the scan's own SMTP server (aiosmtpd)."""
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "DEFAULT_FROM_EMAIL": "Afterglow <no-reply@leakscan.example.org>",
    }


def _mail_place(registry: Registry, smtp: SmtpServer) -> Place:
    """Every message the service sent (codes and notices): no journal text, no password."""
    messages = smtp.messages()
    data = "\n".join(message.raw for message in messages)
    scanned = f"{_size(len(data))}, {len(messages)} messages"
    return Place("e-mail: every message sent", scanned, registry.finder().count(data))


def _scan(
    registry: Registry,
    http: flows.Http,
    *,
    wire: WireRecorder,
    monitor_path: Path,
    server_log: tuple[Path, int] | None,
    log_statement: bool,
    admin_pages: int,
    control_key: str,
    addresses: Registry,
) -> Report:
    finder = registry.finder()
    address_finder = addresses.finder()
    report = Report()
    places = report.places

    _say("pg_dump")
    dump = ARTIFACTS / "pg_dump.sql"
    with dump.open("wb") as out:
        subprocess.run(
            ["pg_dump", "-h", PG_HOST, "-p", str(PG_PORT), "-U", "postgres", DB_NAME],
            stdout=out,
            check=True,
            env=_base_env(),
        )
    data = dump.read_bytes()
    dumped = finder.count(data)
    places.append(Place("PostgreSQL: pg_dump of the database", _size(len(data)), dumped))
    sealed_in_dump = data.count(SEALED_PREFIX)

    _say("scanning the PostgreSQL wire")
    sent, sent_size = _scan_files(finder, wire.files("c2s"))
    places.append(
        Place(
            "PostgreSQL: SQL text and parameters sent",
            f"{_size(sent_size)}, {wire.connections} conns",
            sent,
        )
    )
    received, received_size = _scan_files(finder, wire.files("s2c"))
    places.append(Place("PostgreSQL: replies (rows, errors)", _size(received_size), received))
    sealed_on_wire = sum(path.read_bytes().count(SEALED_PREFIX) for path in wire.files("c2s"))

    our_statements = 0
    if server_log is None or not log_statement:
        why = "log not readable" if server_log is None else "log_statement not settable"
        places.append(Place("PostgreSQL: server log (log_statement=all)", "", Counter(), why))
    else:
        path, offset = server_log
        with path.open("rb") as log:
            log.seek(offset)
            tail = log.read()
        (ARTIFACTS / "postgresql-server.log").write_bytes(tail)
        our_statements = len(re.findall(rb"@" + DB_NAME.encode() + rb" LOG:  statement", tail))
        our_statements += len(re.findall(rb"@" + DB_NAME.encode() + rb" LOG:  execute", tail))
        places.append(
            Place(
                "PostgreSQL: server log (log_statement=all)",
                f"{_size(len(tail))}, {our_statements} stmts",
                finder.count(tail),
            )
        )

    _say("scanning Redis")
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    redis_dump = ARTIFACTS / f"redis-db{REDIS_DB}.dump"
    keys = _dump_redis(client, redis_dump)
    redis_hits = finder.count(redis_dump.read_bytes())
    places.append(
        Place(
            f"Redis db {REDIS_DB}: every key and value",
            f"{_size(redis_dump.stat().st_size)}, {keys} keys",
            finder.leaks(redis_hits),
        )
    )
    monitor = _split_monitor(monitor_path)
    monitor_hits: dict[str, Counter[str]] = {}
    for part, title in (
        ("broker", f"Redis db {REDIS_DB}: broker messages (MONITOR)"),
        ("cache", f"Redis db {REDIS_DB}: cache commands (MONITOR)"),
        ("other", "Redis: other databases (MONITOR)"),
    ):
        blob = b"\n".join(monitor[part])
        monitor_hits[part] = finder.count(blob)
        places.append(
            Place(
                title,
                f"{_size(len(blob))}, {len(monitor[part])} cmds",
                finder.leaks(monitor_hits[part]),
            )
        )
    published = sum(1 for line in monitor["broker"] if re.search(rb'"[LR]PUSH" "celery"', line))

    _say("scanning logs, pushes, pages")
    api_hits, api_size = _scan_files(finder, [ARTIFACTS / "gunicorn.log"])
    places.append(Place("API log (gunicorn stdout+stderr)", _size(api_size), api_hits))
    worker_log = (ARTIFACTS / "worker.log").read_bytes()
    pushes = [line for line in worker_log.splitlines() if b"push -> " in line]
    rest = b"\n".join(line for line in worker_log.splitlines() if b"push -> " not in line)
    places.append(Place("worker log (celery stdout+stderr)", _size(len(rest)), finder.count(rest)))
    places.append(
        Place(
            "push payloads (console provider)",
            f"{len(pushes)} pushes",
            finder.count(b"\n".join(pushes)),
        )
    )
    (ARTIFACTS / "pushes.log").write_bytes(b"\n".join(pushes) + b"\n")
    admin = [x.body for x in http.exchanges if x.audience == flows.ADMIN]
    places.append(
        _bodies_place("Django admin pages (staff)", admin, finder, counted=f"{admin_pages} pages")
    )
    errors = [x.body for x in http.exchanges if x.status >= 400 and x.audience != flows.ADMIN]
    places.append(
        _bodies_place(
            "error answers (4xx/5xx problem documents)",
            errors,
            finder,
            counted=f"{len(errors)} answers",
        )
    )
    upcoming = [x.body for x in http.exchanges if x.step == flows.UPCOMING_STEP]
    places.append(
        _bodies_place(
            "the patient's upcoming view (sessions, reminders, prompts)",
            upcoming,
            finder,
            counted=f"{len(upcoming)} answers",
        )
    )
    anonymous = [x.body for x in http.exchanges if x.audience == flows.ANONYMOUS and x.status < 400]
    places.append(
        Place(
            "sign-in and enrolment answers",
            f"{len(anonymous)} answers",
            finder.count(b"\n".join(anonymous)),
        )
    )
    feeds = [
        unfold_icalendar(x.body)
        for x in http.exchanges
        if x.audience == flows.CALENDAR and x.status < 400
    ]
    places.append(
        _bodies_place(
            "calendar feed (iCalendar, unfolded)", feeds, finder, counted=f"{len(feeds)} reads"
        )
    )
    commands, commands_size = _scan_files(finder, [ARTIFACTS / "commands.log"])
    places.append(Place("manage.py commands' output", _size(commands_size), commands))
    api_addresses, _ = _scan_files(address_finder, [ARTIFACTS / "gunicorn.log"])
    places.append(
        Place(
            "API log: the accounts' e-mail addresses",
            f"{len(addresses.canaries)} addresses",
            api_addresses,
        )
    )
    places.append(
        Place(
            "worker log: the accounts' e-mail addresses",
            f"{len(addresses.canaries)} addresses",
            address_finder.count(worker_log),
        )
    )

    # Positive controls ------------------------------------------------------------------
    controls = report.controls
    own = Counter[str]()
    for exchange in http.exchanges:
        if exchange.audience == flows.PATIENT and exchange.status < 400:
            own += finder.count(exchange.body)
    # Errors and secrets (new passwords: only their hashes are kept) are never read back.
    stored = [
        c.label
        for c in registry.canaries
        if not c.is_control and not c.label.startswith(("error.", "secret."))
    ]
    missing = [label for label in stored if not own[label]]
    controls.append(
        Control("patient's own answers (decrypted)", sum(own.values()), f"{len(stored)} texts")
    )
    controls.append(
        Control(
            "stored texts read back by the patient",
            len(stored) - len(missing),
            f"of {len(stored)}",
        )
    )
    if missing:
        controls[-1].value = 0
        report.notes.append("never read back (was it written?): " + ", ".join(missing))
    shared = Counter[str]()
    for exchange in http.exchanges:
        if exchange.audience == flows.THERAPIST and exchange.status < 400:
            shared += finder.count(exchange.body)
    controls.append(Control("therapist's answers (API + dashboard)", sum(shared.values())))
    controls.append(Control("sealed tokens in pg_dump", sealed_in_dump))
    controls.append(Control("sealed tokens in SQL sent", sealed_on_wire))
    if log_statement and server_log is not None:
        controls.append(Control("statements in the server log", our_statements))
    controls.append(Control("task messages published (MONITOR)", published))
    controls.append(Control("push payloads", len(pushes)))
    controls.append(Control("planted canary found: Redis keys", redis_hits[control_key]))
    controls.append(Control("planted canary found: MONITOR", monitor_hits["cache"][control_key]))
    controls.append(Control("admin pages scanned", admin_pages))
    controls.append(Control("calendar feed reads scanned", len(feeds)))
    # The accounts are in the database by their addresses: the address search finds them
    # there, so finding none in the logs means something.
    controls.append(
        Control(
            "account addresses found in pg_dump",
            sum(address_finder.count(data).values()),
            f"{len(addresses.canaries)} addresses",
        )
    )
    return report


# The run ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    """One scan at a time on this machine: they share the database and Redis names."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _admin_pages(http: flows.Http, *, email: str, totp: flows.Totp) -> int:
    browser = http.client()
    page = http.call(browser, "admin sign-in page", "GET", "/admin/login/", audience=flows.ADMIN)
    http.call(
        browser,
        "admin sign-in (TOTP)",
        "POST",
        "/admin/login/?next=/admin/",
        audience=flows.ADMIN,
        expect=(302,),
        data={
            "csrfmiddlewaretoken": flows._csrf_token(page.text),
            "username": email,
            "password": ADMIN_PASSWORD,
            "otp_token": totp.code(),
            "next": "/admin/",
        },
    )
    pages = flows.crawl(
        http,
        browser,
        ["/admin/"],
        prefix="/admin/",
        audience=flows.ADMIN,
        limit=400,
        skip=("/logout/", "/password_change/", "/delete/", "/add/", "/jsi18n/", "/admin/r/"),
    )
    return len(pages)


def _account_addresses(journey: flows.Journey, staff_email: str) -> Registry:
    """The scan's accounts' addresses, searched as written (any case, either half)."""
    addresses = Registry()
    addresses.literal("address: patient", journey.patient_email)
    addresses.literal("address: therapist", journey.therapist_email)
    addresses.literal("address: staff", staff_email)
    return addresses


def run() -> Report:
    registry = Registry()
    run_id = secrets.token_hex(4)
    started = time.monotonic()
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    local_dir = ARTIFACTS / "local"

    cache = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    with contextlib.ExitStack() as stack:
        # Undone last, whatever happens: the database dropped, the Redis database emptied.
        stack.callback(drop_database, DB_URL)
        stack.callback(cache.flushdb)
        cache.flushdb()
        log_statement = _create_database()
        server_log_path = _server_log()
        wire = stack.enter_context(
            WireRecorder(upstream=(PG_HOST, PG_PORT), directory=ARTIFACTS / "wire")
        )
        smtp = stack.enter_context(SmtpServer(ARTIFACTS))
        env = _service_env(wire.port, local_dir) | _mail_env(smtp)
        direct_env = (
            _service_env(PG_PORT, local_dir)
            | _mail_env(smtp)
            | {key: env[key] for key in ("SECRET_KEY", "JOURNAL_KEKS")}
        )
        direct_env["DATABASE_URL"] = env["DATABASE_URL"].replace(f":{wire.port}/", f":{PG_PORT}/")
        commands_log = ARTIFACTS / "commands.log"
        commands_log.touch()
        work = Run(registry, run_id, env, commands_log)
        stack.callback(work.stop_all)

        _say(f"database {DB_NAME}, Redis db {REDIS_DB}; migrating")
        work.manage("migrate", "--no-input", env=direct_env)
        monitor_path = ARTIFACTS / "redis-monitor.log"
        monitor = stack.enter_context(
            RedisMonitor(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, path=monitor_path)
        )
        server_log = (server_log_path, server_log_path.stat().st_size) if server_log_path else None
        staff_email = f"leakscan-staff-{run_id}@example.org"
        work.manage(
            "createsuperuser",
            "--no-input",
            env=env
            | {
                "DJANGO_SUPERUSER_EMAIL": staff_email,
                "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
                "DJANGO_SUPERUSER_DISPLAY_NAME": "Leak Scan Staff",
            },
        )
        # The admin asks for a code at every sign-in: the staff account's authenticator.
        enrolled = work.manage("enrol_staff_totp", "--email", staff_email)
        secret = re.search(r"TOTP secret \(base32\): ([A-Z2-7]+)", enrolled)
        if secret is None:
            raise flows.FlowError(f"enrol_staff_totp printed no secret: {enrolled!r}")
        staff_totp = flows.Totp(secret.group(1))

        port = free_port()
        web = work.start(
            "gunicorn",
            [
                str(BIN / "gunicorn"),
                "backend.wsgi:application",
                "-c",
                "backend/gunicorn_conf.py",
            ],
            env | {"BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"},
        )
        worker = work.start(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "worker",
                "worker",
                "--concurrency=2",
                "--loglevel=DEBUG",
                "-n",
                f"leakscan-{run_id}@%h",
            ],
            env,
        )
        base_url = f"http://127.0.0.1:{port}"

        def web_ready() -> bool:
            if not web.is_running():
                raise flows.FlowError(f"gunicorn exited:\n{web.text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
            return False

        def worker_ready() -> bool:
            if not worker.is_running():
                raise flows.FlowError(f"the worker exited:\n{worker.text()[-3000:]}")
            return " ready." in worker.text()

        wait_for(web_ready, timeout=60, what="gunicorn")
        wait_for(worker_ready, timeout=60, what="the Celery worker")
        _say(
            f"service up at {base_url} (gunicorn pid {web.process.pid}, worker pid "
            f"{worker.process.pid}); writing canaries"
        )

        sender = Celery("leakscan", set_as_current=False)
        sender.conf.update(broker_url=REDIS_URL, task_serializer="json", accept_content=["json"])
        stack.callback(sender.close)

        def dispatch() -> None:
            sender.send_task("afterglow.integration.dispatch")

        def reseal_done(patient_id: str) -> bool:
            # Every sealed row under the active key. (The old key itself stays a while
            # longer: other processes may still seal under it, see keys.py.)
            with _database_connection() as connection:
                row = connection.execute(
                    "SELECT count(*) FROM ("
                    " SELECT key_version FROM journal_entry WHERE patient_id = %(p)s"
                    " UNION ALL"
                    " SELECT key_version FROM journal_treatmentsession WHERE patient_id = %(p)s"
                    ") AS sealed WHERE key_version <> ("
                    " SELECT version FROM journal_datakey WHERE patient_id = %(p)s AND is_active"
                    ")",
                    {"p": patient_id},
                ).fetchone()
            return bool(row and row[0] == 0)

        def tamper(source_id: str, target_id: str) -> None:
            with _database_connection() as connection:
                connection.execute(
                    "UPDATE journal_entry SET content_sealed = "
                    "(SELECT content_sealed FROM journal_entry WHERE id = %s) WHERE id = %s",
                    [source_id, target_id],
                )

        http = flows.Http(base_url)
        already_read: set[str] = set()

        def await_mail(address: str, subject: str) -> str:
            """The text of a message to `address`, whose subject holds `subject`, not read
            before (this journey waits for each before it causes the next of its kind)."""
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                for message in smtp.messages_to(address):
                    if subject in message.subject and message.raw not in already_read:
                        already_read.add(message.raw)
                        return message.text
                time.sleep(0.2)
            raise flows.FlowError(f"no e-mail '{subject}' within 60 s:\n{worker.text()[-2000:]}")

        journey = flows.Journey(
            http=http,
            canaries=registry,
            run_id=run_id,
            manage=work.manage,
            dispatch=dispatch,
            reseal_done=reseal_done,
            tamper=tamper,
            await_mail=await_mail,
        )
        try:
            journey.run()
            sender.send_task("afterglow.integration.expire_prompts")
            _say("crawling the admin")
            admin_pages = _admin_pages(http, email=staff_email, totp=staff_totp)
            wait_for(lambda: _worker_idle(cache), timeout=60, what="the worker's queue to empty")
            # Planted by the scanner, found by it: proves the Redis and MONITOR searches
            # (base64 inside JSON, as kombu stores message bodies).
            planted = registry.control("control: planted in Redis")
            body = base64.b64encode(json.dumps([[planted.text], {}]).encode()).decode()
            cache.set(f"{CACHE_PREFIX.decode()}leakscan-control", json.dumps({"body": body}))
            time.sleep(1)  # the worker's last lines, MONITOR's last commands
        finally:
            (ARTIFACTS / "transcript.jsonl").write_text(
                "".join(
                    json.dumps(
                        {
                            "step": x.step,
                            "audience": x.audience,
                            "method": x.method,
                            "path": x.path,
                            "status": x.status,
                            "body": x.body.decode(errors="replace"),
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                    for x in http.exchanges
                )
            )
            (ARTIFACTS / "canaries.json").write_text(
                json.dumps([c.__dict__ for c in registry.canaries], ensure_ascii=False, indent=1)
            )
        _say("stopping the service")
        work.stop_all()
        monitor.close()
        wire.close()
        report = _scan(
            registry,
            http,
            wire=wire,
            monitor_path=monitor_path,
            server_log=server_log,
            log_statement=log_statement,
            admin_pages=admin_pages,
            control_key=planted.label,
            addresses=_account_addresses(journey, staff_email),
        )
        report.places.append(_mail_place(registry, smtp))
        report.controls.append(
            Control("e-mails received (codes, notices)", len(smtp.messages()), "SMTP server")
        )
        report.notes += journey.notes
        report.notes.append(
            f"{len(http.exchanges)} HTTP exchanges, {len(registry.canaries)} canaries, "
            f"{time.monotonic() - started:.0f} s; artefacts in {ARTIFACTS.relative_to(ROOT)}/"
        )
        (ARTIFACTS / "report.json").write_text(json.dumps(report.as_json(), indent=1))
        return report


def main(argv: list[str] | None = None) -> int:
    # No options: the scan's places are moved by the environment. Parsed so that `--help`
    # (or a mistyped option) answers before anything is dropped, started or written.
    argparse.ArgumentParser(
        prog="python -m tests.leakscan.leakscan",
        description=(
            "Write canaries through every flow of the real service and fail if one turns "
            "up outside the sealed columns."
        ),
        epilog=(
            f"Environment: LEAKSCAN_DATABASE (now {DB_NAME}; dropped and made anew), "
            f"LEAKSCAN_REDIS_DB (now {REDIS_DB}; emptied), LEAKSCAN_PG_LOG (PostgreSQL's log "
            f"file, when it cannot be found). Artefacts: {ARTIFACTS.relative_to(ROOT)}/."
        ),
    ).parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with _exclusive():
        try:
            report = run()
        except (flows.FlowError, TimeoutError) as error:
            print(f"leakscan: ERROR: {error}", file=sys.stderr)
            print(f"leakscan: logs in {ARTIFACTS}", file=sys.stderr)
            return 1
    print(report.render(), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
