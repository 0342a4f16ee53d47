"""Test data for accounts: users, device tokens, authenticator apps and their codes."""

from __future__ import annotations

import time

import factory
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from factory.declarations import LazyFunction, Sequence, SubFactory

from backend.accounts.lifetimes import token_lifetime
from backend.accounts.models import DeviceToken, Role, User

PASSWORD = "violet-harbour-lantern-27"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = Sequence(lambda n: f"person{n}@example.org")
    display_name = Sequence(lambda n: f"Person {n}")
    time_zone = "Europe/Berlin"
    role = Role.PATIENT
    password = factory.django.Password(PASSWORD)
    email_verified_at = LazyFunction(timezone.now)


class PatientFactory(UserFactory):
    role = Role.PATIENT


class TherapistFactory(UserFactory):
    role = Role.THERAPIST
    display_name = Sequence(lambda n: f"Dr Therapist {n}")


class TOTPDeviceFactory(factory.django.DjangoModelFactory[TOTPDevice]):
    class Meta:
        model = TOTPDevice

    user = SubFactory(TherapistFactory)
    name = "Authenticator app"
    confirmed = True


def issue_token(user: User, *, second_factor: bool = False, name: str = "test phone") -> str:
    """A device token issued directly, as a sign-in would; returns the secret string."""
    token: str
    _, token = DeviceToken.objects.create(
        user=user,
        device_name=name,
        is_second_factor_verified=second_factor,
        expiry=token_lifetime(user).idle,
    )
    return token


def totp_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now (or `steps_ahead` periods from now)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"
