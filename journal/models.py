"""The patient's own record: data keys, treatment sessions, journal entries and measures.

Free text, and the item answers of standard measures, are stored only sealed (columns
ending in `_sealed`, see `journal.keys`). What stays in the clear, so the service can
schedule, sort, filter, sync and chart without keys: ids, kinds, statuses, times, links
between rows, moods, ratings, after-effect grades and the totals and bands of measures.
"""

from __future__ import annotations

import datetime
import operator
import uuid
from dataclasses import dataclass
from functools import reduce

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from journal.instruments import INSTRUMENTS, Band, Instrument


class DataKey(models.Model):
    """A patient's data key (DEK), stored only wrapped under a key-encryption key (KEK).

    A patient has one active DEK (new seals) and, during a rotation, older ones that still
    open rows not yet re-sealed. Deleting every row here is crypto-shredding: nothing the
    patient wrote can be opened again, from the database or any backup of it.
    """

    id = models.BigAutoField(primary_key=True)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_keys"
    )
    version = models.PositiveIntegerField()
    wrapped = models.BinaryField()
    kek_version = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    rewrapped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "version"], name="datakey_unique_version"),
            models.UniqueConstraint(
                fields=["patient"], condition=Q(is_active=True), name="datakey_one_active"
            ),
        ]
        indexes = [models.Index(fields=["kek_version"], name="datakey_kek_version")]

    def __str__(self) -> str:
        return f"data key v{self.version} of {self.patient_id} (KEK v{self.kek_version})"


class SyncState(models.Model):
    """A patient's change counter. Every write takes the next number while holding this
    row's lock until commit, so a patient's changes commit in counter order and a sync
    cursor (the last number seen) can never skip a change that commits later."""

    patient = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="sync_state",
    )
    last_change = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"sync state of {self.patient_id} at {self.last_change}"


class SessionKind(models.TextChoices):
    PREPARATION = "preparation", "Preparation"
    DOSING = "dosing", "Dosing"
    INTEGRATION = "integration", "Integration"


class Modality(models.TextChoices):
    ESKETAMINE_NASAL = "esketamine_nasal", "Esketamine nasal spray"
    IV_INFUSION = "iv_infusion", "IV infusion"
    IM_INJECTION = "im_injection", "IM injection"
    ORAL_LOZENGE = "oral_lozenge", "Oral or sublingual lozenge"
    OTHER = "other", "Other"


class Setting(models.TextChoices):
    CLINIC = "clinic", "Clinic"
    HOME = "home", "Home"


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Severity(models.TextChoices):
    NONE = "none", "None"
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


# The after-effects asked after a dosing session: the common acute effects of ketamine and
# esketamine (Spravato prescribing information, section 5 and 6: dissociation, nausea,
# dizziness, headache, increased blood pressure, anxiety).
AFTER_EFFECTS = (
    "dissociation",
    "nausea",
    "dizziness",
    "headache",
    "raised_blood_pressure",
    "anxiety",
)


class SyncedModel(models.Model):
    """Fields every synced record has: client-choosable id, version, tombstone, change."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    change = models.BigIntegerField(default=0)
    key_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class WrittenRecord(SyncedModel):
    """A synced record the patient writes: with the client's time of writing (a measure has
    its own `taken_at`)."""

    # When the patient wrote it, by the phone's clock (it may arrive much later, after a
    # day offline); null when the client did not say, and then the time it arrived.
    written_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def written_time(self) -> datetime.datetime:
        """When the patient wrote it: the client's time of writing, else its arrival."""
        return self.written_at or self.created_at


