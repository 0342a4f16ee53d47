"""The patient's measures (/api/v1/measures/), the instruments and the trend."""

from __future__ import annotations

import uuid
from typing import Any, cast

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import IsPatient
from backend.api import problems_with_safety, request_patient
from backend.pagination import (
    PAGE_PARAMETERS,
    PAGE_QUERY_PARAMETERS,
    SequencePagination,
    paginated,
)
from backend.query import query_names
from backend.serializers import BoundedDateTimeField, EnumField, StrictSerializer
from journal import instruments as measures_instruments
from journal.api import (
    RESPONSE_409,
    RecordList,
    SafetyBlockOnErrorView,
    create_schema,
    create_with_key,
    created_or_repeated,
    list_schema,
    read_schema,
    record_response,
    service_data,
    validated_query,
)
from journal.instruments import Instrument
from journal.keys import sealer_for
from journal.measure_items import open_measure, open_measures
from journal.measures import selectors, services
from journal.measures.serializers import (
    AnswerField,
    InstrumentPageSerializer,
    InstrumentSerializer,
    MeasureCreatedSerializer,
    MeasureFilterSerializer,
    MeasureOutputSerializer,
    MeasurePageSerializer,
    TrendBaselineSerializer,
    TrendPointSerializer,
    measure_data,
    submitted_safety,
)
from journal.pagination import (
    MeasurePagination,
)
from journal.safety import SafetyReason, safety_block

MEASURE_EXAMPLE_PHQ9 = {
    "id": "3d0f6f1e-2b8a-4d8e-9a3c-6a1e2f7b9c01",
    "instrument": "phq9",
    "answers": [2, 2, 1, 2, 1, 1, 1, 0, 0],
    "difficulty": 1,
    "session": "6f1c2b0e-5d7a-4c1b-9a51-0d2f1e7c9b10",
    "taken_at": "2025-03-03T18:20:00+01:00",
}


MEASURE_LIST = RecordList(
    filters_class=MeasureFilterSerializer,
    pagination_class=MeasurePagination,
    rows=selectors.measure_list_for_patient,
    page_data=lambda page, sealer: [
        measure_data(row) for row in open_measures(page, sealer=sealer)
    ],
)


