"""The whole record of a patient, opened, for export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from backend.accounts.models import User
from journal.access import (
    entry_queryset_for_patient,
    measure_queryset_for_patient,
    session_queryset_for_patient,
)
from journal.entries.selectors import OpenedEntry, intention_ids_prefetch, open_entry
from journal.keys import Sealer
from journal.measure_items import open_measures
from journal.models import (
    Measure,
)
from journal.sessions.selectors import OpenedSession, open_session


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
    queries and the intentions prefetch, whatever the size of the journal)."""
    sessions = session_queryset_for_patient(patient=patient).order_by("scheduled_start", "id")
    entries = (
        entry_queryset_for_patient(patient=patient)
        .prefetch_related(intention_ids_prefetch())
        .order_by("created_at", "id")
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
