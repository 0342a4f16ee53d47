"""Accounts API: a therapist's recovery codes (how many are left; a new set)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import recovery
from backend.accounts.permissions import IsTherapist
from backend.accounts.serializers import password_field
from backend.api import (
    PROBLEM,
    input_data,
    problem_openapi,
    request_example,
    request_therapist,
)
from backend.serializers import StrictSerializer
from backend.throttling import ScopedRateThrottleFailingOpen


class RecoveryCodesView(APIView):
    permission_classes = [IsTherapist]
    throttle_classes = [ScopedRateThrottleFailingOpen]
    throttle_scope = "password"

    class StatusSerializer(serializers.Serializer[Any]):
        remaining = serializers.IntegerField(help_text="Unused recovery codes left.")

        class Meta:
            ref_name = "RecoveryCodesStatus"

    class InputSerializer(StrictSerializer):
        password = password_field()

        class Meta:
            ref_name = "RecoveryCodesCreate"

    class OutputSerializer(serializers.Serializer[Any]):
        recovery_codes = serializers.ListField(
            child=serializers.CharField(),
            help_text="Shown once: keep them somewhere safe. Each works once.",
        )

        class Meta:
            ref_name = "RecoveryCodes"

    @extend_schema(
        tags=["auth"],
        operation_id="auth_recovery_codes_status",
        summary="Therapists: how many recovery codes are left",
        responses={200: OpenApiResponse(StatusSerializer, description="The count, never a code.")},
    )
    def get(self, request: Request) -> Response:
        remaining = recovery.recovery_codes_remaining(user=request_therapist(request))
        return Response({"remaining": remaining})

    @extend_schema(
        tags=["auth"],
        operation_id="auth_recovery_codes_create",
        summary="Therapists: a new set of recovery codes",
        description=(
            "Needs the password. Returns ten new single-use codes, once; the previous set "
            "ends at once. A recovery code signs in in place of the authenticator app's code."
        ),
        request=InputSerializer,
        responses={
            201: OpenApiResponse(OutputSerializer, description="The new set."),
            (400, PROBLEM): problem_openapi("`invalid_password`: the password is not correct."),
        },
        examples=[request_example("New set", {"password": "correct horse battery staple"})],
        extensions={"x-throttled": True},
    )
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        codes = recovery.recovery_codes_regenerate(
            user=request_therapist(request), password=data["password"]
        )
        return Response({"recovery_codes": codes}, status=status.HTTP_201_CREATED)
