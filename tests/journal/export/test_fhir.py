"""GET /api/v1/me/export/fhir/: the patient's measures as a FHIR R4 Bundle.

Every resource is validated with the `fhir.resources` models of FHIR R4B (4.3.0): the
package has no pure R4 (4.0.1) models under pydantic 2, and R4B changed none of the
resources used here (Bundle, QuestionnaireResponse, Observation) from R4.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError

from journal.export import fhir
from tests.conftest import client_for
from tests.journal.factories import make_measure

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/export/fhir/"
MODELS: dict[str, type[QuestionnaireResponse] | type[Observation]] = {
    "QuestionnaireResponse": QuestionnaireResponse,
    "Observation": Observation,
}


def export(client) -> dict:
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    return json.loads(response.content)


@pytest.fixture
def measures(patient):
    now = timezone.now()
    return [
        make_measure(patient, total=14, difficulty=2, taken_at=now - timedelta(days=9)),
        make_measure(patient, instrument="gad7", total=8, taken_at=now - timedelta(days=8)),
        make_measure(
            patient, answers=[0, 1, 0, 0, 0, 0, 0, 0, 1], taken_at=now - timedelta(days=1)
        ),
    ]


def test_every_resource_is_valid_fhir(patient_client, measures) -> None:
    bundle = export(patient_client)

    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        MODELS[resource["resourceType"]].model_validate(resource)
    assert bundle["type"] == "collection"
    assert len(bundle["entry"]) == 2 * len(measures)


def test_the_validator_refuses_what_r4_does_not_allow(patient_client, measures) -> None:
    """The check above can fail: a misspelt element or a bad date does not pass."""
    bundle = export(patient_client)
    observation = dict(bundle["entry"][1]["resource"])

    with pytest.raises(ValidationError):
        Observation.model_validate(observation | {"valueInt": 3})
    with pytest.raises(ValidationError):
        Observation.model_validate(observation | {"effectiveDateTime": "2025-13-01"})


def test_each_measure_is_a_questionnaire_response_and_its_total(patient_client, measures) -> None:
    bundle = export(patient_client)

    first_response = bundle["entry"][0]
    first_total = bundle["entry"][1]
    response, total = first_response["resource"], first_total["resource"]
    assert first_response["fullUrl"] == f"urn:uuid:{measures[0].id}"
    assert response["id"] == str(measures[0].id)
    assert response["status"] == "completed"
    assert response["questionnaire"] == "http://loinc.org/q/44249-1"
    assert response["authored"] == measures[0].taken_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    codes = [item["linkId"] for item in response["item"]]
    assert codes == [
        "44250-9",
        "44255-8",
        "44259-0",
        "44254-1",
        "44251-7",
        "44258-2",
        "44252-5",
        "44253-3",
        "44260-8",
        "69722-7",
        "44261-6",
    ]
    answer_codes = [
        item["answer"][0].get("valueCoding", {}).get("code") for item in response["item"]
    ]
    # total 14 over the items, first ones first: 3, 3, 3, 3, 2, 0, 0, 0, 0
    assert answer_codes[:9] == ["LA6571-9"] * 4 + ["LA6570-1"] + ["LA6568-5"] * 4
    assert answer_codes[9] == "LA6575-0"  # difficulty 2: "Very difficult"
    assert response["item"][-1]["answer"] == [{"valueInteger": 14}]

    assert total["status"] == "final"
    assert total["category"][0]["coding"][0]["code"] == "survey"
    assert total["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "44261-6",
        "display": "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    }
    assert total["valueInteger"] == 14
    assert total["effectiveDateTime"] == response["authored"]
    assert total["derivedFrom"] == [{"reference": first_response["fullUrl"]}]
    assert first_total["fullUrl"] == f"urn:uuid:{total['id']}"


def test_a_gad7_is_coded_as_a_gad7(patient_client, measures) -> None:
    bundle = export(patient_client)

    response, total = bundle["entry"][2]["resource"], bundle["entry"][3]["resource"]
    assert response["questionnaire"] == "http://loinc.org/q/69737-5"
    assert [item["linkId"] for item in response["item"]][-1] == "70274-6"
    assert len(response["item"]) == 8  # seven items and the total, no difficulty
    assert total["code"]["coding"][0]["code"] == "70274-6"


def test_every_derived_from_points_at_a_response_in_the_bundle(patient_client, measures) -> None:
    bundle = export(patient_client)

    responses = {
        entry["fullUrl"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "QuestionnaireResponse"
    }
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Observation":
            (link,) = entry["resource"]["derivedFrom"]
            assert link["reference"] in responses


def test_the_patient_appears_only_as_an_identifier(patient_client, patient, measures) -> None:
    text = patient_client.get(URL).content.decode()
    bundle = json.loads(text)

    assert patient.email not in text
    assert patient.display_name not in text
    subjects = {json.dumps(entry["resource"]["subject"]) for entry in bundle["entry"]}
    assert subjects == {
        json.dumps(
            {"identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{patient.pk}"}}
        )
    }


def test_ids_are_stable_across_exports(patient_client, measures) -> None:
    first = [entry["fullUrl"] for entry in export(patient_client)["entry"]]
    second = [entry["fullUrl"] for entry in export(patient_client)["entry"]]

    assert first == second
    assert fhir.observation_id(measures[0]) != measures[0].id


def test_only_the_patients_own_measures(other_client, patient, measures) -> None:
    bundle = export(other_client)

    assert "entry" not in bundle  # FHIR JSON has no empty arrays
    Bundle.model_validate(bundle)


def test_the_fhir_export_is_for_patients_only(therapist) -> None:
    assert client_for(therapist).get(URL).status_code == 403


def test_the_fhir_export_needs_a_sign_in(api_client) -> None:
    assert api_client.get(URL).status_code == 401
