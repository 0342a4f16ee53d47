"""Liveness (`/healthz`) and readiness (`/readyz`): unauthenticated and cheap.

Readiness asks the database and the broker, and runs the configuration checks named in
settings.READINESS_CHECKS (the journal's key ring): those live in the apps above this
one, which it must not import.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from kombu import Connection
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.errors import PROBLEM_CONTENT_TYPE, problem, registered_code
from backend.problem_codes import ProblemCode

BROKER_TIMEOUT_SECONDS = 2.0

_Health = inline_serializer("Health", fields={"status": serializers.CharField()})
_Ready = inline_serializer(
    "Readiness",
    fields={
        "status": serializers.CharField(),
        "checks": serializers.DictField(child=serializers.DictField()),
    },
)


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:  # any failure means "not ready"; the kind is enough
        return {
            "ok": False,
            "error": type(error).__name__,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker() -> None:
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=BROKER_TIMEOUT_SECONDS,
    ) as broker:
        # No retry: a retry waits two seconds first, longer than a probe's own time-out,
        # which would then see a time-out instead of the 503 naming the broker.
        broker.ensure_connection(max_retries=0, timeout=int(BROKER_TIMEOUT_SECONDS))


class HealthView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(tags=["health"], responses={200: _Health}, summary="The process is up")
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadyView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["health"],
        summary="The database and the broker answer, and the key ring can be used",
        responses={200: _Ready, 503: OpenApiResponse(description="A dependency is down")},
    )
    def get(self, request: Request) -> Response:
        configured: dict[str, str] = settings.READINESS_CHECKS
        checks = {"database": _timed(_check_database), "broker": _timed(_check_broker)}
        for name, path in configured.items():
            checks[name] = _timed(import_string(path))
        if all(check["ok"] for check in checks.values()):
            return Response({"status": "ok", "checks": checks})
        down = [name for name, check in checks.items() if not check["ok"]]
        # A configuration that cannot work needs an operator, not a retry: its code names
        # it (`key_ring_unusable`); a dependency that is away answers `unavailable`.
        unusable = [name for name in down if name in configured]
        code = registered_code(f"{unusable[0]}_unusable") if unusable else ProblemCode.UNAVAILABLE
        reasons = [f"{name} {'unusable' if name in configured else 'unreachable'}" for name in down]
        return Response(
            problem(
                503,
                code=code,
                detail=f"Not ready: {', '.join(reasons)}.",
                extra={"checks": checks},
            ),
            status=503,
            content_type=PROBLEM_CONTENT_TYPE,
        )
