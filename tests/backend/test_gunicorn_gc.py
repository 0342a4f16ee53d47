"""A web worker keeps what it loaded out of the garbage collector's full collections
(backend/gunicorn_conf.py): once the app is loaded, and again after its first requests."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from backend import gunicorn_conf


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process collects as before


def test_a_worker_freezes_what_it_loaded_and_again_after_its_first_requests(unfrozen):
    assert gc.get_freeze_count() == 0

    gunicorn_conf.post_worker_init(SimpleNamespace())
    frozen_at_start = gc.get_freeze_count()
    assert frozen_at_start > 1000  # the modules and the app, not a handful

    loaded_lazily = [[index] for index in range(5000)]  # what first requests load
    again = gunicorn_conf.GC_FREEZE_AGAIN_AFTER_REQUESTS
    for number in (1, again - 1, again + 1):
        gunicorn_conf.post_request(SimpleNamespace(nr=number), None, None, None)
        # Only at its one request count: no freeze here, which would take in the 5,000
        # lists. (Not `==`: a frozen object that another thread of the test process frees
        # leaves the permanent generation, and the count one lower.)
        assert gc.get_freeze_count() < frozen_at_start + len(loaded_lazily)

    gunicorn_conf.post_request(SimpleNamespace(nr=again), None, None, None)
    assert gc.get_freeze_count() >= frozen_at_start + len(loaded_lazily)
    # Frozen: no generation holds them any more, so no collection walks them.
    walked = {id(tracked) for generation in (0, 1, 2) for tracked in gc.get_objects(generation)}
    assert not any(id(item) in walked for item in loaded_lazily)
