"""Make sealed journal rows directly through the key service (no API), for key tests."""

from __future__ import annotations

import json
import uuid

from django.utils import timezone

from journal.keys import sealer_for
from journal.models import Entry, EntryKind, TreatmentSession


def sealed_entry(patient, *, title: str, body: str, tags: list[str] | None = None) -> Entry:
    sealer = sealer_for(patient)
    entry = Entry(id=uuid.uuid4(), patient=patient, kind=EntryKind.NOTE)
    entry.title_sealed = sealer.seal(entry, "title_sealed", title)
    entry.content_sealed = sealer.seal(
        entry, "content_sealed", json.dumps({"body": body, "tags": tags or []})
    )
    entry.save()
    return entry


def sealed_session(patient, *, note: str) -> TreatmentSession:
    sealer = sealer_for(patient)
    session = TreatmentSession(
        id=uuid.uuid4(), patient=patient, kind="preparation", scheduled_start=timezone.now()
    )
    session.note_sealed = sealer.seal(session, "note_sealed", note)
    session.save()
    return session


def opened_entry(entry: Entry) -> tuple[str, str]:
    fresh = Entry.objects.get(pk=entry.pk)
    sealer = sealer_for(fresh.patient)
    return sealer.open(fresh, "title_sealed"), sealer.open(fresh, "content_sealed")
