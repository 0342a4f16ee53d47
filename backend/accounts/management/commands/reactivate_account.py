"""Reactivate a deactivated account: it may sign in again with its password."""

from __future__ import annotations

from backend.accounts import operations
from backend.accounts.management.account_command import AccountCommand
from backend.accounts.models import User


class Command(AccountCommand):
    help = "Reactivate a deactivated account: it may sign in again with its password."

    def handle_account(self, user: User) -> None:
        operations.account_reactivate(user=user)
        self.stdout.write(f"Reactivated account {user.pk} ({user.role}): it may sign in again.")
