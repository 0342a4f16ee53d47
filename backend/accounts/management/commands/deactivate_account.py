"""Deactivate an account: it can no longer sign in, and every sign-in ends now."""

from __future__ import annotations

from backend.accounts import operations
from backend.accounts.management.account_command import AccountCommand
from backend.accounts.models import User


class Command(AccountCommand):
    help = (
        "Deactivate an account: every token and web session ends, push devices stop, and "
        "sign-in answers 403 account_inactive to the holder of the password. Nothing is "
        "deleted; reactivate_account undoes it."
    )

    def handle_account(self, user: User) -> None:
        ended = operations.account_deactivate(user=user)
        self.stdout.write(
            f"Deactivated account {user.pk} ({user.role}): {ended.tokens_ended} token(s) "
            "ended, every web session ended."
        )
