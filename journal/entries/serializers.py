"""The entries API's shapes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from rest_framework import serializers

from backend.pagination import MAX_PAGE_SIZE, pages_of
from backend.serializers import BoundedDateTimeField, EnumField, StrictSerializer
from journal.api import (
    NoticeField,
    represent,
    version_and_times,
)
from journal.entries import selectors, services
from journal.keys import Sealer
from journal.models import (
    Entry,
    EntryKind,
)


class EntryOutputSerializer(serializers.Serializer[selectors.OpenedEntry]):
    id = serializers.UUIDField()
    kind = EnumField(EntryKind)
    session = serializers.UUIDField(
        allow_null=True,
        help_text="The linked session. Kept when that session is deleted (it then answers 404).",
    )
    title = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField())
    mood = serializers.IntegerField(allow_null=True, min_value=0, max_value=10)
    intention_ids = serializers.ListField(
        child=serializers.UUIDField(),
        help_text="Reflections: the intentions it looks back on (kept if one is deleted).",
    )
    version, written_at, created_at, updated_at = version_and_times()

    class Meta:
        ref_name = "Entry"


class EntryRecordSerializer(EntryOutputSerializer):
    """An entry as a create, change or read of it answers: with the notice."""

    notice = NoticeField()

    class Meta:
        ref_name = "EntryRecord"


def entry_data(entry: Entry, sealer: Sealer) -> dict[str, Any]:
    return represent(EntryOutputSerializer, selectors.open_entry(entry, sealer=sealer))


def entries_data(entries: Iterable[Entry], sealer: Sealer) -> list[dict[str, Any]]:
    """A page of entries through one serializer (one per row would copy its fields each
    time: most of a page's cost)."""
    opened = [selectors.open_entry(entry, sealer=sealer) for entry in entries]
    return list(EntryOutputSerializer(cast(Any, opened), many=True).data)


EntryPageSerializer = pages_of("EntryPage", EntryOutputSerializer)


class EntryFilterSerializer(StrictSerializer):
    kind = EnumField(EntryKind, required=False)
    session = serializers.UUIDField(required=False, help_text="Entries linked to this session.")
    created_after = BoundedDateTimeField(required=False)
    created_before = BoundedDateTimeField(required=False)
    cursor = serializers.CharField(required=False, help_text="From `next` or `previous`.")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, help_text="Page size (50)."
    )


def tags_field() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(min_length=1, max_length=services.TAG_MAX_CHARS),
        max_length=services.TAGS_MAX,
        required=False,
        help_text=f"Up to {services.TAGS_MAX} tags of 1 to {services.TAG_MAX_CHARS} characters.",
    )
