"""POST/GET /api/v1/measures/: server-side scoring, item validation, client ids, access."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from journal.keys import sealer_for
from journal.measure_items import open_measure
from journal.models import Measure
from tests.accounts.factories import issue_token
from tests.journal.factories import make_measure, make_session

pytestmark = pytest.mark.django_db

URL = "/api/v1/measures/"


def post(client, **body):
    return client.post(URL, body, format="json")


def test_creates_a_phq9_scored_on_the_server(patient_client, patient) -> None:
    session = make_session(patient)

    response = post(
        patient_client,
        instrument="phq9",
        answers=[2, 2, 1, 2, 1, 1, 1, 0, 0],
        difficulty=1,
        session=str(session.id),
        taken_at="2025-03-03T18:20:00+01:00",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["total"] == 10
    assert body["band"] == "moderate"
    assert body["answers"] == [2, 2, 1, 2, 1, 1, 1, 0, 0]
    assert body["difficulty"] == 1
    assert body["session"] == str(session.id)
    assert body["taken_at"] == "2025-03-03T17:20:00Z"
    assert body["safety"] is None
    assert response["ETag"] == '"1"'
    stored = Measure.objects.get(pk=body["id"])
    assert (stored.patient_id, stored.total, stored.band) == (patient.pk, 10, "moderate")


def test_a_gad7_gets_its_own_bands(patient_client) -> None:
    response = post(patient_client, instrument="gad7", answers=[3, 3, 3, 3, 3, 0, 3])

    assert response.status_code == 201
    assert (response.json()["total"], response.json()["band"]) == (18, "severe")


def test_taken_at_defaults_to_now(patient_client) -> None:
    before = timezone.now()

    response = post(patient_client, instrument="gad7", answers=[0] * 7)

    taken = Measure.objects.get(pk=response.json()["id"]).taken_at
    assert before <= taken <= timezone.now()


@pytest.mark.parametrize(
    ("answers", "field", "words"),
    [
        (
            [0, 0, 0, 4, 0, 0, 0, 0, 0],
            "answers.3",
            "Item 4 (Feeling tired or having little energy)",
        ),
        ([0, 0, 0, -1, 0, 0, 0, 0, 0], "answers.3", "Item 4 (Feeling tired"),
        ([0, 0, 0, "2", 0, 0, 0, 0, 0], "answers.3", "Item 4 (Feeling tired"),
        ([0, 0, 0, 1.5, 0, 0, 0, 0, 0], "answers.3", "Item 4 (Feeling tired"),
        ([0, 0, 0, None, 0, 0, 0, 0, 0], "answers.3", "Item 4 (Feeling tired"),
        ([0, 0, 0, True, 0, 0, 0, 0, 0], "answers.3", "Item 4 (Feeling tired"),
        ([0] * 8, "answers.8", "Item 9 (Thoughts that you would be better off dead"),
        ([0] * 10, "answers.9", "The PHQ-9 has 9 items"),
    ],
)
def test_refuses_a_bad_item_with_a_400_naming_it(patient_client, answers, field, words) -> None:
    response = post(patient_client, instrument="phq9", answers=answers)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {field}
    assert errors[field][0].startswith(words)
    assert not Measure.objects.exists()


def test_every_missing_item_is_named(patient_client) -> None:
    response = post(patient_client, instrument="gad7", answers=[1, 1])

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {f"answers.{i}" for i in range(2, 7)}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"instrument": "gad7", "answers": [0] * 7, "difficulty": 1}, "difficulty"),
        ({"instrument": "phq9", "answers": [0] * 9, "difficulty": 4}, "difficulty"),
        ({"instrument": "madrs", "answers": [0] * 10}, "instrument"),
        ({"instrument": "phq9"}, "answers"),
        ({"instrument": "phq9", "answers": "000000000"}, "answers"),
        (
            {"instrument": "phq9", "answers": [0] * 9, "taken_at": "1999-12-31T00:00:00Z"},
            "taken_at",
        ),
        ({"instrument": "phq9", "answers": [0] * 9, "total": 27}, "non_field_errors"),
    ],
)
def test_refuses_other_bad_fields(patient_client, body, field) -> None:
    response = patient_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Measure.objects.exists()


def test_refuses_a_measure_taken_in_the_future(patient_client) -> None:
    later = timezone.now() + timedelta(days=2)

    response = post(patient_client, instrument="gad7", answers=[0] * 7, taken_at=later.isoformat())

    assert response.status_code == 400
    assert response.json()["errors"] == {"taken_at": ["A measure cannot be taken in the future."]}


def test_accepts_a_phone_clock_a_little_ahead(patient_client) -> None:
    ahead = timezone.now() + timedelta(hours=2)

    response = post(patient_client, instrument="gad7", answers=[0] * 7, taken_at=ahead.isoformat())

    assert response.status_code == 201


def test_links_only_to_the_patients_own_live_session(
    patient_client, patient, other_patient
) -> None:
    theirs = make_session(other_patient)
    deleted = make_session(patient)
    patient_client.delete(f"/api/v1/sessions/{deleted.id}/", HTTP_IF_MATCH="*")

    for session_id in (theirs.id, deleted.id, uuid.uuid4()):
        response = post(patient_client, instrument="gad7", answers=[0] * 7, session=str(session_id))
        assert response.status_code == 400
        assert response.json()["errors"] == {"session": ["No such session."]}
    assert not Measure.objects.exists()


def test_a_repeated_create_answers_the_same_measure(patient_client) -> None:
    body = {"id": str(uuid.uuid4()), "instrument": "phq9", "answers": [1] * 9, "difficulty": 2}

    first = patient_client.post(URL, body, format="json")
    repeat = patient_client.post(URL, body, format="json")

    assert (first.status_code, repeat.status_code) == (201, 200)
    assert repeat.json() == first.json()
    assert Measure.objects.count() == 1


def test_the_same_id_with_other_answers_is_a_conflict(
    patient_client, other_client, patient
) -> None:
    measure_id = str(uuid.uuid4())
    post(patient_client, id=measure_id, instrument="gad7", answers=[0] * 7)

    changed = post(patient_client, id=measure_id, instrument="gad7", answers=[1] + [0] * 6)
    someone_else = post(other_client, id=measure_id, instrument="gad7", answers=[0] * 7)

    assert changed.status_code == someone_else.status_code == 409
    assert changed.json()["code"] == someone_else.json()["code"] == "id_conflict"
    assert open_measure(Measure.objects.get(), sealer=sealer_for(patient)).answers == [0] * 7


def test_lists_newest_first_and_filters_by_instrument(
    patient_client, patient, other_patient
) -> None:
    now = timezone.now()
    old = make_measure(patient, instrument="phq9", total=12, taken_at=now - timedelta(days=7))
    new = make_measure(patient, instrument="phq9", total=6, taken_at=now - timedelta(days=1))
    gad = make_measure(patient, instrument="gad7", total=3, taken_at=now - timedelta(days=3))
    make_measure(other_patient, instrument="phq9", total=20)

    everything = patient_client.get(URL).json()["results"]
    phq9 = patient_client.get(URL, {"instrument": "phq9"}).json()["results"]

    assert [row["id"] for row in everything] == [str(new.id), str(gad.id), str(old.id)]
    assert [row["id"] for row in phq9] == [str(new.id), str(old.id)]


def test_lists_by_session_and_time(patient_client, patient) -> None:
    session = make_session(patient)
    now = timezone.now()
    linked = make_measure(patient, session_id=session.id, taken_at=now - timedelta(days=2))
    make_measure(patient, taken_at=now - timedelta(days=5))

    by_session = patient_client.get(URL, {"session": str(session.id)}).json()["results"]
    recent = patient_client.get(URL, {"taken_from": (now - timedelta(days=3)).isoformat()}).json()[
        "results"
    ]

    assert [row["id"] for row in by_session] == [str(linked.id)]
    assert [row["id"] for row in recent] == [str(linked.id)]


def test_list_uses_a_constant_number_of_queries(
    patient_client, patient, django_assert_max_num_queries
) -> None:
    for total in range(30):
        make_measure(patient, total=total % 25)

    with django_assert_max_num_queries(2):
        response = patient_client.get(URL, {"limit": 200})

    assert len(response.json()["results"]) == 30


def test_reads_one_measure(patient_client, patient) -> None:
    measure = make_measure(patient, instrument="gad7", total=11)

    response = patient_client.get(f"{URL}{measure.id}/")

    assert response.status_code == 200
    assert response.json()["band"] == "moderate"
    assert response["ETag"] == '"1"'


def test_another_patients_measure_is_not_found(other_client, patient) -> None:
    measure = make_measure(patient)

    assert other_client.get(f"{URL}{measure.id}/").status_code == 404
    assert other_client.get(URL).json()["results"] == []


def test_measures_are_for_patients_only(therapist_client) -> None:
    response = post(therapist_client, instrument="gad7", answers=[0] * 7)

    assert response.status_code == 403
    assert therapist_client.get(URL).status_code == 403
    assert not Measure.objects.exists()


def test_instruments_lists_both_forms_for_an_app_to_render(patient_client) -> None:
    response = patient_client.get(f"{URL}instruments/")

    assert response.status_code == 200
    forms = {form["code"]: form for form in response.json()["results"]}
    assert set(forms) == {"phq9", "gad7"}
    phq9, gad7 = forms["phq9"], forms["gad7"]
    assert (phq9["loinc_panel"], phq9["loinc_total"]) == ("44249-1", "44261-6")
    assert (gad7["loinc_panel"], gad7["loinc_total"]) == ("69737-5", "70274-6")
    assert len(phq9["items"]) == 9
    assert len(gad7["items"]) == 7
    assert phq9["items"][8] == {
        "number": 9,
        "text": "Thoughts that you would be better off dead or of hurting yourself in some way",
        "loinc": "44260-8",
    }
    assert [option["text"] for option in phq9["options"]] == [
        "Not at all",
        "Several days",
        "More than half the days",
        "Nearly every day",
    ]
    assert [option["text"] for option in phq9["difficulty"]["options"]] == [
        "Not difficult at all",
        "Somewhat difficult",
        "Very difficult",
        "Extremely difficult",
    ]
    assert gad7["difficulty"] is None
    assert [(b["band"], b["minimum"], b["maximum"]) for b in phq9["bands"]] == [
        ("minimal", 0, 4),
        ("mild", 5, 9),
        ("moderate", 10, 14),
        ("moderately_severe", 15, 19),
        ("severe", 20, 27),
    ]
    assert [(b["band"], b["minimum"], b["maximum"]) for b in gad7["bands"]] == [
        ("minimal", 0, 4),
        ("mild", 5, 9),
        ("moderate", 10, 14),
        ("severe", 15, 21),
    ]
    assert (phq9["safety_item"], gad7["safety_item"]) == (9, None)
    assert "No permission required" in phq9["copyright"]


def test_instruments_need_a_sign_in(api_client) -> None:
    assert api_client.get(f"{URL}instruments/").status_code == 401


def test_a_therapist_with_a_second_factor_may_read_the_instruments(therapist, api_client) -> None:
    token = issue_token(therapist, second_factor=True)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert api_client.get(f"{URL}instruments/").status_code == 200
    assert api_client.get(URL).status_code == 403  # the patient's own measures: no


def test_the_service_refuses_an_unknown_instrument(patient) -> None:
    from backend.errors import ProblemError
    from journal.measures import services

    with pytest.raises(ProblemError) as refused:
        services.measure_create(patient=patient, instrument="madrs", answers=[0] * 10)

    assert set(refused.value.extra["errors"]) == {"instrument"}
