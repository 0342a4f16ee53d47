"""The base of the operator commands that act on one account named by `--email`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.exceptions import APIException

from backend.accounts import selectors
from backend.accounts.models import User


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
