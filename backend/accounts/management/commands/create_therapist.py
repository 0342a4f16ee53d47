"""Create a therapist account and print its one-time enrolment code."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.exceptions import ValidationError

from backend.accounts.services import ENROLMENT_CODE_TTL, therapist_create


class Command(BaseCommand):
    help = (
        "Create a therapist (no password yet) and print a one-time enrolment code. "
        "Hand the code to the therapist over a channel you trust."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", required=True, help='Display name, e.g. "Dr Berg".')
        parser.add_argument("--time-zone", default="UTC", help="IANA name, e.g. Europe/Berlin.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            new = therapist_create(
                email=options["email"],
                display_name=options["name"],
                time_zone=options["time_zone"],
            )
        except ValidationError as error:
            raise CommandError(f"Not created: {error.detail}") from error
        hours = int(ENROLMENT_CODE_TTL.total_seconds() // 3600)
        self.stdout.write(f"Therapist created: {new.user.email}")
        self.stdout.write(f"One-time enrolment code (valid {hours} h): {new.enrolment_code}")
        self.stdout.write("enrol at POST /api/v1/auth/enrol/ with email, code and a new password,")
        self.stdout.write("then confirm the authenticator app at POST /api/v1/auth/enrol/confirm/.")
