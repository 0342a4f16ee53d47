"""Deactivate an account: it can no longer sign in, and every sign-in ends now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts import operations, selectors


class Command(BaseCommand):
    help = (
        "Deactivate an account: every token and web session ends, push devices stop, and "
        "sign-in answers 403 account_inactive to the holder of the password. Nothing is "
        "deleted; reactivate_account undoes it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        user = selectors.user_get_by_email(email=options["email"])
        if user is None:
            raise CommandError("No account has this address.")
        ended = operations.account_deactivate(user=user)
        self.stdout.write(
            f"Deactivated account {user.pk} ({user.role}): {ended.tokens_ended} token(s) "
            "ended, every web session ended."
        )
