"""Production refuses to start without its secrets; development makes its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
CONFIG_NAMES = (
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "JOURNAL_KEKS",
    "JOURNAL_KEKS_FILE",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "DEBUG",
    "ADMIN_ENABLED",
)


def run_settings(
    tmp_path: Path, probe: str = PROBE, **overrides: str
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_NAMES}
    env.update(
        DJANGO_SETTINGS_MODULE="backend.settings",
        AFTERGLOW_LOCAL_DIR=str(tmp_path / "local"),
        **overrides,
    )
    return subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_to_start_without_secrets_naming_them(tmp_path: Path) -> None:
    result = run_settings(tmp_path, DEBUG="false")
    assert result.returncode != 0
    assert (
        "Missing required settings (DEBUG is false): SECRET_KEY, JOURNAL_KEKS, ALLOWED_HOSTS"
        in result.stderr
    )
    assert not (tmp_path / "local" / "secret_key").exists()


def test_production_names_only_what_is_missing(tmp_path: Path) -> None:
    result = run_settings(
        tmp_path, DEBUG="false", SECRET_KEY="x" * 50, ALLOWED_HOSTS="api.example.org"
    )
    assert result.returncode != 0
    assert "Missing required settings (DEBUG is false): JOURNAL_KEKS" in result.stderr


def test_debug_is_false_unless_set(tmp_path: Path) -> None:
    result = run_settings(
        tmp_path,
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="api.example.org",
        JOURNAL_KEKS="1:" + "A" * 43 + "=",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_production_reads_keks_from_a_file(tmp_path: Path) -> None:
    keks = tmp_path / "keks"
    keks.write_text("2:" + "B" * 43 + "=\n1:" + "A" * 43 + "=\n")
    result = run_settings(
        tmp_path,
        DEBUG="false",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="api.example.org",
        JOURNAL_KEKS_FILE=str(keks),
    )
    assert result.returncode == 0, result.stderr


def test_development_generates_missing_secrets_into_local_with_a_warning(tmp_path: Path) -> None:
    result = run_settings(tmp_path, DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert "SECRET_KEY was not set" in result.stderr
    assert "JOURNAL_KEKS was not set" in result.stderr
    secret = (tmp_path / "local" / "secret_key").read_text()
    assert len(secret) >= 50
    assert (tmp_path / "local" / "journal_keks").read_text().startswith("1:")
    # A second start reuses them: the journal stays readable across restarts.
    again = run_settings(tmp_path, DEBUG="true")
    assert again.returncode == 0
    assert "was not set" not in again.stderr
    assert (tmp_path / "local" / "secret_key").read_text() == secret


def test_production_settings_hash_passwords_with_argon2_first() -> None:
    from django.conf import settings

    validators: list[Any] = list(settings.AUTH_PASSWORD_VALIDATORS)
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    min_length = [
        validator["OPTIONS"]["min_length"]
        for validator in validators
        if validator["NAME"].endswith("MinimumLengthValidator")
    ]
    assert min_length == [10]


def test_the_admin_is_off_unless_an_operator_turns_it_on(tmp_path: Path) -> None:
    probe = PROBE.replace("settings.DEBUG", "settings.ADMIN_ENABLED")
    production = {
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "api.example.org",
        "JOURNAL_KEKS": "1:" + "A" * 43 + "=",
    }

    assert run_settings(tmp_path, probe, **production).stdout.strip() == "False"
    assert run_settings(tmp_path, probe, DEBUG="true").stdout.strip() == "False"
    turned_on = run_settings(tmp_path, probe, ADMIN_ENABLED="true", **production)
    assert turned_on.stdout.strip() == "True", turned_on.stderr
