"""Every response of an endpoint that accepts free text says the journal is not monitored:
in its body and in its OpenAPI schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from journal.safety import not_monitored_notice
from tests.journal.factories import make_entry, make_session

pytestmark = pytest.mark.django_db

# (method, path template) of every journal operation that takes free text or answers one
# record of it.
OPERATIONS = [
    ("post", "/api/v1/sessions/"),
    ("get", "/api/v1/sessions/{session_id}/"),
    ("patch", "/api/v1/sessions/{session_id}/"),
    ("post", "/api/v1/entries/"),
    ("get", "/api/v1/entries/{entry_id}/"),
    ("patch", "/api/v1/entries/{entry_id}/"),
]


LEAD = (
    "Afterglow is a journal, not a crisis service: nobody reads it in real time. If you are "
    "in danger or thinking of harming yourself, "
)


@pytest.mark.parametrize(
    ("country", "reach"),
    [
        ("US", "call 988 Suicide & Crisis Lifeline (988), or 911 in an emergency."),
        ("DE", "call TelefonSeelsorge (0800 111 0 111), or 112 in an emergency."),
        ("GB", "call Samaritans (116 123), or 999 in an emergency."),
        # No checked list for the country, or no country: plainly the local number.
        ("BR", "call your local emergency number."),
        (None, "call your local emergency number."),
    ],
)
def test_the_notice_names_the_lines_of_the_patients_country(country, reach) -> None:
    assert not_monitored_notice(country=country) == LEAD + reach


def test_the_notice_names_the_clinics_after_hours_line_first(settings) -> None:
    settings.CLINIC_AFTER_HOURS_NUMBER = "+49 30 1234 5678"
    settings.CLINIC_AFTER_HOURS_NAME = "Praxis Berg after hours"

    assert not_monitored_notice(country="DE") == LEAD + (
        "call Praxis Berg after hours (+49 30 1234 5678) or TelefonSeelsorge "
        "(0800 111 0 111), or 112 in an emergency."
    )
    assert not_monitored_notice(country=None) == LEAD + (
        "call Praxis Berg after hours (+49 30 1234 5678), or your local emergency number."
    )


TEXT_ONLY_FILE = """
[countries.US]
[[countries.US.lines]]
kind = "crisis_line"
name = "Crisis Text Line"
action = "text"
contact = "741741"
keyword = "HOME"
source = "https://www.crisistextline.org/"
checked = 2026-12-07

[[countries.US.lines]]
kind = "emergency"
name = "Emergency services"
action = "call"
contact = "911"
source = "https://www.911.gov/"
checked = 2026-12-07
"""


def test_a_crisis_line_one_can_only_text_is_not_named_as_one_to_call(settings, tmp_path) -> None:
    # A deployment's own file may give a country no line to call but a text line.
    path = tmp_path / "crisis.toml"
    path.write_text(TEXT_ONLY_FILE, encoding="utf-8")
    settings.CRISIS_RESOURCES_FILE = str(path)
    settings.CLINIC_AFTER_HOURS_NUMBER = "+1 555 0100"
    settings.CLINIC_AFTER_HOURS_NAME = "Your clinic"

    assert not_monitored_notice(country="US") == LEAD + (
        "call Your clinic (+1 555 0100) or text HOME to 741741 (Crisis Text Line), or 911 "
        "in an emergency."
    )
    settings.CLINIC_AFTER_HOURS_NUMBER = ""
    assert not_monitored_notice(country="US") == LEAD + (
        "text HOME to 741741 (Crisis Text Line), or 911 in an emergency."
    )


def assert_each_carries_the_notice(*responses) -> None:
    """Each succeeded and carries the notice of a patient who gave no country."""
    for response in responses:
        assert response.status_code in (200, 201)
        assert response.json()["notice"] == not_monitored_notice(country=None)


def create_read_and_change(client, url: str, body: dict, change: dict) -> tuple:
    """Creates a record at `url`, reads it, and changes it (its first version)."""
    created = client.post(url, body, format="json")
    record_url = f"{url}{created.json()['id']}/"
    read = client.get(record_url)
    changed = client.patch(record_url, {**change, "version": 1}, format="json")
    return created, read, changed


def test_session_create_read_and_change_carry_the_notice(patient_client) -> None:
    responses = create_read_and_change(
        patient_client,
        "/api/v1/sessions/",
        {"kind": "integration", "scheduled_start": "2030-03-05T16:00:00Z", "note": "n"},
        {"note": "m"},
    )

    assert_each_carries_the_notice(*responses)


def test_entry_create_read_and_change_carry_the_notice(patient_client) -> None:
    responses = create_read_and_change(
        patient_client, "/api/v1/entries/", {"kind": "note", "body": "words"}, {"body": "more"}
    )

    assert_each_carries_the_notice(*responses)


def test_a_repeated_create_carries_it_too(patient_client) -> None:
    body = {"id": "0b7d4a52-8a8e-4f43-9d3a-3c1f6f2a9e01", "kind": "note", "body": "words"}

    patient_client.post("/api/v1/entries/", body, format="json")
    repeat = patient_client.post("/api/v1/entries/", body, format="json")

    assert repeat.status_code == 200
    assert repeat.json()["notice"] == not_monitored_notice(country=None)


def test_lists_carry_records_without_a_notice_each(patient_client, patient) -> None:
    make_session(patient)
    make_entry(patient)

    sessions = patient_client.get("/api/v1/sessions/").json()["results"]
    entries = patient_client.get("/api/v1/entries/").json()["results"]

    assert "notice" not in sessions[0]
    assert "notice" not in entries[0]


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory, django_db_blocker) -> dict:
    path = Path(tmp_path_factory.mktemp("schema")) / "openapi.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--file", str(path))
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_schema_promises_the_notice(schema: dict, method: str, path: str) -> None:
    responses = schema["paths"][path][method]["responses"]
    successes = [code for code in responses if code.startswith("2")]
    assert successes
    for code in successes:
        reference = responses[code]["content"]["application/json"]["schema"]["$ref"]
        component = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
        assert "notice" in component["properties"], f"{method} {path} {code}"
        assert "notice" in component["required"], f"{method} {path} {code}"
        assert component["properties"]["notice"]["example"] == not_monitored_notice(country="US")
