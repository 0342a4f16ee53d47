"""Test settings: the real settings module, pointed at the local PostgreSQL and Redis.

`make test` exports nothing special; these defaults match the services that `.ci/run`
starts on 127.0.0.1. Any of them can be overridden from the environment.
"""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Two test KEKs: version 2 active, version 1 still readable (rotation tests use both).
os.environ.setdefault(
    "JOURNAL_KEKS",
    "2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
)
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/afterglow")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# Databases of the shared Redis that the suite leaves alone: the fallback broker of the
# Celery worker tests (tests/integration/workers.py) and the leak scan's (LEAKSCAN_REDIS_DB).
RESERVED_REDIS_DBS = {14, int(os.environ.get("LEAKSCAN_REDIS_DB", "8"))}


def redis_url_of_xdist_worker(url: str, worker: str) -> str:
    """The Redis database of one pytest-xdist worker ("gw0", "gw1", ...): every test starts
    by clearing the cache, a FLUSHDB, so two workers must never share a database. gw0 keeps
    the one in `url`; the others count down from it, past the reserved ones, and from 15
    down once below 0 (a default Redis has 16 databases)."""
    head, _, db = url.rpartition("/")
    base = int(db) if db.isdigit() else 0
    below = [*range(base - 1, -1, -1), *range(15, base, -1)]
    free = [base, *(n for n in below if n not in RESERVED_REDIS_DBS)]
    index = int(worker.removeprefix("gw"))
    if index >= len(free):
        raise RuntimeError(f"pytest-xdist worker {worker}: no Redis database left for it")
    return f"{head}/{free[index]}"


# Under pytest-xdist each worker process gets a database of its own (pytest-django likewise
# suffixes the test database with the worker's name). Programs the tests start inherit the
# result, and the marker keeps a child that loads these settings again from moving it on.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if (
    _worker
    and os.environ["REDIS_URL"]
    and os.environ.get("AFTERGLOW_REDIS_XDIST_WORKER") != _worker
):
    os.environ["REDIS_URL"] = redis_url_of_xdist_worker(os.environ["REDIS_URL"], _worker)
    os.environ["AFTERGLOW_REDIS_XDIST_WORKER"] = _worker
os.environ.setdefault("SECURE_COOKIES", "false")
# The test client speaks plain HTTP; production mode refuses insecure cookies without this.
os.environ.setdefault("ALLOW_INSECURE_COOKIES", "true")

from backend.settings import *  # noqa: E402, F403
from backend.settings import REST_FRAMEWORK  # noqa: E402

SECURE_HSTS_SECONDS = 31536000
SECURE_SSL_REDIRECT = False
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "1000/min"),
}
# Anonymous account answers wait for this floor; the timing tests set the real one.
ACCOUNT_UNIFORM_RESPONSE_SECONDS = 0.0
# A problem `code` outside backend.problem_codes fails the test that answers it.
PROBLEM_CODES_STRICT = True
