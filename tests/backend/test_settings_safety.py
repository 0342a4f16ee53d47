"""The safety settings (backend/settings_safety.py): a clinic line that is not a phone
number, or a text version out of bounds, stops the process saying which setting is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backend.test_settings import run_production, run_settings

PROBE_VALUES = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.CLINIC_AFTER_HOURS_NUMBER, settings.TERMS_VERSION, sep='|')"
)


def test_a_clinic_number_and_versions_are_taken(tmp_path: Path) -> None:
    result = run_settings(
        tmp_path,
        PROBE_VALUES,
        DEBUG="true",
        CLINIC_AFTER_HOURS_NUMBER=" +49 (30) 1234-5678 ",
        TERMS_VERSION="2026-12",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "+49 (30) 1234-5678|2026-12"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLINIC_AFTER_HOURS_NUMBER", "call the clinic"),
        ("CLINIC_AFTER_HOURS_NUMBER", "+"),
        ("TERMS_VERSION", " "),
        ("SAFETY_ALERT_CONSENT_VERSION", "v" * 33),
    ],
)
def test_a_bad_safety_setting_stops_the_process_naming_it(tmp_path: Path, variable, value) -> None:
    result = run_production(tmp_path, **{variable: value})

    assert result.returncode != 0
    assert variable in result.stderr.strip().splitlines()[-1]
