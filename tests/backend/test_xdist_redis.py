"""The suite runs in several processes (pytest-xdist, `make test`): each clears the Redis
cache before and after every test, so each must have a Redis database of its own
(backend/settings_test.py), as pytest-django gives each its own test database."""

from __future__ import annotations

import os

from django.conf import settings

from backend.settings_test import RESERVED_REDIS_DBS, redis_url_of_xdist_worker


def _db(url: str) -> int:
    return int(url.rsplit("/", 1)[1])


def test_each_worker_gets_a_redis_database_of_its_own_past_the_reserved_ones() -> None:
    base = "redis://127.0.0.1:6379/15"
    urls = [redis_url_of_xdist_worker(base, f"gw{index}") for index in range(8)]
    assert urls[0] == base
    assert all(url.startswith("redis://127.0.0.1:6379/") for url in urls)
    databases = [_db(url) for url in urls]
    assert len(set(databases)) == len(databases)
    assert all(0 <= db <= 15 for db in databases)
    assert not set(databases[1:]) & RESERVED_REDIS_DBS


def test_counting_down_wraps_within_the_sixteen_databases() -> None:
    databases = [_db(redis_url_of_xdist_worker("redis://h/1", f"gw{n}")) for n in range(4)]
    assert databases[:2] == [1, 0]
    assert all(0 <= db <= 15 for db in databases[2:])
    assert len(set(databases)) == 4


def test_a_database_beyond_fifteen_is_kept_for_the_first_worker() -> None:
    # A Redis configured with more databases than the default sixteen
    assert redis_url_of_xdist_worker("redis://h:6380/40", "gw0") == "redis://h:6380/40"
    assert redis_url_of_xdist_worker("redis://h:6380/40", "gw1") == "redis://h:6380/39"


def test_this_process_uses_the_database_of_its_worker() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    location = settings.CACHES["default"]["LOCATION"]
    assert location == os.environ["REDIS_URL"]
    if worker:
        assert os.environ["AFTERGLOW_REDIS_XDIST_WORKER"] == worker
