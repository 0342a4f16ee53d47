"""The stock twin of the entries endpoints: what the DRF tutorial would have us write.

A `ModelViewSet` over the same `journal.Entry` model with a `ModelSerializer`, DRF's own
`LimitOffsetPagination` and no query tuning (no prefetch, a COUNT per page, a query per
row for the intention ids). It does the same job where that job is more than speed:

- only a signed-in patient (the project's authentication and `IsPatient`), and only
  their own rows (the queryset, and the querysets of the `session` and `intention_ids`
  fields, are the patient's);
- title, body and tags are sealed with the project's `journal.keys.Sealer` as the
  journal seals them (body and tags together as one JSON value), so the journal's own
  endpoints can open what the twin writes and the other way round.

What it leaves out is what the stock way does not give: client-chosen ids and repeated
creates, versions and If-Match, change numbers for sync, tombstones, the link rules
between entries and sessions, the not-monitored notice. It serves create, list and
retrieve only. It is mounted by tests/load/urls.py for `make load`, never in production.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers, viewsets
from rest_framework.pagination import LimitOffsetPagination

from backend.accounts.models import User
from backend.accounts.permissions import IsPatient
from journal.keys import Sealer, sealer_for
from journal.models import Entry, EntryKind, TreatmentSession


class StockPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class OwnSessionField(serializers.PrimaryKeyRelatedField[TreatmentSession]):
    """One of the patient's sessions (DRF's way: a related field's `get_queryset`)."""

    def get_queryset(self) -> QuerySet[TreatmentSession]:
        return TreatmentSession.objects.filter(
            patient=self.context["request"].user, deleted_at__isnull=True
        )


class OwnIntentionField(serializers.PrimaryKeyRelatedField[Entry]):
    """One of the patient's intention entries."""

    def get_queryset(self) -> QuerySet[Entry]:
        return Entry.objects.filter(
            patient=self.context["request"].user,
            kind=EntryKind.INTENTION,
            deleted_at__isnull=True,
        )


class StockEntrySerializer(serializers.ModelSerializer[Entry]):
    title = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    body = serializers.CharField(max_length=20000, allow_blank=True, required=False, default="")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=10, required=False, default=list
    )
    session = OwnSessionField(required=False, allow_null=True)
    intention_ids = OwnIntentionField(source="intentions", many=True, required=False)

    class Meta:
        model = Entry
        fields = [
            "id",
            "kind",
            "session",
            "title",
            "body",
            "tags",
            "mood",
            "intention_ids",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "version", "created_at", "updated_at"]

    def _sealer(self) -> Sealer:
        sealer: Sealer = self.context["sealer"]
        return sealer

    def create(self, validated_data: dict[str, Any]) -> Entry:
        title = validated_data.pop("title", "")
        body = validated_data.pop("body", "")
        tags = validated_data.pop("tags", [])
        intentions = validated_data.pop("intentions", [])
        entry = Entry(**validated_data)
        sealer = self._sealer()
        entry.title_sealed = sealer.seal(entry, "title_sealed", title)
        entry.content_sealed = sealer.seal(
            entry, "content_sealed", json.dumps({"body": body, "tags": tags}, ensure_ascii=False)
        )
        entry.save()
        if intentions:
            entry.intentions.set(intentions)
        return entry

    def to_representation(self, instance: Entry) -> dict[str, Any]:
        sealer = self._sealer()
        content = json.loads(sealer.open(instance, "content_sealed"))
        instance.title = sealer.open(instance, "title_sealed")  # type: ignore[attr-defined]
        instance.body = content["body"]  # type: ignore[attr-defined]
        instance.tags = content["tags"]  # type: ignore[attr-defined]
        data: dict[str, Any] = super().to_representation(instance)
        return data


class StockEntryViewSet(viewsets.ModelViewSet[Entry]):
    serializer_class = StockEntrySerializer
    permission_classes = [IsPatient]
    pagination_class = StockPagination
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Entry]:
        user = self.request.user
        assert isinstance(user, User)  # IsPatient let only patients through
        return Entry.objects.filter(patient=user, deleted_at__isnull=True)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "sealer": sealer_for(self.request.user)}

    def perform_create(self, serializer: serializers.BaseSerializer[Entry]) -> None:
        serializer.save(patient=self.request.user)
