"""The FHIR export carries the patient's consents: each decision about safety alerts on a
care link, and each acceptance of the terms, as R4 Consent resources (validated with the
`fhir.resources` R4B models, as tests/journal/export/test_fhir.py does)."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from rest_framework.test import APIClient

from backend.accounts.terms import terms_accept
from integration.care import links
from tests.integration.care_data import make_link
from tests.integration.factories import make_patient, make_therapist

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/export/fhir/"


def consents_of(bundle: dict) -> list[dict]:
    return [
        entry["resource"]
        for entry in bundle.get("entry", [])
        if entry["resource"]["resourceType"] == "Consent"
    ]


def test_every_consent_decision_is_a_valid_fhir_consent(settings) -> None:
    settings.TERMS_VERSION = "2026-12"
    settings.SAFETY_ALERT_CONSENT_VERSION = "3"
    patient = make_patient(email="anna@example.org", display_name="Anna Weber")
    therapist = make_therapist(email="dr.berg@example.org", display_name="Dr Berg")
    terms_accept(user=patient, version="2026-12")
    link = make_link(patient, therapist, safety_alerts_enabled=True)
    links.care_link_consent_set(patient=patient, link_id=link.pk, safety_alerts_enabled=False)
    client = APIClient()
    client.force_authenticate(patient)

    response = client.get(URL)
    text = response.content.decode()
    bundle = json.loads(text)

    Bundle.model_validate(bundle)
    consents = consents_of(bundle)
    for resource in consents:
        Consent.model_validate(resource)
    terms, given, withdrawn = consents
    assert (terms["status"], terms["provision"]["type"]) == ("active", "permit")
    assert terms["category"][0]["coding"][0]["code"] == "57016-8"
    assert terms["policy"] == [{"uri": "urn:afterglow:terms-and-privacy-notice:2026-12"}]
    assert (given["status"], given["provision"]["type"]) == ("inactive", "permit")
    assert (withdrawn["status"], withdrawn["provision"]["type"]) == ("active", "deny")
    assert withdrawn["policy"] == [{"uri": "urn:afterglow:consent-text:safety-alerts:3"}]
    (actor,) = withdrawn["provision"]["actor"]
    assert actor["role"]["coding"][0]["code"] == "IRCP"
    assert actor["reference"]["identifier"]["value"] == f"urn:uuid:{therapist.pk}"
    # The patient only by identifier, as on the measures.
    assert {json.dumps(c["patient"]) for c in consents} == {
        json.dumps(
            {"identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{patient.pk}"}}
        )
    }
    assert patient.email not in text
    assert patient.display_name not in text


def test_terms_accepted_under_an_older_version_are_no_longer_in_force(settings) -> None:
    patient = make_patient(email="anna@example.org")
    settings.TERMS_VERSION = "1"
    terms_accept(user=patient, version="1")
    settings.TERMS_VERSION = "2"
    client = APIClient()
    client.force_authenticate(patient)

    (terms,) = consents_of(json.loads(client.get(URL).content))

    assert terms["status"] == "inactive"
    assert client.get("/api/v1/me/").json()["terms"]["acceptance_required"] is True
