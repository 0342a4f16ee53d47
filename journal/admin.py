"""Admin for the journal: metadata only. Sealed fields are neither shown nor editable,
and the admin never holds a key: it cannot open what patients wrote."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from journal.models import DataKey, Entry, Measure, SyncState, TreatmentSession


class ReadOnlyMetadataAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Staff may look at metadata to help with support; nobody edits a patient's record
    here, and nothing is added or deleted through the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The bookkeeping of a versioned record (journal.records): its version, its place in the
# patient's sequence of changes, the key that seals it, its times and its tombstone.
VERSIONED_RECORD_FIELDS = (
    "version",
    "change",
    "key_version",
    "created_at",
    "updated_at",
    "deleted_at",
)


@admin.register(TreatmentSession)
class TreatmentSessionAdmin(ReadOnlyMetadataAdmin):
    list_display = ("id", "patient_id", "kind", "modality", "status", "scheduled_start")
    list_filter = ("kind", "status", "modality")
    fields = (
        "id",
        "patient",
        "kind",
        "modality",
        "setting",
        "status",
        "scheduled_start",
        "actual_start",
        "actual_end",
        "overall_rating",
        *VERSIONED_RECORD_FIELDS,
    )
    readonly_fields = fields
    show_full_result_count = False


@admin.register(Entry)
class EntryAdmin(ReadOnlyMetadataAdmin):
    list_display = ("id", "patient_id", "kind", "session_id", "mood", "created_at")
    list_filter = ("kind",)
    fields = (
        "id",
        "patient",
        "kind",
        "session",
        "mood",
        *VERSIONED_RECORD_FIELDS,
    )
    readonly_fields = fields
    show_full_result_count = False


@admin.register(DataKey)
class DataKeyAdmin(ReadOnlyMetadataAdmin):
    list_display = ("patient_id", "version", "kek_version", "is_active", "created_at")
    list_filter = ("kek_version", "is_active")
    fields = ("patient", "version", "kek_version", "is_active", "created_at", "rewrapped_at")
    readonly_fields = fields


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyMetadataAdmin):
    list_display = ("patient_id", "last_change")
    fields = ("patient", "last_change")
    readonly_fields = fields


@admin.register(Measure)
class MeasureAdmin(ReadOnlyMetadataAdmin):
    """Which questionnaire was taken when; no answers or scores, which are health detail
    that support staff do not need."""

    list_display = ("id", "patient_id", "instrument", "taken_at")
    list_filter = ("instrument",)
    fields = ("id", "patient", "instrument", "taken_at", "created_at")
    readonly_fields = fields
    show_full_result_count = False
