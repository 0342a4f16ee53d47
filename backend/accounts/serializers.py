"""Accounts: the serializers that several API views share (the account, a device, a
sign-in's answer, the password field)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.accounts import services, terms
from backend.accounts.countries import country_for_time_zone
from backend.accounts.models import DeviceToken, Role, User
from backend.pagination import pages_of


class TermsStateSerializer(serializers.Serializer[terms.TermsState]):
    current_version = serializers.CharField(help_text="The terms and privacy notice in force.")
    accepted_version = serializers.CharField(
        allow_null=True, help_text="The version you accepted last; null if none."
    )
    accepted_at = serializers.DateTimeField(allow_null=True)
    acceptance_required = serializers.BooleanField(
        help_text="True when the current version is not the one you accepted: show it and "
        "accept it with POST /api/v1/me/terms/."
    )

    class Meta:
        ref_name = "TermsState"


class UserSerializer(serializers.Serializer[User]):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    time_zone = serializers.CharField(help_text="IANA time zone name, e.g. Europe/Berlin.")
    country = serializers.SerializerMethodField(
        help_text="Where you live (ISO 3166-1 alpha-2), for the crisis lines you are shown; "
        "null until you set it."
    )
    suggested_country = serializers.SerializerMethodField(
        help_text="The country your time zone suggests (null if none): offer it, but let "
        "the person choose."
    )
    role = serializers.ChoiceField(choices=Role.choices)
    created_at = serializers.DateTimeField()
    terms = serializers.SerializerMethodField()

    class Meta:
        ref_name = "User"

    def get_country(self, user: User) -> str | None:
        return user.country or None

    def get_suggested_country(self, user: User) -> str | None:
        return country_for_time_zone(user.time_zone)

    @extend_schema_field(TermsStateSerializer)
    def get_terms(self, user: User) -> dict[str, Any]:
        return dict(TermsStateSerializer(terms.terms_state_for_user(user=user)).data)


class PushStateSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(help_text="The push registration (/api/v1/devices/).")
    platform = serializers.ChoiceField(choices=["android", "ios", "web"])
    registered_at = serializers.DateTimeField()

    class Meta:
        ref_name = "DevicePush"


class DeviceSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="token_key", help_text="The token's public prefix.")
    name = serializers.CharField(source="device_name")
    created_at = serializers.DateTimeField(source="created", help_text="When it signed in.")
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(
        source="expiry", allow_null=True, help_text="Moved back on each use."
    )
    is_current = serializers.SerializerMethodField()
    push = serializers.SerializerMethodField(
        help_text=(
            "The push registration made under this sign-in, or null: prompts reach this "
            "device while it is signed in. Signing it out retires the registration."
        )
    )

    class Meta:
        ref_name = "Device"

    def get_is_current(self, device: DeviceToken) -> bool:
        current = self.context.get("current_digest")
        return current is not None and device.digest == current

    @extend_schema_field(PushStateSerializer(allow_null=True))
    def get_push(self, device: DeviceToken) -> dict[str, Any] | None:
        state = self.context.get("push_states", {}).get(device.digest)
        return PushStateSerializer(state).data if state is not None else None


DevicePageSerializer = pages_of("DevicePage", DeviceSerializer)


class SignInSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(
        help_text="Send as 'Authorization: Token <token>'. Shown once; store it securely."
    )
    expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text=(
            "Moved back on each use. Patients: 30 days unused, no fixed end; therapists: "
            "12 hours unused, and at most 7 days after sign-in (by default)."
        ),
    )
    device = DeviceSerializer()
    user = UserSerializer()

    class Meta:
        ref_name = "SignIn"


def sign_in_data(issued: services.IssuedToken) -> dict[str, Any]:
    return SignInSerializer(
        {
            "token": issued.token,
            "expires_at": issued.device.expiry,
            "device": issued.device,
            "user": issued.user,
        },
        context={"current_digest": issued.device.digest},
    ).data


def password_field() -> serializers.CharField:
    # Passwords are taken exactly as typed: no trimming.
    return serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)


class AddressField(serializers.EmailField):
    """An e-mail address typed in, as accounts compare and store it: trimmed and
    lower-case. The length and address checks run on that form, so an address that only
    grows past 254 characters when lower-cased ("İ" becomes two characters) is a 400 here,
    not an over-long value for a column further on (a code's new address, the lock-out's
    account)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        return str(super().to_internal_value(data)).lower()


def device_name_field() -> serializers.CharField:
    return serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="e.g. 'Anna's iPhone'."
    )
