"""The base of the operator commands that act on one account named by `--email`, and how
they hand over a therapist's enrolment code."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.exceptions import APIException

from backend.accounts import selectors
from backend.accounts.models import User
from backend.accounts.services import ENROLMENT_CODE_TTL


class AccountCommand(BaseCommand):
    """Finds the account by `--email` and runs `handle_account` on it; a refusal of the
    operation (an API error) becomes a command error with the same words."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        user = selectors.user_get_by_email(email=options["email"])
        if user is None:
            raise CommandError("No account has this address.")
        try:
            self.handle_account(user)
        except APIException as error:
            raise CommandError(str(error.detail)) from error

    def handle_account(self, user: User) -> None:
        raise NotImplementedError


def write_enrolment_code(command: BaseCommand, code: str) -> None:
    """Print a therapist's one-time enrolment code and what to do with it."""
    hours = int(ENROLMENT_CODE_TTL.total_seconds() // 3600)
    command.stdout.write(f"One-time enrolment code (valid {hours} h): {code}")
    command.stdout.write("enrol at POST /api/v1/auth/enrol/ with email, code and a new password,")
    command.stdout.write("then confirm the authenticator app at POST /api/v1/auth/enrol/confirm/.")
