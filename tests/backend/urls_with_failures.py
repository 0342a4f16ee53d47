"""The project's URLs plus views that fail on purpose, for the error-shape tests."""

from typing import NoReturn

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from django.urls import path
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from backend.urls import handler400, handler403, handler404, handler500  # noqa: F401 (the project's error views)
from backend.urls import urlpatterns as project_urlpatterns


class EchoInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["a", "b"])
    count = serializers.IntegerField(max_value=10)


def plain_boom(request: HttpRequest) -> NoReturn:
    raise RuntimeError("secret journal words in an exception message")


def boom_holding_secrets(request: HttpRequest) -> NoReturn:
    # Values made at run time, so the page's source excerpt does not show them either.
    data_key = "-".join(["local", "data", "key", "bytes"]).upper()  # noqa: F841
    body = " ".join(["local", "journal", "words"]).upper()  # noqa: F841
    raise RuntimeError("an exception while a frame holds a key and journal text")


def suspicious(request: HttpRequest) -> NoReturn:
    raise SuspiciousOperation("suspicious words quoted from the request")


@api_view(["GET"])
@permission_classes([AllowAny])
def api_boom(request: Request) -> NoReturn:
    raise ValueError("secret journal words in an exception message")


@api_view(["GET"])
@permission_classes([AllowAny])
def api_boom_at(request: Request, words: str) -> NoReturn:
    raise ValueError("secret journal words in an exception message")


@api_view(["POST"])
@permission_classes([AllowAny])
def validate(request: Request) -> Response:
    EchoInput(data=request.data).is_valid(raise_exception=True)
    return Response({"ok": True})


urlpatterns = [
    *project_urlpatterns,
    path("test/plain-boom", plain_boom),
    path("test/boom-holding-secrets", boom_holding_secrets),
    path("test/suspicious", suspicious),
    path("api/test/boom", api_boom),
    path("api/test/boom/<str:words>", api_boom_at),
    path("api/test/validate", validate),
]
