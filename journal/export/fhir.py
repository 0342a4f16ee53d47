"""A patient's measures, and the consents they gave, as a FHIR R4 Bundle, to take to another
clinic or system.

Each measure becomes a QuestionnaireResponse (the item answers as LOINC-coded answers, and
the total) and an Observation of the total score (LOINC total code, `derivedFrom` the
QuestionnaireResponse), as the HL7 Structured Data Capture guide extracts observations
from a scored form. The Bundle is a `collection`: a set of resources for the patient's records,
not a document or a transaction for a server to apply.

Consents are `Consent` resources (scope `patient-privacy`): each decision about safety
alerts on a care link (permit or deny disclosure of an alert to the therapist, under the
consent text version as its `policy`) and each acceptance of the terms and privacy notice
(category "Privacy policy acknowledgment Document"). The decision in force is `active`,
superseded ones `inactive`. The crisis lines are not the patient's record and stay out.

The patient appears only as an identifier (a URN of their account id): no name, no email,
nothing that identifies them to whoever else reads the file. Ids are stable across
exports (the measure's id, and a name-based UUID of it for the Observation), so a receiver
can recognise a measure it has already imported.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from journal.instruments import (
    LOINC_SYSTEM,
    AnswerOption,
    Band,
    InstrumentDefinition,
    definition,
)
from journal.models import Measure

FHIR_CONTENT_TYPE = "application/fhir+json"
FHIR_VERSION = "4.0.1"
URI_IDENTIFIER_SYSTEM = "urn:ietf:rfc:3986"  # FHIR's system for an identifier that is a URI
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
ORDINAL_VALUE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
# Names the Observation ids: uuid5(this, measure id).
OBSERVATION_NAMESPACE = uuid.UUID("5f0e0a8e-7c1d-4c55-9a0b-2f8b3d6e1a47")
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_ACTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentaction"
PARTICIPATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
# LOINC consent categories (FHIR's consent category value set).
PATIENT_CONSENT = ("59284-0", "Patient Consent")
PRIVACY_ACKNOWLEDGMENT = ("57016-8", "Privacy policy acknowledgment Document")
# The texts consented to, by name; the version follows after a colon.
POLICY_SAFETY_ALERTS = "urn:afterglow:consent-text:safety-alerts"
POLICY_TERMS = "urn:afterglow:terms-and-privacy-notice"


class ConsentKind:
    SAFETY_ALERTS = "safety_alerts"
    TERMS = "terms"


@dataclass(frozen=True)
class ConsentRecord:
    """One decision of the patient to export: a consent to safety alerts (given or
    withdrawn, for one therapist) or an acceptance of the terms."""

    id: uuid.UUID
    kind: str  # ConsentKind
    is_permit: bool
    version: str  # "" when it was not recorded
    recorded_at: datetime
    is_in_force: bool
    recipient_id: uuid.UUID | None = None  # the therapist an alert would be disclosed to
    recipient_display: str = ""


def _instant(moment: datetime) -> str:
    """An R4 dateTime/instant: seconds, and a zone (UTC, as `Z`)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _urn(value: uuid.UUID) -> str:
    return f"urn:uuid:{value}"


def questionnaire_canonical(form: InstrumentDefinition) -> str:
    # LOINC publishes its panels as FHIR Questionnaires under this canonical.
    return f"{LOINC_SYSTEM}/q/{form.loinc_panel}"


def observation_id(measure: Measure) -> uuid.UUID:
    return uuid.uuid5(OBSERVATION_NAMESPACE, str(measure.id))


def _subject(patient_id: uuid.UUID) -> dict[str, Any]:
    return {"identifier": {"system": URI_IDENTIFIER_SYSTEM, "value": _urn(patient_id)}}


def _coding(option: AnswerOption) -> dict[str, Any]:
    return {
        "extension": [{"url": ORDINAL_VALUE_EXTENSION, "valueDecimal": option.value}],
        "system": LOINC_SYSTEM,
        "code": option.loinc,
        "display": option.text,
    }


