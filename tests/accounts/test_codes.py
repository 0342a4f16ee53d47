"""Codes sent by e-mail (backend/accounts/codes.py): derived from the row, never stored,
typed with or without the space, valid across a SECRET_KEY rotation."""

from __future__ import annotations

import pytest
from django.db import connection

from backend.accounts import codes
from backend.accounts.models import AccountCode, CodePurpose

pytestmark = pytest.mark.django_db

PURPOSE = CodePurpose.PASSWORD_RESET


def test_the_code_is_eight_digits_and_stored_nowhere(patient):
    issued = codes.account_code_issue(user=patient, purpose=PURPOSE)
    code = codes.code_for(issued)

    assert len(code) == 8
    assert code.isdigit()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_accountcode")
        row = " ".join(str(value) for value in cursor.fetchone())
    assert code not in row


def test_it_is_typed_with_spaces_or_dashes(patient):
    issued = codes.account_code_issue(user=patient, purpose=PURPOSE)
    code = codes.code_for(issued)

    verdict, _ = codes.account_code_check(
        user=patient, purpose=PURPOSE, code=f" {code[:4]}-{code[4:]} "
    )

    assert verdict is codes.Verdict.ACCEPTED


def test_a_code_issued_before_a_secret_key_rotation_still_works(patient, settings):
    issued = codes.account_code_issue(user=patient, purpose=PURPOSE)
    code = codes.code_for(issued)

    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-the-rotation-test-0123456789-abcdef"
    verdict, _ = codes.account_code_check(user=patient, purpose=PURPOSE, code=code)

    assert verdict is codes.Verdict.ACCEPTED


def test_without_the_key_the_seed_gives_another_code(patient, settings):
    issued = codes.account_code_issue(user=patient, purpose=PURPOSE)
    code = codes.code_for(issued)

    settings.SECRET_KEY = "someone-elses-secret-key-not-this-services-0123456789-xyz"

    assert codes.code_for(issued) != code
    verdict, _ = codes.account_code_check(user=patient, purpose=PURPOSE, code=code)
    assert verdict is codes.Verdict.INVALID


def test_one_code_per_account_and_purpose(patient):
    codes.account_code_issue(user=patient, purpose=PURPOSE)
    codes.account_code_issue(user=patient, purpose=PURPOSE)
    codes.account_code_issue(user=patient, purpose=CodePurpose.EMAIL_CHANGE, email="a@b.org")

    assert AccountCode.objects.filter(user=patient, purpose=PURPOSE).count() == 1
    assert AccountCode.objects.filter(user=patient).count() == 2


def test_wrong_tries_stop_counting_at_the_limit(patient, settings):
    codes.account_code_issue(user=patient, purpose=PURPOSE)

    for _ in range(settings.ACCOUNT_CODE_MAX_ATTEMPTS + 3):
        codes.account_code_check(user=patient, purpose=PURPOSE, code="not a code")

    assert AccountCode.objects.get().failed_attempts == settings.ACCOUNT_CODE_MAX_ATTEMPTS
