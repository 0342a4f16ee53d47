"""The device API's shapes; a push token is write-only and shown back only by its suffix."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    extend_schema_field,
)
from rest_framework import serializers

from backend.pagination import pages_of
from backend.serializers import EnumField
from integration.delivery import devices as delivery_devices
from integration.models import (
    Platform,
    PushPermission,
)

TOKEN_MAX_CHARS = 8192


WEB_PUSH_SUBSCRIPTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A Web Push subscription, as PushSubscription.toJSON() gives it.",
    "properties": {
        "endpoint": {"type": "string", "format": "uri"},
        "expirationTime": {"type": "number", "nullable": True},
        "keys": {
            "type": "object",
            "properties": {"p256dh": {"type": "string"}, "auth": {"type": "string"}},
            "required": ["p256dh", "auth"],
        },
    },
    "required": ["endpoint", "keys"],
}


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "APNs (hex) or FCM token."},
            WEB_PUSH_SUBSCRIPTION_SCHEMA,
        ]
    }
)
class PushTokenField(serializers.Field):  # type: ignore[type-arg]
    """A token string (iOS, Android) or a Web Push subscription (an object or its JSON)."""

    default_error_messages = {"invalid": "Send a token string or a Web Push subscription."}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and 0 < len(data) <= TOKEN_MAX_CHARS:
            return data
        if isinstance(data, dict) and len(str(data)) <= TOKEN_MAX_CHARS:
            return data
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return None  # a token is never sent back


class DeviceSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    platform = EnumField(Platform)
    token_suffix = serializers.CharField(
        help_text="The token's last characters (of the endpoint, for Web Push), to tell "
        "devices apart; the token itself is never sent back."
    )
    push_permission = EnumField(
        PushPermission,
        help_text=(
            "Whether the phone lets the app show notifications: `refused` devices get no "
            "push (the app reminds by itself); `unknown` ones are pushed to."
        ),
    )
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "PushDevice"


PushDevicePageSerializer = pages_of("PushDevicePage", DeviceSerializer)


def device_data(device: Any) -> dict[str, Any]:
    return dict(
        DeviceSerializer(
            {
                "id": device.id,
                "platform": device.platform,
                "token_suffix": delivery_devices.token_suffix(device),
                "push_permission": device.push_permission,
                "created_at": device.created_at,
            }
        ).data
    )
