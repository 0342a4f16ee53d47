"""Codes sent by e-mail and typed back in: a password reset, an address to verify at
registration, a new address. One module for the whole life of a code: issue, derive for
the e-mail, check.

A code is 8 digits, which a person can read in an e-mail and type on a phone. It is
stored nowhere: the row holds a random `seed`, and the code is HMAC-SHA256 of the seed
under a key derived from SECRET_KEY (Django's `salted_hmac`), reduced to 8 digits. So the
worker writes it into the e-mail from the row's id alone (a task message holds ids only,
never a code), and whoever reads the database without the key learns no code. A stored
hash of an 8-digit code would protect no more: with the key, 10^8 keyed hashes are
quick to try; without it, neither reveals anything.

Guessing is bounded three ways: a code expires (ACCOUNT_CODE_TTL_MINUTES), dies after
ACCOUNT_CODE_MAX_ATTEMPTS wrong tries, and is replaced by the next request for the same
purpose, whose rate is limited per address and per network address.
"""

from __future__ import annotations

import enum
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from backend.accounts.models import AccountCode, CodePurpose, User
from backend.errors import ProblemError
from backend.problem_codes import ProblemCode

CODE_DIGITS = 8
_SALT = "afterglow.accounts.codes.code"


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    INVALID = "invalid_code"
    EXPIRED = "code_expired"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


# A refused code's problem: its `code` and what to do about it.
_REFUSALS: dict[Verdict, tuple[ProblemCode, str]] = {
    Verdict.INVALID: (
        ProblemCode.INVALID_CODE,
        "The code is not correct. Check the e-mail, or ask for a new code.",
    ),
    Verdict.EXPIRED: (ProblemCode.CODE_EXPIRED, "The code has expired. Ask for a new code."),
    Verdict.TOO_MANY_ATTEMPTS: (
        ProblemCode.TOO_MANY_ATTEMPTS,
        "The code was tried too often and no longer works. Ask for a new code.",
    ),
}


def code_ttl() -> timedelta:
    return timedelta(minutes=settings.ACCOUNT_CODE_TTL_MINUTES)


def _keys() -> list[str | bytes]:
    # The current key first; a code issued just before a key rotation still works.
    return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


def _derive(seed: str, secret: str | bytes) -> str:
    digest = salted_hmac(_SALT, seed, secret=secret, algorithm="sha256").digest()
    # 64 bits reduced to 8 digits: the bias of the modulo is below 10^-11.
    number = int.from_bytes(digest[:8], "big") % 10**CODE_DIGITS
    return f"{number:0{CODE_DIGITS}d}"


def code_for(account_code: AccountCode) -> str:
    """The code of this row, under the current key: for the e-mail."""
    return _derive(account_code.seed, settings.SECRET_KEY)


def code_display(code: str) -> str:
    """ "1234 5678": easier to read out and type than eight digits in a row."""
    half = CODE_DIGITS // 2
    return f"{code[:half]} {code[half:]}"


def code_normalized(typed: str) -> str:
    """What a person typed, without the spaces or dashes they may have copied along."""
    return "".join(character for character in typed if not character.isspace() and character != "-")


def account_code_issue(*, user: User, purpose: CodePurpose, email: str = "") -> AccountCode:
    """A new code for this purpose; the older one of the same purpose ends at once.
    `email`: for a change of address, the new address (where the code goes)."""
    with transaction.atomic():
        # The account row is the lock: two requests at once leave one code, not an error.
        User.objects.select_for_update().filter(pk=user.pk).first()
        AccountCode.objects.filter(user=user, purpose=purpose).delete()
        now = timezone.now()
        account_code: AccountCode = AccountCode.objects.create(
            user=user,
            purpose=purpose,
            email=email,
            seed=secrets.token_hex(32),
            created_at=now,
            expires_at=now + code_ttl(),
        )
    return account_code


def account_codes_end(*, user: User) -> int:
    """End every code of the account: a new password cancels pending resets."""
    deleted, _ = AccountCode.objects.filter(user=user).delete()
    return deleted


def account_code_check(
    *, user: User | None, purpose: CodePurpose, code: str
) -> tuple[Verdict, AccountCode | None]:
    """Check a typed code against the account's newest code for the purpose, inside the
    caller's transaction (the row is locked until it commits). A wrong code counts a
    failed attempt, which the caller must commit even though it then refuses.

    Only someone who typed the right code learns that it expired or was tried too often:
    anyone else, for an address with or without an account, is told `invalid_code`.
    """
    account_code: AccountCode | None = None
    if user is not None:
        account_code = (
            AccountCode.objects.select_for_update().filter(user=user, purpose=purpose).first()
        )
    if account_code is None:
        return Verdict.INVALID, None
    typed = code_normalized(code)
    matches = False
    for key in _keys():
        # Every key is tried, so the time does not tell which one matched.
        matches = constant_time_compare(_derive(account_code.seed, key), typed) or matches
    if not matches:
        if account_code.failed_attempts < settings.ACCOUNT_CODE_MAX_ATTEMPTS:
            account_code.failed_attempts += 1
            account_code.save(update_fields=["failed_attempts"])
        return Verdict.INVALID, account_code
    if account_code.failed_attempts >= settings.ACCOUNT_CODE_MAX_ATTEMPTS:
        return Verdict.TOO_MANY_ATTEMPTS, account_code
    if account_code.expires_at <= timezone.now():
        return Verdict.EXPIRED, account_code
    return Verdict.ACCEPTED, account_code


def code_refused(verdict: Verdict) -> ProblemError:
    """The 400 problem for a refused code; its `code` is the verdict's."""
    code, detail = _REFUSALS[verdict]
    return ProblemError(400, code, detail)
