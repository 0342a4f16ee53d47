"""Rate limits hold across processes when there is no Redis (`make run`, or a deploy that
leaves REDIS_URL out): the counts live in the database, which every process shares, not in
each process's memory, where two workers would let twice the limit through."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache.backends.db import DatabaseCache
from django.db import connection

from tests import processes

LIMIT = 10
ADDRESS = "198.51.100.7"  # TEST-NET-2: no test signs in from it
# One process: count LIMIT sign-in attempts from one address through the login throttle.
PROBE = """
import sys
import django
django.setup()
from django.core.cache import caches
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from backend.throttling import ScopedRateThrottleFailingOpen
from backend.accounts.views import LoginView
allowed = 0
for _ in range(int(sys.argv[1])):
    request = Request(APIRequestFactory().post("/api/v1/auth/login/", REMOTE_ADDR=sys.argv[2]))
    allowed += ScopedRateThrottleFailingOpen().allow_request(request, LoginView())
print(type(caches["default"]).__name__, allowed)
"""


def _process_env(tmp_path: Path) -> dict[str, str]:
    """The settings of a deploy without Redis, on the test database."""
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "CELERY_BROKER_URL"}
    }
    return env | {
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "DATABASE_URL": url,
        "THROTTLE_LOGIN": f"{LIMIT}/min",
        "AFTERGLOW_LOCAL_DIR": str(tmp_path),
    }


def _count_in_a_new_process(env: dict[str, str]) -> tuple[str, int]:
    result = processes.run([sys.executable, "-c", PROBE, str(LIMIT), ADDRESS], env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    store, allowed = result.stdout.split()[-2:]
    return store, int(allowed)


@pytest.mark.django_db(transaction=True)
def test_two_processes_without_redis_count_against_one_limit(tmp_path: Path) -> None:
    env = _process_env(tmp_path)
    try:
        # Given one process that used up the limit for an address
        store, first = _count_in_a_new_process(env)
        assert first == LIMIT

        # when another process, sharing no memory with it, takes requests from there
        _, second = _count_in_a_new_process(env)

        # then it lets none through: both counted in one store, the database's
        assert second == 0
        assert store == "DatabaseCache"
    finally:
        DatabaseCache(settings.DATABASE_CACHE_TABLE, {}).clear()


@pytest.mark.django_db
def test_migrate_creates_the_cache_table_even_where_redis_is_the_cache() -> None:
    # These tests run with Redis as the cache: the table is there all the same, so a
    # deploy that later leaves REDIS_URL out finds it.
    assert "RedisCache" in settings.CACHES["default"]["BACKEND"]
    assert settings.DATABASE_CACHE_TABLE in connection.introspection.table_names()
