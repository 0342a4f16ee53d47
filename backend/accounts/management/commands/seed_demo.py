"""Create demo sign-ins for local development. Safe to run again."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts import selectors, services
from backend.accounts.management.demo_command import DemoCommand
from backend.accounts.models import User

PATIENT_EMAIL = "patient@demo.afterglow.test"
THERAPIST_EMAIL = "therapist@demo.afterglow.test"
# Known on purpose: these accounts exist to be signed in to on a developer's machine.
PATIENT_PASSWORD = "lantern-meadow-4821"  # noqa: S105
THERAPIST_PASSWORD = "harbour-violet-9364"  # noqa: S105


def _current_code(device: TOTPDevice) -> tuple[str, int]:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    seconds_left = device.step - int(totp.time - device.t0) % device.step
    return f"{totp.token():0{device.digits}d}", seconds_left


class Command(DemoCommand):
    help = (
        "Create (or reset) a demo patient and a demo therapist with an authenticator app, "
        "and print how to sign in as each. Refuses to run unless DEBUG is on."
    )
    writes = "creates accounts with published passwords"

    def handle_demo(self, **options: Any) -> None:
        patient = self._patient()
        therapist, device = self._therapist()
        code, seconds_left = _current_code(device)
        secret = selectors.totp_secret_base32(device=device)
        lines = [
            "",
            "Demo sign-ins (POST /api/v1/auth/login/)",
            "========================================",
            "Patient",
            f"  email:    {patient.email}",
            f"  password: {PATIENT_PASSWORD}",
            "Therapist",
            f"  email:    {therapist.email}",
            f"  password: {THERAPIST_PASSWORD}",
            f"  TOTP secret (base32, add to an authenticator app): {secret}",
            f"  current code: {code} (valid for about {seconds_left} s; each code works once)",
            f"  otpauth URI: {device.config_url}",
            "",
        ]
        self.stdout.write("\n".join(lines))

    def _patient(self) -> User:
        patient = selectors.user_get_by_email(email=PATIENT_EMAIL)
        if patient is None:
            return services.user_create_patient(
                email=PATIENT_EMAIL,
                password=PATIENT_PASSWORD,
                display_name="Demo Patient",
                time_zone="Europe/Berlin",
            )
        return services.user_set_password(user=patient, password=PATIENT_PASSWORD)

    def _therapist(self) -> tuple[User, TOTPDevice]:
        therapist = selectors.user_get_by_email(email=THERAPIST_EMAIL)
        if therapist is None:
            return services.therapist_create_enrolled(
                email=THERAPIST_EMAIL,
                display_name="Dr Demo",
                password=THERAPIST_PASSWORD,
                time_zone="Europe/Berlin",
            )
        if not therapist.is_therapist:
            raise CommandError(f"{THERAPIST_EMAIL} exists and is not a therapist.")
        services.user_set_password(user=therapist, password=THERAPIST_PASSWORD)
        device = selectors.totp_device_confirmed_for_user(user=therapist)
        if device is None:
            device = services.totp_device_create(user=therapist, confirmed=True)
        return therapist, device
