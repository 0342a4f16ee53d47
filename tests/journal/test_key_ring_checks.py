"""A key ring that cannot be used (the .env.example placeholder, a short key, a typo) is
found before anything is served: by `manage.py check` (and so by migrate and runserver),
and with DEBUG false by the start-up of any process. /readyz: tests/backend/test_health.py."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from journal import checks

PLACEHOLDER = "1:REPLACE_WITH_BASE64_OF_32_RANDOM_BYTES_AAAAAAA="
SHORT_KEY = "1:" + base64.b64encode(b"sixteen byte key").decode()


@pytest.mark.parametrize(
    ("keks", "reason"),
    [
        ([PLACEHOLDER], "key item 1 is not 'version:base64key'"),
        ([SHORT_KEY], "key version 1 is not 32 bytes"),
        ([], "no key-encryption key is configured"),
    ],
)
def test_the_check_command_names_an_unusable_key_ring(settings, keks, reason) -> None:
    settings.JOURNAL_KEKS = keks

    with pytest.raises(CommandError) as raised:
        call_command("check")

    message = str(raised.value)
    assert "journal.E003" in message
    assert reason in message
    assert "REPLACE_WITH" not in message  # the check names the item, never its text


def test_the_check_command_passes_a_usable_key_ring() -> None:
    call_command("check")
    assert checks.key_ring_problem() is None


def test_production_start_up_refuses_an_unusable_key_ring(settings) -> None:
    settings.DEBUG = False
    settings.JOURNAL_KEKS = [PLACEHOLDER]

    with pytest.raises(ImproperlyConfigured, match="JOURNAL_KEKS is not a usable key ring"):
        checks.refuse_unusable_key_ring()


def test_development_start_up_leaves_it_to_the_check_command(settings) -> None:
    settings.DEBUG = True
    settings.JOURNAL_KEKS = [PLACEHOLDER]

    checks.refuse_unusable_key_ring()
