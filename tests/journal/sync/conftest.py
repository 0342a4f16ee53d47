"""The journal's own feed: sessions, entries and measures, without the records other apps
add through JOURNAL_SYNC_SOURCES (prompts: tests/integration/prompts/test_sync_prompts*)
nor their devices (JOURNAL_PUSH_CAPABLE_HOOKS: none, so `local_notifications` is true)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _journal_records_only(settings) -> None:
    settings.JOURNAL_SYNC_SOURCES = []
    settings.JOURNAL_PUSH_CAPABLE_HOOKS = []
