"""Production refuses to start without its secrets; development makes its own."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests import processes

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
    "SECURE_COOKIES",
    "ALLOW_INSECURE_COOKIES",
    "ADMIN_ENABLED",
)
# A secret key as the hint says to make one; the KEK is valid (32 bytes, base64).
STRONG_KEY = secrets.token_urlsafe(50)
KEK = "1:" + "A" * 43 + "="


def run_settings(
    tmp_path: Path, probe: str = PROBE, **overrides: str
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_NAMES}
    env.update(
        DJANGO_SETTINGS_MODULE="backend.settings",
        AFTERGLOW_LOCAL_DIR=str(tmp_path / "local"),
        **overrides,
    )
    return processes.run([sys.executable, "-c", probe], env=env)


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
        tmp_path, DEBUG="false", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="api.example.org"
    )
    assert result.returncode != 0
    assert "Missing required settings (DEBUG is false): JOURNAL_KEKS" in result.stderr


def test_debug_is_false_unless_set(tmp_path: Path) -> None:
    result = run_settings(
        tmp_path,
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="api.example.org",
        JOURNAL_KEKS=KEK,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_production_reads_keks_from_a_file(tmp_path: Path) -> None:
    keks = tmp_path / "keks"
    keks.write_text("2:" + "B" * 43 + "=\n1:" + "A" * 43 + "=\n")
    result = run_settings(
        tmp_path,
        DEBUG="false",
        SECRET_KEY=STRONG_KEY,
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


def run_production(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    """Production mode with every required setting present and good, but `overrides`."""
    values = {
        "DEBUG": "false",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "api.example.org",
        "JOURNAL_KEKS": KEK,
    }
    return run_settings(tmp_path, **(values | overrides))


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The one line that says why the service did not start."""
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("Refusing")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def documented_secret_keys() -> set[str]:
    """Every SECRET_KEY value written out in .env.example, the README, the docs and the
    compose file (values taken from the environment, `${...}`, are not examples)."""
    files = [ROOT / ".env.example", ROOT / "README.md", ROOT / "docker-compose.yml"]
    files += sorted((ROOT / "docs").glob("*.md"))
    found: set[str] = set()
    for path in files:
        for value in re.findall(r"SECRET_KEY\s*[=:]\s*[\"']?([^\s\"'`]+)", path.read_text()):
            if not value.startswith("$"):
                found.add(value)
    return found


def test_the_production_settings_start_with_good_values(tmp_path: Path) -> None:
    result = run_production(tmp_path)
    assert result.returncode == 0, result.stderr


def test_production_refuses_a_short_secret_key_saying_what_to_set(tmp_path: Path) -> None:
    line = refusal(run_production(tmp_path, SECRET_KEY=STRONG_KEY[:49]))
    assert "SECRET_KEY is shorter than 50 characters" in line
    assert "set SECRET_KEY to 50 or more random characters" in line
    assert "secrets.token_urlsafe(50)" in line
    assert STRONG_KEY[:49] not in line


def test_production_refuses_a_secret_key_of_few_different_characters(tmp_path: Path) -> None:
    line = refusal(run_production(tmp_path, SECRET_KEY="abcd" * 20))
    assert "SECRET_KEY has fewer than 5 different characters" in line


def test_production_refuses_every_documented_example_secret_key(tmp_path: Path) -> None:
    examples = documented_secret_keys()
    assert examples, "no example found: the pattern no longer matches .env.example"
    for example in examples:
        line = refusal(run_production(tmp_path, SECRET_KEY=example))
        assert "SECRET_KEY is a published example value" in line, example


def test_production_refuses_a_generated_development_key(tmp_path: Path) -> None:
    line = refusal(run_production(tmp_path, SECRET_KEY="django-insecure-" + STRONG_KEY))
    assert "SECRET_KEY is a published example value" in line


def test_production_refuses_insecure_cookies_unless_told_they_are_meant(tmp_path: Path) -> None:
    line = refusal(run_production(tmp_path, SECURE_COOKIES="false"))
    assert "SECURE_COOKIES is false" in line
    assert "ALLOW_INSECURE_COOKIES=true" in line

    allowed = run_production(tmp_path, SECURE_COOKIES="false", ALLOW_INSECURE_COOKIES="true")
    assert allowed.returncode == 0, allowed.stderr


def test_development_takes_any_secret_key_and_insecure_cookies(tmp_path: Path) -> None:
    result = run_settings(tmp_path, DEBUG="true", SECRET_KEY="short", SECURE_COOKIES="false")
    assert result.returncode == 0, result.stderr


def test_every_refusal_is_named_in_one_line(tmp_path: Path) -> None:
    line = refusal(run_production(tmp_path, SECRET_KEY="short", SECURE_COOKIES="false"))
    assert "SECRET_KEY is shorter than 50 characters" in line
    assert "SECURE_COOKIES is false" in line


def example_key_ring() -> str:
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("JOURNAL_KEKS="):
            return line.partition("=")[2]
    raise AssertionError("no JOURNAL_KEKS in .env.example")


def test_production_refuses_to_start_with_the_example_key_ring(tmp_path: Path) -> None:
    example = example_key_ring()

    line = refusal(run_production(tmp_path, JOURNAL_KEKS=example))

    assert "JOURNAL_KEKS is not a usable key ring (key item 1 is not 'version:base64key')" in line
    assert "set JOURNAL_KEKS to" in line
    assert example.partition(":")[2] not in line


def test_migrate_stops_on_an_unusable_key_ring_in_development(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_NAMES}
    env.update(
        DJANGO_SETTINGS_MODULE="backend.settings",
        AFTERGLOW_LOCAL_DIR=str(tmp_path / "local"),
        DEBUG="true",
        JOURNAL_KEKS=example_key_ring(),
    )
    result = processes.run(
        [sys.executable, "manage.py", "migrate", "--no-input"], env=env, timeout=120
    )
    assert result.returncode != 0
    assert "journal.E003" in result.stderr
    assert "Applying" not in result.stdout


def test_the_admin_is_off_unless_an_operator_turns_it_on(tmp_path: Path) -> None:
    probe = PROBE.replace("settings.DEBUG", "settings.ADMIN_ENABLED")
    production = {"SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "api.example.org", "JOURNAL_KEKS": KEK}

    assert run_settings(tmp_path, probe, **production).stdout.strip() == "False"
    assert run_settings(tmp_path, probe, DEBUG="true").stdout.strip() == "False"
    turned_on = run_settings(tmp_path, probe, ADMIN_ENABLED="true", **production)
    assert turned_on.stdout.strip() == "True", turned_on.stderr
