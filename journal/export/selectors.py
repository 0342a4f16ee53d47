"""The whole record of a patient, opened, for export."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.module_loading import import_string

from backend.accounts.models import TermsAcceptance, User
from backend.accounts.terms import current_terms_version
from journal.access import (
    entry_queryset_for_patient,
    measure_queryset_for_patient,
    session_queryset_for_patient,
)
from journal.entries.selectors import OpenedEntry, intention_ids_prefetch, open_entry
from journal.export.fhir import ConsentKind, ConsentRecord
from journal.keys import Sealer
from journal.measure_items import open_measures
from journal.models import (
    Measure,
)
from journal.sessions.selectors import OpenedSession, open_session

# Names the exported terms acceptances: uuid5(this, "<patient id>:<row id>").
TERMS_CONSENT_NAMESPACE = uuid.UUID("0f7c3e2a-4b1d-4e8a-9c65-2d1b7a9e3f50")


@dataclass(frozen=True)
class JournalExport:
    """Everything a patient recorded, opened, for their own records."""

    exported_at: datetime
    account: dict[str, str]
    sessions: list[OpenedSession]
    entries: list[OpenedEntry]
    measures: list[Measure]


def journal_export_for_patient(*, patient: User, sealer: Sealer) -> JournalExport:
    """The patient's live sessions, entries (opened) and measures, oldest first (three
    queries and the intentions prefetch, whatever the size of the journal).

    Entries come in the order they were written (`written_at`, else their arrival; then
    arrival): one written offline arrives late, and its arrival would place it after
    entries written since."""
    sessions = session_queryset_for_patient(patient=patient).order_by("scheduled_start", "id")
    entries = (
        entry_queryset_for_patient(patient=patient)
        .prefetch_related(intention_ids_prefetch())
        .order_by(Coalesce("written_at", "created_at"), "created_at", "id")
    )
    return JournalExport(
        exported_at=timezone.now(),
        account={
            "display_name": patient.display_name,
            "email": patient.email,
            "time_zone": patient.time_zone,
        },
        sessions=[open_session(session, sealer=sealer) for session in sessions],
        entries=[open_entry(entry, sealer=sealer) for entry in entries],
        measures=open_measures(
            measure_queryset_for_patient(patient=patient).order_by("taken_at", "id"), sealer=sealer
        ),
    )


def terms_consents_for_patient(*, patient: User) -> list[ConsentRecord]:
    """The patient's acceptances of the terms and privacy notice, oldest first; the latest
    is in force while its version is the current one."""
    current = current_terms_version()
    rows = list(TermsAcceptance.objects.filter(user=patient).order_by("accepted_at", "id"))
    return [
        ConsentRecord(
            # A stable id per acceptance, so a receiver recognises one it has imported.
            id=uuid.uuid5(TERMS_CONSENT_NAMESPACE, f"{patient.pk}:{row.pk}"),
            kind=ConsentKind.TERMS,
            is_permit=True,
            version=row.version,
            recorded_at=row.accepted_at,
            is_in_force=row is rows[-1] and row.version == current,
        )
        for row in rows
    ]


def consents_for_patient(*, patient: User) -> list[ConsentRecord]:
    """Every consent to export: the terms accepted, then what each app built on the
    journal records (`settings.JOURNAL_EXPORT_CONSENT_HOOKS`, each `hook(patient=...)`
    returning ConsentRecords: the journal imports nothing above it)."""
    records = terms_consents_for_patient(patient=patient)
    for path in settings.JOURNAL_EXPORT_CONSENT_HOOKS:
        records.extend(import_string(path)(patient=patient))
    return records