def questionnaire_response(measure: Measure) -> dict[str, Any]:
    form = definition(measure.instrument)
    items: list[dict[str, Any]] = [
        {
            "linkId": item.loinc,
            "text": item.text,
            "answer": [{"valueCoding": _coding(form.options[answer])}],
        }
        for item, answer in zip(form.items, measure.answers, strict=True)
    ]
    if form.difficulty is not None and measure.difficulty is not None:
        items.append(
            {
                "linkId": form.difficulty.loinc,
                "text": form.difficulty.text,
                "answer": [{"valueCoding": _coding(form.difficulty.options[measure.difficulty])}],
            }
        )
    items.append(
        {
            "linkId": form.loinc_total,
            "text": f"{form.name} total score",
            "answer": [{"valueInteger": measure.total}],
        }
    )
    return {
        "resourceType": "QuestionnaireResponse",
        "id": str(measure.id),
        "identifier": {"system": URI_IDENTIFIER_SYSTEM, "value": _urn(measure.id)},
        "questionnaire": questionnaire_canonical(form),
        "status": "completed",
        "subject": _subject(measure.patient_id),
        "authored": _instant(measure.taken_at),
        "item": items,
    }


def total_observation(measure: Measure) -> dict[str, Any]:
    form = definition(measure.instrument)
    return {
        "resourceType": "Observation",
        "id": str(observation_id(measure)),
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": OBSERVATION_CATEGORY_SYSTEM, "code": "survey", "display": "Survey"}
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": LOINC_SYSTEM,
                    "code": form.loinc_total,
                    "display": form.loinc_total_display,
                }
            ],
            "text": f"{form.name} total score",
        },
        "subject": _subject(measure.patient_id),
        "effectiveDateTime": _instant(measure.taken_at),
        "issued": _instant(measure.created_at),
        "valueInteger": measure.total,
        "interpretation": [{"text": f"{Band(measure.band).label} ({form.name} severity)"}],
        "derivedFrom": [{"reference": _urn(measure.id)}],
    }


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def consent_resource(record: ConsentRecord, *, patient_id: uuid.UUID) -> dict[str, Any]:
    """A FHIR R4 Consent for one decision."""
    is_terms = record.kind == ConsentKind.TERMS
    category = PRIVACY_ACKNOWLEDGMENT if is_terms else PATIENT_CONSENT
    policy = POLICY_TERMS if is_terms else POLICY_SAFETY_ALERTS
    provision: dict[str, Any] = {"type": "permit" if record.is_permit else "deny"}
    if record.kind == ConsentKind.SAFETY_ALERTS:
        provision["action"] = [_concept(CONSENT_ACTION_SYSTEM, "disclose", "Disclose")]
        if record.recipient_id is not None:
            recipient: dict[str, Any] = {
                "identifier": {"system": URI_IDENTIFIER_SYSTEM, "value": _urn(record.recipient_id)}
            }
            if record.recipient_display:
                recipient["display"] = record.recipient_display
            provision["actor"] = [
                {
                    "role": _concept(PARTICIPATION_TYPE_SYSTEM, "IRCP", "information recipient"),
                    "reference": recipient,
                }
            ]
    return {
        "resourceType": "Consent",
        "id": str(record.id),
        "status": "active" if record.is_in_force else "inactive",
        "scope": _concept(CONSENT_SCOPE_SYSTEM, "patient-privacy", "Privacy Consent"),
        "category": [_concept(LOINC_SYSTEM, *category)],
        "patient": {"identifier": {"system": URI_IDENTIFIER_SYSTEM, "value": _urn(patient_id)}},
        "dateTime": _instant(record.recorded_at),
        # Every Consent names the policy it was given under (FHIR invariant ppc-1).
        "policy": [{"uri": f"{policy}:{record.version}" if record.version else policy}],
        "provision": provision,
    }


def measures_bundle(
    measures: Iterable[Measure],
    *,
    now: datetime,
    consents: Iterable[ConsentRecord] = (),
    patient_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """A `collection` Bundle: for each measure its QuestionnaireResponse, then its total;
    then each consent (`patient_id` names the patient on them)."""
    entries: list[dict[str, Any]] = []
    for measure in measures:
        entries.append({"fullUrl": _urn(measure.id), "resource": questionnaire_response(measure)})
        entries.append(
            {"fullUrl": _urn(observation_id(measure)), "resource": total_observation(measure)}
        )
    for record in consents:
        if patient_id is None:
            raise ValueError("consents need the patient_id")
        entries.append(
            {
                "fullUrl": _urn(record.id),
                "resource": consent_resource(record, patient_id=patient_id),
            }
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": _instant(now)},
        "type": "collection",
        "timestamp": _instant(now),
    }
    if entries:  # FHIR JSON has no empty arrays (R4, JSON representation)
        bundle["entry"] = entries
    return bundle
