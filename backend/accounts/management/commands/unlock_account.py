"""Clear an account's sign-in lock-out (django-axes' reset for that account)."""

from __future__ import annotations

from backend.accounts import operations
from backend.accounts.management.account_command import AccountCommand
from backend.accounts.models import User


class Command(AccountCommand):
    help = "Clear the sign-in lock-out of an account, from every network address."

    def handle_account(self, user: User) -> None:
        removed = operations.account_unlock(user=user)
        self.stdout.write(
            f"Unlocked account {user.pk}: {removed} failed sign-in record(s) cleared."
        )
