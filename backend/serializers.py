"""Serializer building blocks shared by every app's views."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.settings import api_settings

from backend.accounts.models import is_known_time_zone


class StrictSerializer(serializers.Serializer[Any]):
    """An input serializer that refuses keys it does not declare.

    A misspelt or unsupported field (say, `email` on PATCH /me/) answers 400 instead of
    being ignored, so a client never believes a change was made. The message names the
    accepted fields, never the submitted keys: the error must not echo client input.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            accepted = {name for name, field in self.fields.items() if not field.read_only}
            if set(data) - accepted:
                names = ", ".join(f"'{name}'" for name in sorted(accepted)) or "nothing"
                raise serializers.ValidationError(
                    {api_settings.NON_FIELD_ERRORS_KEY: [f"Unknown fields. Accepted: {names}."]},
                    code="unknown_field",
                )
        return super().to_internal_value(data)


class TimeZoneField(serializers.CharField):
    """An IANA time zone name such as "Europe/Berlin"."""

    default_error_messages = {
        "unknown_time_zone": "Not a known IANA time zone name (such as 'Europe/Berlin').",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not is_known_time_zone(value):
            self.fail("unknown_time_zone")
        return value