class MeasureCollectionView(SafetyBlockOnErrorView):
    permission_classes = [IsPatient]
    query_parameters = {"get": query_names(MeasureFilterSerializer)}

    class InputSerializer(StrictSerializer):
        """A completed PHQ-9 or GAD-7. Unknown fields answer 400."""

        id = serializers.UUIDField(
            required=False, help_text="Your own random UUID, so a repeated create is safe."
        )
        instrument = EnumField(Instrument)
        answers = serializers.ListField(
            child=AnswerField(),
            max_length=64,
            help_text=(
                "One answer per item, in the printed order (9 for the PHQ-9, 7 for the "
                "GAD-7): 0 not at all, 1 several days, 2 more than half the days, 3 nearly "
                "every day. A bad item answers 400 with `answers.<index>` (from 0) naming it."
            ),
        )
        difficulty = AnswerField(
            required=False,
            allow_null=True,
            help_text=(
                "PHQ-9 only, optional and not scored: 0 not difficult at all to 3 extremely "
                "difficult."
            ),
        )
        session = serializers.UUIDField(
            required=False, allow_null=True, help_text="One of your sessions, if any."
        )
        taken_at = BoundedDateTimeField(
            required=False, help_text="When it was answered (default: now); not in the future."
        )

        class Meta:
            ref_name = "MeasureCreate"

    @list_schema(
        "measures",
        summary="List your measures",
        description="Newest first; cursor pages.",
        filters=MeasureFilterSerializer,
        page=MeasurePageSerializer,
    )
    def get(self, request: Request) -> Response:
        return MEASURE_LIST.response(request, self)

    @create_schema(
        "measures",
        summary="Record a PHQ-9 or GAD-7",
        description=(
            "Every item is checked and the total and severity band computed on the server. "
            "When PHQ-9 item 9 is above 0 the response carries `safety`: the crisis "
            "resources of your country (your clinic's after-hours line first) and a message "
            "to show at once (also on an error answering such a submission). "
            "Nobody monitors the journal in real time. Send your own random UUID as `id` "
            "when working offline: repeating the same create answers 200."
        ),
        request=InputSerializer,
        record=MeasureCreatedSerializer,
        # Raised once the body is read, they carry `safety` when it endorsed item 9.
        problems=problems_with_safety(400, 409, 500, described={409: RESPONSE_409}),
        examples=[
            OpenApiExample("PHQ-9", value=MEASURE_EXAMPLE_PHQ9, request_only=True),
            OpenApiExample(
                "GAD-7",
                value={"instrument": "gad7", "answers": [1, 2, 1, 1, 0, 1, 0]},
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        patient = request_patient(request)
        self.submitted_safety = submitted_safety(request.data, country=patient.country)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = service_data(serializer.validated_data)

        def create() -> Response:
            created = services.measure_create(patient=patient, **values)
            measure = created.record
            data = measure_data(measure)
            data["safety"] = (
                safety_block(SafetyReason.PHQ9_ITEM9, country=patient.country)
                if measures_instruments.needs_safety_response(measure.instrument, measure.answers)
                else None
            )
            return created_or_repeated(created, data)

        return create_with_key(
            request,
            values,
            operation="measures_create",
            create=create,
            current=lambda measure_id: measure_data(
                open_measure(
                    selectors.measure_get_for_patient(patient=patient, measure_id=measure_id),
                    sealer=sealer_for(patient),
                )
            ),
        )


class MeasureDetailView(APIView):
    permission_classes = [IsPatient]

    @read_schema(
        "measures",
        summary="Get one of your measures",
        record=OpenApiResponse(MeasureOutputSerializer, description="The measure."),
        has_tombstone=False,
    )
    def get(self, request: Request, measure_id: uuid.UUID) -> Response:
        patient = request_patient(request)
        measure = selectors.measure_get_for_patient(patient=patient, measure_id=measure_id)
        return record_response(measure_data(open_measure(measure, sealer=sealer_for(patient))))


class InstrumentsView(APIView):
    """The forms, public and the same for everyone: any signed-in user may read them."""

    query_parameters = {"get": PAGE_QUERY_PARAMETERS}

    @extend_schema(
        tags=["measures"],
        summary="The PHQ-9 and GAD-7 forms",
        description=(
            "Item texts, answer options, severity bands and LOINC codes, so an app can render "
            "the forms and label the scores. Both instruments are free of copyright "
            "restriction."
        ),
        parameters=PAGE_PARAMETERS,
        responses={200: OpenApiResponse(InstrumentPageSerializer, description="A page.")},
    )
    def get(self, request: Request) -> Response:
        return paginated(
            request,
            self,
            list(measures_instruments.INSTRUMENTS.values()),
            lambda page: list(InstrumentSerializer(cast(Any, page), many=True).data),
            pagination=SequencePagination,
        )


class MeasureTrendView(APIView):
    permission_classes = [IsPatient]

    class QuerySerializer(StrictSerializer):
        instrument = EnumField(Instrument)

    class OutputSerializer(serializers.Serializer[selectors.Trend]):
        instrument = EnumField(Instrument)
        first_dosing_session_at = serializers.DateTimeField(
            allow_null=True,
            help_text="The start of your first dosing session that is not cancelled.",
        )
        baseline = TrendBaselineSerializer(
            allow_null=True,
            help_text="Your last measure before the first dosing session; null if none.",
        )
        remission_below = serializers.SerializerMethodField()
        points = TrendPointSerializer(many=True, help_text="Oldest first.")
        latest = TrendPointSerializer(allow_null=True)

        class Meta:
            ref_name = "MeasureTrend"

        def get_remission_below(self, trend: selectors.Trend) -> int:
            return measures_instruments.definition(trend.instrument).remission_below

    query_parameters = {"get": query_names(QuerySerializer)}

    @extend_schema(
        tags=["measures"],
        summary="Your scores over the course, against the baseline",
        description=(
            "All your measures of one instrument, oldest first, each with its change from "
            "the baseline (the last score before the first dosing session) and the response "
            "(a drop of at least 50%) and remission (below 5) flags. Definitions: "
            "docs/measures.md."
        ),
        parameters=[QuerySerializer],
        responses={200: OpenApiResponse(OutputSerializer, description="The trend.")},
    )
    def get(self, request: Request) -> Response:
        patient = request_patient(request)
        query = validated_query(request, self.QuerySerializer)
        trend = selectors.measure_trend_for_patient(patient=patient, instrument=query["instrument"])
        return Response(self.OutputSerializer(trend).data)
