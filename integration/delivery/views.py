"""The patient's push devices (/api/v1/devices/)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import DeviceToken
from backend.accounts.permissions import (
    IsPatient,
)
from backend.api import (
    PROBLEM,
    PageListView,
    detail_schema,
    input_data,
    list_schema,
    request_patient,
)
from backend.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    IDEMPOTENT_REPLAYED_HEADER,
    idempotent,
    response_409_idempotency,
)
from backend.pagination import cursor_pagination
from backend.serializers import EnumField, StrictSerializer
from integration.delivery import devices as delivery_devices
from integration.delivery import selectors
from integration.delivery.serializers import (
    DeviceSerializer,
    PushDevicePageSerializer,
    PushTokenField,
    device_data,
)
from integration.models import (
    Device,
    Platform,
    PushPermission,
)


@extend_schema_view(
    get=list_schema(
        "devices",
        "push_devices_list",
        "Your devices that receive prompts",
        PushDevicePageSerializer,
        description="The active ones, oldest first; cursor pages.",
    )
)
class DeviceListView(PageListView):
    permission_classes = [IsPatient]
    pagination = cursor_pagination("created_at", "id")

    class InputSerializer(StrictSerializer):
        """A push destination: the platform and its token."""

        platform = EnumField(Platform)
        token = PushTokenField(
            help_text="iOS: the APNs device token (hex); Android: the FCM registration "
            "token; web: the Web Push subscription."
        )
        push_permission = EnumField(
            PushPermission,
            required=False,
            help_text=(
                "Whether the system lets the app show notifications (left out: `unknown` "
                "for a new device, unchanged for a known one). Say `refused` when it does "
                "not: the device is then sent no push, and sync tells the app to schedule "
                "its own reminders when no device of yours takes pushes."
            ),
        )

        class Meta:
            ref_name = "PushDeviceRegister"

    def rows(self, request: Request) -> QuerySet[Device]:
        return selectors.device_list_for_patient(patient=request_patient(request))

    def render(self, page: list[Device]) -> list[Any]:
        return [device_data(device) for device in page]

    @extend_schema(
        tags=["devices"],
        operation_id="push_devices_register",
        summary="Receive prompts on this device",
        description=(
            "Registering the same token again answers the existing device (200). A "
            "notification carries no health detail, only a prompt id to open. The "
            "registration belongs to the sign-in (token) that made it: signing that device "
            "out (logout, revoking it, sign out everywhere, a new password) stops it."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED_HEADER],
        responses={
            201: OpenApiResponse(DeviceSerializer, description="Registered."),
            200: OpenApiResponse(DeviceSerializer, description="Already registered."),
            (409, PROBLEM): response_409_idempotency("PushDevice"),
        },
        examples=[
            OpenApiExample(
                "iPhone",
                value={"platform": "ios", "token": "a1" * 32, "push_permission": "granted"},
                request_only=True,
            ),
            OpenApiExample(
                "Android",
                value={"platform": "android", "token": "fcm-registration-token:APA91b..."},
                request_only=True,
            ),
            OpenApiExample(
                "Browser",
                value={
                    "platform": "web",
                    "token": {
                        "endpoint": "https://push.example.net/send/abc123",
                        "keys": {
                            "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u"
                            "-Ts1XbjhazAkj7I99e8QcYP7DkM",
                            "auth": "tBHItJI5svbpez7KI4CCXg",
                        },
                    },
                },
                request_only=True,
            ),
        ],
    )
    @idempotent("push_devices_register", resource_type="push_device")
    def post(self, request: Request) -> Response:
        patient = request_patient(request)
        data = input_data(request, self.InputSerializer)
        registered = delivery_devices.device_register(
            patient=patient,
            platform=data["platform"],
            token=data["token"],
            sign_in=request.auth if isinstance(request.auth, DeviceToken) else None,
            push_permission=data.get("push_permission"),
        )
        return Response(
            device_data(registered.device),
            status=status.HTTP_201_CREATED if registered.is_new else status.HTTP_200_OK,
        )

    def replay(self, request: Request, resource_id: str, status_code: int) -> Response:
        device = selectors.device_get_for_patient(
            patient=request_patient(request), device_id=uuid.UUID(resource_id)
        )
        return Response(device_data(device), status=status_code)


class DeviceDetailView(APIView):
    permission_classes = [IsPatient]

    class UpdateSerializer(StrictSerializer):
        """What changed on a registered device."""

        push_permission = EnumField(
            PushPermission,
            required=False,
            help_text="`granted` or `refused` as the system now says; `unknown` if unsure.",
        )

        class Meta:
            ref_name = "PushDeviceUpdate"

    @detail_schema(
        "devices",
        "Say whether this device may show notifications",
        OpenApiResponse(DeviceSerializer, description="The device as it is now."),
        operation_id="push_devices_update",
        description=(
            "Send it whenever the app finds the system's notification permission changed "
            "(check at every start). A `refused` device is sent no push; then sync again: "
            "`local_notifications` says whether the app should schedule its own reminders."
        ),
        request=UpdateSerializer,
        examples=[
            OpenApiExample(
                "Notifications turned off", value={"push_permission": "refused"}, request_only=True
            ),
            OpenApiExample(
                "Notifications allowed", value={"push_permission": "granted"}, request_only=True
            ),
        ],
    )
    def patch(self, request: Request, device_id: uuid.UUID) -> Response:
        data = input_data(request, self.UpdateSerializer)
        device = delivery_devices.device_update(
            patient=request_patient(request),
            device_id=device_id,
            push_permission=data.get("push_permission"),
        )
        return Response(device_data(device))

    @detail_schema(
        "devices",
        "Stop prompts on a device",
        OpenApiResponse(description="Retired."),
        status=204,
        operation_id="push_devices_retire",
    )
    def delete(self, request: Request, device_id: uuid.UUID) -> Response:
        delivery_devices.device_retire(patient=request_patient(request), device_id=device_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
