"""The sync API's shapes: one change (a record or a tombstone) and a page of them."""

from __future__ import annotations

from typing import Any

from django.db.models import TextChoices
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema_field,
)
from rest_framework import serializers

from backend.serializers import EnumField
from journal.entries.serializers import EntryOutputSerializer
from journal.measures.serializers import MeasureOutputSerializer
from journal.sessions.serializers import SessionOutputSerializer

SYNC_DEFAULT_LIMIT = 200


SYNC_MAX_LIMIT = 500


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="SyncRecord",
        serializers=[SessionOutputSerializer, EntryOutputSerializer, MeasureOutputSerializer],
        resource_type_field_name=None,
    )
)
class SyncRecordField(serializers.Field):  # type: ignore[type-arg]
    """The record (a Session, an Entry or a Measure) as a list of them shows it; null for a
    deletion."""

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


class SyncRecordType(TextChoices):
    SESSION = "session", "Treatment session"
    ENTRY = "entry", "Journal entry"
    MEASURE = "measure", "Measure (PHQ-9, GAD-7)"


class SyncChangeSerializer(serializers.Serializer[Any]):
    type = EnumField(SyncRecordType)
    id = serializers.UUIDField()
    change = serializers.IntegerField(help_text="Increases with every change you make.")
    deleted = serializers.BooleanField()
    # A field named like Serializer.data: DRF takes declared fields off the class.
    data = SyncRecordField(allow_null=True)  # type: ignore[assignment]

    class Meta:
        ref_name = "SyncChange"


class SyncPageSerializer(serializers.Serializer[Any]):
    changes = SyncChangeSerializer(many=True)
    cursor = serializers.CharField(help_text="Send as `since` next time.")
    has_more = serializers.BooleanField(help_text="True: sync again now with `cursor`.")

    class Meta:
        ref_name = "SyncPage"
