"""PHQ-9 item 9 above 0: the safety block in the same response, and the safety hooks."""

from __future__ import annotations

import uuid

import pytest
from django.core.checks import run_checks
from django.db import connection

from journal.models import Measure
from journal.safety import SAFETY_MESSAGE, not_monitored_notice

pytestmark = pytest.mark.django_db

URL = "/api/v1/measures/"
HOOK = "tests.journal.measures.test_measures_safety.record_hook"
FAILING_HOOK = "tests.journal.measures.test_measures_safety.failing_hook"

calls: list[dict] = []


def record_hook(*, measure: Measure) -> None:
    calls.append(
        {
            "measure": measure,
            "in_transaction": connection.in_atomic_block,
            "stored": Measure.objects.filter(pk=measure.pk).exists(),
        }
    )


def failing_hook(*, measure: Measure) -> None:
    raise RuntimeError("the alert could not be written")


@pytest.fixture(autouse=True)
def _no_calls():
    calls.clear()
    yield
    calls.clear()


def phq9(item9: int, *rest: int) -> list[int]:
    return [*(rest or (1,) * 8), item9]


@pytest.fixture
def patient_fields() -> dict[str, str]:
    return {"country": "US"}


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_item_9_above_0_brings_the_safety_block_in_the_same_response(patient_client, item9) -> None:
    response = patient_client.post(
        URL, {"instrument": "phq9", "answers": phq9(item9)}, format="json"
    )

    assert response.status_code == 201
    safety = response.json()["safety"]
    assert safety["reason"] == "phq9_item9"
    assert safety["message"] == SAFETY_MESSAGE
    assert safety["not_monitored"] == not_monitored_notice(country="US")
    assert (safety["country"], safety["country_name"], safety["fallback"]) == (
        "US",
        "United States",
        None,
    )
    source = {"source": safety["resources"][0]["source"], "checked_on": "2026-12-07"}
    assert source["source"] == "https://988lifeline.org/"
    assert safety["resources"] == [
        {
            "kind": "crisis_line",
            "name": "988 Suicide & Crisis Lifeline",
            "action": "call_or_text",
            "contact": "988",
            "keyword": None,
            "hours": None,
            "instructions": "Call or text 988, any time, day or night.",
            **source,
        },
        {
            "kind": "crisis_line",
            "name": "Crisis Text Line",
            "action": "text",
            "contact": "741741",
            "keyword": "HOME",
            "hours": None,
            "instructions": "Text HOME to 741741, any time, day or night.",
            "source": "https://www.crisistextline.org/",
            "checked_on": "2026-12-07",
        },
        {
            "kind": "emergency",
            "name": "Emergency services",
            "action": "call",
            "contact": "911",
            "keyword": None,
            "hours": None,
            "instructions": "Call 911 if you are in immediate danger.",
            "source": "https://www.911.gov/",
            "checked_on": "2026-12-07",
        },
    ]


def test_a_low_total_with_item_9_above_0_still_brings_it(patient_client) -> None:
    response = patient_client.post(
        URL, {"instrument": "phq9", "answers": phq9(1, *[0] * 8)}, format="json"
    )

    assert response.json()["total"] == 1
    assert response.json()["band"] == "minimal"
    assert response.json()["safety"]["reason"] == "phq9_item9"


def test_a_severe_total_with_item_9_at_0_does_not(patient_client) -> None:
    response = patient_client.post(
        URL, {"instrument": "phq9", "answers": phq9(0, *[3] * 8)}, format="json"
    )

    assert response.json()["band"] == "severe"
    assert response.json()["safety"] is None


def test_a_gad7_never_brings_it(patient_client) -> None:
    response = patient_client.post(URL, {"instrument": "gad7", "answers": [3] * 7}, format="json")

    assert response.json()["safety"] is None


def test_a_repeated_create_brings_it_again(patient_client) -> None:
    body = {"id": str(uuid.uuid4()), "instrument": "phq9", "answers": phq9(2)}

    patient_client.post(URL, body, format="json")
    repeat = patient_client.post(URL, body, format="json")

    assert repeat.status_code == 200
    assert repeat.json()["safety"]["reason"] == "phq9_item9"


def test_a_conflicting_create_with_item_9_above_0_still_brings_it(patient_client) -> None:
    measure_id = str(uuid.uuid4())
    patient_client.post(
        URL, {"id": measure_id, "instrument": "phq9", "answers": phq9(0)}, format="json"
    )

    conflict = patient_client.post(
        URL, {"id": measure_id, "instrument": "phq9", "answers": phq9(2)}, format="json"
    )

    assert (conflict.status_code, conflict.json()["code"]) == (409, "id_conflict")
    assert conflict.json()["safety"]["reason"] == "phq9_item9"


