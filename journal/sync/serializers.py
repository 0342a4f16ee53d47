"""The sync API's shapes: one change (a record or a tombstone) and a page of them.

A change is a discriminated union on `type`: each kind of record has its own component
(`SessionChange`, `EntryChange`, `MeasureChange`, and one per sync source, such as
`PromptChange`), whose `type` is a one-value enum and whose `data` is that kind's record,
null exactly when `deleted` is true (a tombstone). Generators make one typed class per kind.
"""

from __future__ import annotations

from typing import Any

from django.db.models import TextChoices
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from backend.serializers import EnumField
from journal.entries.serializers import EntryOutputSerializer
from journal.measures.serializers import MeasureOutputSerializer
from journal.sessions.serializers import SessionOutputSerializer
from journal.sync.sources import sync_sources

SYNC_DEFAULT_LIMIT = 200


SYNC_MAX_LIMIT = 500


class SyncChangeSerializer(serializers.Serializer[Any]):
    """What every change has; each kind adds its `type` and its `data`."""

    id = serializers.UUIDField()
    change = serializers.IntegerField(help_text="Increases with every change you make.")
    deleted = serializers.BooleanField(help_text="True: a tombstone (`data` is null).")


class SessionChangeType(TextChoices):
    SESSION = "session", "Treatment session"


class EntryChangeType(TextChoices):
    ENTRY = "entry", "Journal entry"


class MeasureChangeType(TextChoices):
    MEASURE = "measure", "Measure (PHQ-9, GAD-7)"


def record_change_serializer(
    name: str,
    *,
    type_choices: type[TextChoices],
    record: type[serializers.Serializer[Any]],
    noun: str,
    doc: str,
) -> type[SyncChangeSerializer]:
    """The change component `name` of one of the journal's kinds of record: its `type`, and
    in `data` the record as a list of them shows it, null in a tombstone."""

    class RecordChangeSerializer(SyncChangeSerializer):
        type = EnumField(type_choices)
        # A field named like Serializer.data: DRF takes declared fields off the class.
        data = record(  # type: ignore[assignment]
            allow_null=True, help_text=f"The {noun} as a list of them shows it; null if deleted."
        )

        class Meta:
            ref_name = name

    RecordChangeSerializer.__doc__ = doc
    return RecordChangeSerializer


SessionChangeSerializer = record_change_serializer(
    "SessionChange",
    type_choices=SessionChangeType,
    record=SessionOutputSerializer,
    noun="session",
    doc="A treatment session made, changed or deleted (a tombstone: `data` null).",
)


EntryChangeSerializer = record_change_serializer(
    "EntryChange",
    type_choices=EntryChangeType,
    record=EntryOutputSerializer,
    noun="entry",
    doc="A journal entry made, changed or deleted (a tombstone: `data` null).",
)


MeasureChangeSerializer = record_change_serializer(
    "MeasureChange",
    type_choices=MeasureChangeType,
    record=MeasureOutputSerializer,
    noun="measure",
    doc="A measure (PHQ-9, GAD-7) taken or deleted (a tombstone: `data` null).",
)


def change_serializers() -> dict[
    str, serializers.Serializer[Any] | type[serializers.Serializer[Any]]
]:
    """Each `type` value and its change component: journal's kinds, then the sources'."""
    components: dict[str, serializers.Serializer[Any] | type[serializers.Serializer[Any]]] = {
        SessionChangeType.SESSION.value: SessionChangeSerializer,
        EntryChangeType.ENTRY.value: EntryChangeSerializer,
        MeasureChangeType.MEASURE.value: MeasureChangeSerializer,
    }
    components.update((source.kind, source.serializer) for source in sync_sources())
    return components


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="SyncChange",
        # Called when the schema is made: the sync sources are read from the settings then.
        serializers=change_serializers,
        resource_type_field_name="type",
    )
)
class SyncChangeField(serializers.Field):  # type: ignore[type-arg]
    """A change as the view built it (its `data` already rendered by its kind)."""

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


class SyncPageSerializer(serializers.Serializer[Any]):
    changes = serializers.ListField(child=SyncChangeField())
    cursor = serializers.CharField(help_text="Send as `since` next time.")
    has_more = serializers.BooleanField(help_text="True: sync again now with `cursor`.")
    local_notifications = serializers.BooleanField(
        help_text=(
            "True: no device of yours takes push notifications (none registered, or "
            "notifications refused on each), so schedule a local notification at each "
            "scheduled prompt's `due_at`. False: pushes remind you; schedule none, so "
            "nothing reminds twice. Read it on every sync: it follows your devices."
        )
    )

    class Meta:
        ref_name = "SyncPage"
