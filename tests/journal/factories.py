"""Journal test data: users from the accounts factories, and sessions, entries and measures
made through the services, so every row is sealed and scored exactly as the API does it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from backend.accounts.models import User
from journal.entries import services as entries_services
from journal.measures import services as measures_services
from journal.models import Entry, Measure, TreatmentSession
from journal.sessions import services
from tests.accounts.factories import PatientFactory, TherapistFactory

# A dosing session's after-effects as the patient reports them afterwards.
AFTER_EFFECTS = {
    "dissociation": "moderate",
    "nausea": "mild",
    "dizziness": "none",
    "headache": "none",
    "raised_blood_pressure": "mild",
    "anxiety": "severe",
}


def make_patient(**fields: Any) -> User:
    # No usable password: these tests sign in with force_authenticate, and skipping the
    # Argon2 hash keeps them fast.
    return PatientFactory.create(password=None, **fields)


def make_therapist(**fields: Any) -> User:
    return TherapistFactory.create(password=None, **fields)


def make_session(patient: User, *, kind: str = "dosing", **fields: Any) -> TreatmentSession:
    """An upcoming session (by default a dosing session in the clinic)."""
    values: dict[str, Any] = {
        "kind": kind,
        "scheduled_start": timezone.now() + timedelta(days=2),
        "note": "session note",
    }
    if kind == "dosing":
        values.update(modality="esketamine_nasal", setting="clinic")
    values.update(fields)
    return services.session_create(patient=patient, **values).record


def make_entry(patient: User, **fields: Any) -> Entry:
    values: dict[str, Any] = {
        "kind": "note",
        "title": "entry title",
        "body": "entry body",
        "tags": ["tag"],
    }
    values.update(fields)
    return entries_services.entry_create(patient=patient, **values).record


def make_reflections(patient: User, intention: Entry, count: int) -> list[Entry]:
    """`count` reflections on the intention."""
    return [
        make_entry(patient, kind="reflection", intention_ids=[intention.id]) for _ in range(count)
    ]


def make_measure(
    patient: User, *, instrument: str = "phq9", total: int | None = None, **fields: Any
) -> Measure:
    """A measure; `total` spreads that total over the items (first items first)."""
    count = 9 if instrument == "phq9" else 7
    if total is not None:
        fields["answers"] = [min(3, max(0, total - 3 * index)) for index in range(count)]
    fields.setdefault("answers", [0] * count)
    return measures_services.measure_create(patient=patient, instrument=instrument, **fields).record
