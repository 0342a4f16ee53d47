"""A therapist lost the authenticator app: end it and the recovery codes, and print a new
enrolment code."""

from __future__ import annotations

from backend.accounts import operations
from backend.accounts.management.account_command import AccountCommand, write_enrolment_code
from backend.accounts.models import User


class Command(AccountCommand):
    help = (
        "Reset a therapist's second factor: the authenticator app and the recovery codes "
        "end, every sign-in ends, and a new one-time enrolment code is printed. Hand it to "
        "the therapist over a channel you trust; they set a password and enrol again."
    )

    def handle_account(self, user: User) -> None:
        new = operations.therapist_second_factor_reset(user=user)
        self.stdout.write(
            f"Second factor reset for therapist {user.pk}: authenticator app and recovery "
            "codes ended, every sign-in ended."
        )
        write_enrolment_code(self, new.enrolment_code)
