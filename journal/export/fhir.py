"""A patient's measures as a FHIR R4 Bundle, to take to another clinic or system.

Each measure becomes a QuestionnaireResponse (the item answers as LOINC-coded answers, and
the total) and an Observation of the total score (LOINC total code, `derivedFrom` the
QuestionnaireResponse), as the HL7 Structured Data Capture guide extracts observations
from a scored form. The Bundle is a `collection`: a set of resources for the patient's records,
not a document or a transaction for a server to apply.

The patient appears only as an identifier (a URN of their account id): no name, no email,
nothing that identifies them to whoever else reads the file. Ids are stable across
exports (the measure's id, and a name-based UUID of it for the Observation), so a receiver
can recognise a measure it has already imported.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
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


def measures_bundle(measures: Iterable[Measure], *, now: datetime) -> dict[str, Any]:
    """A `collection` Bundle: for each measure its QuestionnaireResponse, then its total."""
    entries: list[dict[str, Any]] = []
    for measure in measures:
        entries.append({"fullUrl": _urn(measure.id), "resource": questionnaire_response(measure)})
        entries.append(
            {"fullUrl": _urn(observation_id(measure)), "resource": total_observation(measure)}
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
