"""Shared fixtures. Tests run against the real PostgreSQL and Redis (backend.settings_test)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Throttle counters live in the Redis cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def admin_enabled(settings) -> None:
    """The Django admin, switched on as an operator would (ADMIN_ENABLED=true).

    The project's URLs are read once at start-up, with the admin off unless the setting
    is on; this URLconf adds it, as the setting would. They are imported before the
    setting changes, so that they stay as the test settings make them (the admin off)."""
    importlib.import_module("backend.urls")
    settings.ADMIN_ENABLED = True
    settings.ROOT_URLCONF = "tests.accounts.urls_with_admin"