class TreatmentSession(WrittenRecord):
    """A meeting on the patient's calendar: preparation, dosing or integration."""

    kind = models.CharField(max_length=16, choices=SessionKind.choices)
    modality = models.CharField(max_length=24, choices=Modality.choices, blank=True)
    setting = models.CharField(max_length=8, choices=Setting.choices, blank=True)
    scheduled_start = models.DateTimeField()
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    note_sealed = models.TextField(blank=True, default="")
    after_effects = models.JSONField(null=True, blank=True)
    overall_rating = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["scheduled_start", "id"]
        indexes = [
            models.Index(fields=["patient", "change"], name="session_patient_change"),
            models.Index(fields=["patient", "scheduled_start"], name="session_patient_start"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(overall_rating__isnull=True) | Q(overall_rating__lte=10),
                name="session_rating_0_10",
            ),
            models.CheckConstraint(
                condition=Q(kind="dosing") | Q(modality=""), name="session_modality_dosing_only"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} session {self.id}"


class EntryKind(models.TextChoices):
    INTENTION = "intention", "Intention"
    REFLECTION = "reflection", "Reflection"
    EXERCISE = "exercise", "Exercise answer"
    CHECKIN = "checkin", "Check-in"
    NOTE = "note", "Note"


class Entry(WrittenRecord):
    """A journal entry. Title, body and tags are sealed; the body and tags as one value."""

    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    session = models.ForeignKey(
        TreatmentSession,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="entries",
    )
    title_sealed = models.TextField(blank=True, default="")
    content_sealed = models.TextField(blank=True, default="")
    mood = models.PositiveSmallIntegerField(null=True, blank=True)
    intentions = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="reflections"
    )

    # Not a column: the sorted ids of its intentions, when the statement that fetched or
    # wrote the row already knows them (journal.sql); None means "ask `intentions`".
    loaded_intention_ids: list[uuid.UUID] | None = None

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "entries"
        indexes = [
            models.Index(fields=["patient", "change"], name="entry_patient_change"),
            models.Index(fields=["patient", "-created_at", "-id"], name="entry_patient_created"),
            models.Index(fields=["session"], name="entry_session"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(mood__isnull=True) | Q(mood__lte=10), name="entry_mood_0_10"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} entry {self.id}"


def _band_matches_total() -> Q:
    """Each (instrument, band) with the totals that band covers, from the definitions."""
    return reduce(
        operator.or_,
        (
            Q(instrument=code, band=band.band, total__gte=band.minimum, total__lte=band.maximum)
            for code, form in INSTRUMENTS.items()
            for band in form.bands
        ),
    )


@dataclass(frozen=True)
class MeasureItems:
    """What a measure keeps sealed: the item answers, in the printed order of the items
    (`journal.measures`), and the PHQ-9's difficulty question (not scored)."""

    answers: tuple[int, ...]
    difficulty: int | None


class MeasureItemsNotOpenedError(RuntimeError):
    """A measure's items were read before `journal.measure_items` opened them: a bug in
    the caller (a read path that forgot to open), never a client's error."""


class Measure(SyncedModel):
    """A scored questionnaire (PHQ-9 or GAD-7): the item answers, their total and band.

    The item answers (item 9, thoughts of self-harm, among them) and the difficulty are
    sealed with the patient's data key in `items_sealed`, like journal text
    (`journal.measure_items`). The total, band and times stay in the clear: the trend,
    response and remission, and the therapist's charts are computed from them alone.
    """

    instrument = models.CharField(max_length=8, choices=Instrument.choices)
    # The database default lets a process still on the release before this column insert
    # while migration 0004 runs (it seals what such a process wrote; docs/measures.md).
    items_sealed = models.TextField(blank=True, default="", db_default="")
    total = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=24, choices=Band.choices)
    session = models.ForeignKey(
        TreatmentSession,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="measures",
    )
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["taken_at", "id"]
        indexes = [
            models.Index(fields=["patient", "change"], name="measure_patient_change"),
            models.Index(
                fields=["patient", "instrument", "taken_at"], name="measure_patient_taken"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=_band_matches_total(), name="measure_band_matches_total"
            ),
        ]

    # Not a column: the items once opened for their owner, or as just submitted
    # (`journal.measure_items`); None until then.
    opened_items: MeasureItems | None = None

    def __str__(self) -> str:
        return f"{self.instrument} measure {self.id}"

    def _items(self) -> MeasureItems:
        if self.opened_items is None:
            raise MeasureItemsNotOpenedError(
                "open the measure first: journal.measure_items.open_measure"
            )
        return self.opened_items

    @property
    def answers(self) -> list[int]:
        """The item answers; only once opened (`journal.measure_items.open_measure`)."""
        return list(self._items().answers)

    @property
    def difficulty(self) -> int | None:
        """The PHQ-9 difficulty answer, or None; only once opened, like `answers`."""
        return self._items().difficulty
