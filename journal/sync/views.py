"""Offline sync (/api/v1/sync/): every change since a cursor, in order, tombstones included."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import IsPatient
from backend.api import PROBLEM, problem_openapi, request_patient
from backend.query import query_names
from backend.serializers import StrictSerializer
from journal.api import validated_query
from journal.entries.serializers import entry_data
from journal.keys import sealer_for
from journal.measure_items import open_measure
from journal.measures.serializers import measure_data
from journal.models import (
    Measure,
    TreatmentSession,
)
from journal.sessions.serializers import session_data
from journal.sync import selectors
from journal.sync.cursor import decode_sync_cursor, encode_sync_cursor
from journal.sync.serializers import SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT, SyncPageSerializer
from journal.sync.sources import SourceChange, push_capable


class SyncView(APIView):
    permission_classes = [IsPatient]

    class QuerySerializer(StrictSerializer):
        since = serializers.CharField(
            required=False,
            max_length=64,
            help_text=(
                "The `cursor` of your last sync, with the same account; leave out for everything."
            ),
        )
        limit = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=SYNC_MAX_LIMIT,
            default=SYNC_DEFAULT_LIMIT,
            help_text=f"At most this many changes ({SYNC_DEFAULT_LIMIT}).",
        )

    query_parameters = {"get": query_names(QuerySerializer)}

    @extend_schema(
        tags=["sync"],
        summary="Everything that changed since your last sync",
        description=(
            "Your sessions, entries, measures and prompts, deletions included, in the order "
            "they changed (each change's `type` says which kind of record it holds). A "
            "prompt is reported when it is made, moved, snoozed, opened, sent, completed "
            "(or answered late), skipped, expired or cancelled; never for its delivery "
            "bookkeeping. "
            "Store `cursor` and send it as `since` next time; while `has_more` is true, "
            "ask again at once. A change that is still being saved is never passed over: "
            "changes are reported only once every earlier one has been saved. A cursor "
            "this account's feed did not give answers 410 `resync_required`."
        ),
        parameters=[QuerySerializer],
        responses={
            200: OpenApiResponse(SyncPageSerializer, description="A page of changes."),
            (410, PROBLEM): problem_openapi(
                "`resync_required`: `since` is not a cursor this account's feed gave: another "
                "account's or server's, altered, or ahead of every cursor given so far (the "
                "server was restored to an earlier state). Drop the synced copy, keep the "
                "writes not yet sent, and sync again without `since`."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        patient = request_patient(request)
        query = validated_query(request, self.QuerySerializer)
        since = query.get("since")
        page = selectors.sync_changes_for_patient(
            patient=patient,
            since=decode_sync_cursor(since, patient_id=patient.pk) if since is not None else 0,
            limit=query["limit"],
        )
        sealer = sealer_for(patient)
        changes: list[dict[str, Any]] = []
        for item in page.changes:
            if isinstance(item, SourceChange):
                changes.append(
                    {
                        "type": item.type,
                        "id": item.id,
                        "change": item.change,
                        "deleted": item.deleted,
                        "data": item.data,
                    }
                )
                continue
            data: dict[str, Any] | None
            if item.is_deleted:
                data = None
            elif isinstance(item.record, TreatmentSession):
                data = session_data(item.record, sealer)
            elif isinstance(item.record, Measure):
                data = measure_data(open_measure(item.record, sealer=sealer))
            else:
                data = entry_data(item.record, sealer)
            changes.append(
                {
                    "type": item.type,
                    "id": item.record.pk,
                    "change": item.change,
                    "deleted": item.is_deleted,
                    "data": data,
                }
            )
        body = {
            "changes": changes,
            "cursor": encode_sync_cursor(page.last_change, patient_id=patient.pk),
            "has_more": page.has_more,
            "local_notifications": not push_capable(patient),
        }
        return Response(SyncPageSerializer(body).data)
