"""Clear an account's sign-in lock-out (django-axes' reset for that account)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts import operations, selectors


class Command(BaseCommand):
    help = "Clear the sign-in lock-out of an account, from every network address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        user = selectors.user_get_by_email(email=options["email"])
        if user is None:
            raise CommandError("No account has this address.")
        removed = operations.account_unlock(user=user)
        self.stdout.write(
            f"Unlocked account {user.pk}: {removed} failed sign-in record(s) cleared."
        )
