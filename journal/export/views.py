"""The patient's export: Markdown (or JSON) of the whole journal, and a FHIR R4 Bundle of
the measures.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import IsPatient
from backend.api import request_patient
from journal import access
from journal.entries.serializers import EntryOutputSerializer
from journal.export import fhir, selectors
from journal.export.markdown import export_markdown
from journal.keys import sealer_for
from journal.measure_items import open_measures
from journal.measures.serializers import MeasureOutputSerializer
from journal.sessions.serializers import SessionOutputSerializer


class FhirExportView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=["me"],
        operation_id="me_export_fhir",
        summary="Export your measures and consents as FHIR R4",
        description=(
            "A FHIR R4 Bundle (type `collection`, application/fhir+json) of your measures: "
            "for each, a QuestionnaireResponse with the LOINC-coded answers and an "
            "Observation of the total score, `derivedFrom` it; then your consents as "
            "Consent resources: each decision about safety alerts on a care link (with the "
            "consent text version) and each acceptance of the terms and privacy notice. "
            "You appear only by an identifier, never by name or email."
        ),
        responses={
            (200, fhir.FHIR_CONTENT_TYPE): OpenApiResponse(
                OpenApiTypes.OBJECT, description="A FHIR R4 Bundle."
            )
        },
    )
    def get(self, request: Request) -> HttpResponse:
        patient = request_patient(request)
        now = timezone.now()
        rows = access.measure_queryset_for_patient(patient=patient).order_by("taken_at", "id")
        bundle = fhir.measures_bundle(
            open_measures(rows, sealer=sealer_for(patient)),
            now=now,
            consents=selectors.consents_for_patient(patient=patient),
            patient_id=patient.pk,
        )
        filename = f"afterglow-measures-{now:%Y-%m-%d}.fhir.json"
        return HttpResponse(
            json.dumps(bundle, ensure_ascii=False),
            content_type=fhir.FHIR_CONTENT_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


class ExportView(APIView):
    permission_classes = [IsPatient]
    query_parameters = {"get": ("format",)}

    class OutputSerializer(serializers.Serializer[Any]):
        format = serializers.CharField(help_text="Always 'afterglow-journal-export'.")
        format_version = serializers.IntegerField()
        exported_at = serializers.DateTimeField()
        account = serializers.DictField(child=serializers.CharField())
        sessions = SessionOutputSerializer(many=True)
        entries = EntryOutputSerializer(many=True)
        measures = MeasureOutputSerializer(many=True)

        class Meta:
            ref_name = "JournalExport"

    @extend_schema(
        tags=["me"],
        summary="Export everything you recorded, decrypted",
        description=(
            "Your account details, sessions and entries (decrypted) and measures, as one JSON "
            "document. "
            "`?format=markdown` answers a readable Markdown version (text/markdown) to keep "
            "or bring to a session. The file is not encrypted: keep it somewhere safe."
        ),
        parameters=[
            OpenApiParameter(
                "format",
                str,
                OpenApiParameter.QUERY,
                enum=["json", "markdown"],
                description="json (default) or markdown.",
            )
        ],
        responses={
            (200, "application/json"): OpenApiResponse(OutputSerializer, description="JSON."),
            (200, "text/markdown"): OpenApiResponse(str, description="Markdown."),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        choice = request.query_params.get("format", "json")
        if choice not in ("json", "markdown"):
            raise ValidationError({"format": ["Choose json or markdown."]})
        patient = request_patient(request)
        export = selectors.journal_export_for_patient(patient=patient, sealer=sealer_for(patient))
        filename = f"afterglow-journal-{export.exported_at:%Y-%m-%d}"
        if choice == "markdown":
            return HttpResponse(
                export_markdown(export),
                content_type="text/markdown; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}.md"'},
            )
        data = {
            "format": "afterglow-journal-export",
            "format_version": 1,
            "exported_at": export.exported_at,
            "account": export.account,
            "sessions": export.sessions,
            "entries": export.entries,
            "measures": export.measures,
        }
        return Response(
            self.OutputSerializer(data).data,
            headers={"Content-Disposition": f'attachment; filename="{filename}.json"'},
        )
