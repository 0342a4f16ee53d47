"""Give a staff account the authenticator app that the Django admin asks a code of."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.exceptions import ValidationError

from backend.accounts import selectors
from backend.accounts.services import staff_totp_device_create


class Command(BaseCommand):
    help = (
        "Create an authenticator app (TOTP) for a staff account and print its secret once: "
        "the admin (ADMIN_ENABLED=true) asks for its code at every sign-in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="The staff account's address.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Replace the account's authenticator app (a lost or new phone).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = selectors.user_get_by_email(email=options["email"])
        if user is None:
            raise CommandError("Not enrolled: no account has this address.")
        try:
            device = staff_totp_device_create(user=user, replace=options["replace"])
        except ValidationError as error:
            raise CommandError(f"Not enrolled: {error.detail}") from error
        self.stdout.write("Authenticator app ready for the admin. Shown once:")
        self.stdout.write(f"  TOTP secret (base32): {selectors.totp_secret_base32(device=device)}")
        self.stdout.write(f"  otpauth URI (as a QR code): {device.config_url}")
