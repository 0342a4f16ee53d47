"""The dotted hook settings resolve at start-up: a stale path fails `manage.py check`."""

from __future__ import annotations

import pytest
from django.core import checks

from backend.checks import HOOK_SETTINGS, hooks_resolve


def test_every_hook_setting_resolves():
    assert hooks_resolve() == []


@pytest.mark.parametrize("name", HOOK_SETTINGS)
def test_a_stale_hook_path_is_an_error_at_start_up(settings, name):
    setattr(settings, name, [*getattr(settings, name), "integration.services.gone_away"])

    errors = checks.run_checks()

    stale = [error for error in errors if error.id == "afterglow.E001"]
    assert len(stale) == 1
    assert name in stale[0].msg
    assert "integration.services.gone_away" in stale[0].msg
