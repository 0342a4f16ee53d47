"""Reactivate a deactivated account: it may sign in again with its password."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.exceptions import APIException

from backend.accounts import operations, selectors


class Command(BaseCommand):
    help = "Reactivate a deactivated account: it may sign in again with its password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        user = selectors.user_get_by_email(email=options["email"])
        if user is None:
            raise CommandError("No account has this address.")
        try:
            operations.account_reactivate(user=user)
        except APIException as error:
            raise CommandError(str(error.detail)) from error
        self.stdout.write(f"Reactivated account {user.pk} ({user.role}): it may sign in again.")
