"""Create a therapist account and print its one-time enrolment code."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.exceptions import ValidationError

from backend.accounts.management.account_command import write_enrolment_code
from backend.accounts.services import therapist_create


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
        self.stdout.write(f"Therapist created: {new.user.email}")
        write_enrolment_code(self, new.enrolment_code)