def test_crisis_resources_follow_the_patients_country(patient, patient_client) -> None:
    patient.country = "GB"
    patient.save(update_fields=["country"])

    response = patient_client.post(URL, {"instrument": "phq9", "answers": phq9(1)}, format="json")

    assert [r["contact"] for r in response.json()["safety"]["resources"]] == [
        "116 123",
        "85258",
        "999",
    ]


def test_a_refused_submission_with_item_9_above_0_still_brings_it(patient_client) -> None:
    response = patient_client.post(
        URL,
        {"instrument": "phq9", "answers": [1, 1, 1, 9, 1, 1, 1, 1, 2]},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body["errors"]) == {"answers.3"}
    assert body["safety"]["reason"] == "phq9_item9"
    assert not Measure.objects.exists()


@pytest.mark.parametrize(
    ("item9", "endorsed"),
    [
        pytest.param("\u00b2", False, id="superscript-two"),
        pytest.param("9" * 5000, True, id="5000-nines"),
    ],
)
def test_an_item_9_string_int_cannot_read_is_refused_not_a_server_error(
    patient_client, item9, endorsed
) -> None:
    response = patient_client.post(
        URL, {"instrument": "phq9", "answers": [1] * 8 + [item9]}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body["errors"]) == {"answers.8"}
    assert ("safety" in body) is endorsed
    assert not Measure.objects.exists()


@pytest.mark.parametrize(
    "instrument",
    [
        pytest.param(None, id="no-instrument"),
        pytest.param("PHQ9", id="PHQ9"),
        pytest.param("phq-9", id="phq-9"),
        pytest.param("gad7", id="gad7-with-nine-answers"),
    ],
)
def test_nine_answers_endorsing_item_9_bring_the_block_whatever_the_instrument_says(
    patient_client, instrument
) -> None:
    # A PHQ-9 an app mislabels is refused, but its answers still endorse item 9: read
    # liberally, as the prompt answers are.
    body = {"answers": phq9(2)} | ({} if instrument is None else {"instrument": instrument})

    response = patient_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["safety"]["reason"] == "phq9_item9"
    assert not Measure.objects.exists()


def test_a_refused_gad7_has_no_block(patient_client) -> None:
    response = patient_client.post(
        URL, {"instrument": "gad7", "answers": [3, 3, 3, 3, 3, 3, 5]}, format="json"
    )

    assert response.status_code == 400
    assert "safety" not in response.json()


def test_a_refused_submission_without_item_9_has_no_block(patient_client) -> None:
    response = patient_client.post(
        URL, {"instrument": "phq9", "answers": [1, 1, 1, 9, 1, 1, 1, 1, 0]}, format="json"
    )

    assert response.status_code == 400
    assert "safety" not in response.json()


def test_the_hooks_run_in_the_creating_transaction_for_item_9_only(
    patient_client, settings
) -> None:
    settings.JOURNAL_SAFETY_HOOKS = [HOOK]

    flagged = patient_client.post(URL, {"instrument": "phq9", "answers": phq9(3)}, format="json")
    patient_client.post(URL, {"instrument": "phq9", "answers": phq9(0)}, format="json")
    patient_client.post(URL, {"instrument": "gad7", "answers": [3] * 7}, format="json")

    assert len(calls) == 1
    (call,) = calls
    assert str(call["measure"].pk) == flagged.json()["id"]
    assert call["in_transaction"] is True
    assert call["stored"] is True


def test_the_hooks_do_not_run_again_for_a_repeated_create(patient_client, settings) -> None:
    settings.JOURNAL_SAFETY_HOOKS = [HOOK]
    body = {"id": str(uuid.uuid4()), "instrument": "phq9", "answers": phq9(1)}

    patient_client.post(URL, body, format="json")
    patient_client.post(URL, body, format="json")

    assert len(calls) == 1


def test_a_failing_hook_keeps_no_measure_yet_answers_with_the_block(
    patient_client, settings
) -> None:
    settings.JOURNAL_SAFETY_HOOKS = [FAILING_HOOK]

    response = patient_client.post(URL, {"instrument": "phq9", "answers": phq9(2)}, format="json")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "server_error"
    assert body["safety"]["reason"] == "phq9_item9"
    assert "could not be written" not in response.content.decode()
    assert not Measure.objects.exists()


def test_the_check_refuses_a_crisis_file_it_cannot_use(settings, tmp_path) -> None:
    broken = tmp_path / "crisis.toml"
    broken.write_text('[countries.DE]\n[[countries.DE.lines]]\nkind = "emergency"\n')
    settings.CRISIS_RESOURCES_FILE = str(broken)

    assert "journal.E001" in {message.id for message in run_checks()}


def test_the_default_configuration_passes_the_check() -> None:
    assert "journal.E001" not in {m.id for m in run_checks()}
