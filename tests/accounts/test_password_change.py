"""POST /api/v1/auth/password/change/: a signed-in person sets a new password."""

from __future__ import annotations

import pytest

from backend.accounts import codes
from backend.accounts.models import AccountCode, CodePurpose, DeviceToken
from tests.accounts.factories import PASSWORD, issue_token
from tests.accounts.helpers import assert_problem, authorized, login

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/auth/password/change/"
NEW_PASSWORD = "amber-meadow-quiet-river-84"


def _change(token, current=PASSWORD, new=NEW_PASSWORD):
    return authorized(token).post(URL, {"current_password": current, "new_password": new})


def test_it_ends_other_devices_only_and_tells_the_owner(api_client, patient, mail):
    # Given two signed-in phones
    this_phone, other_phone = issue_token(patient), issue_token(patient)

    # When the password is changed from one of them
    response = _change(this_phone)

    # then that one keeps working, the other is signed out, and the new password works
    assert response.status_code == 204, response.content
    assert authorized(this_phone).get("/api/v1/me/").status_code == 200
    assert_problem(authorized(other_phone).get("/api/v1/me/"), 401, "authentication_failed")
    assert DeviceToken.objects.filter(user=patient).count() == 1
    assert_problem(login(api_client, "anna@example.org"), 401, "invalid_credentials")
    assert login(api_client, "anna@example.org", NEW_PASSWORD).status_code == 200
    (message,) = mail.messages_to("anna@example.org")
    assert message.subject == "Your Afterglow password was changed"
    assert "Not you?" in message.text
    assert NEW_PASSWORD not in message.raw


def test_a_wrong_current_password_changes_nothing(api_client, patient, mail):
    this_phone, other_phone = issue_token(patient), issue_token(patient)

    response = _change(this_phone, current="not-the-password-1")

    body = assert_problem(response, 400, "invalid_password")
    assert list(body["errors"]) == ["current_password"]
    assert authorized(other_phone).get("/api/v1/me/").status_code == 200
    assert login(api_client, "anna@example.org").status_code == 200
    assert mail.messages() == []


def test_a_weak_new_password_is_refused(api_client, patient, mail):
    token = issue_token(patient)

    response = _change(token, new="anna@example.org")

    body = assert_problem(response, 400, "password_too_weak")
    assert list(body["errors"]) == ["new_password"]
    assert login(api_client, "anna@example.org").status_code == 200


def test_a_new_password_ends_a_pending_reset_code(patient, mail):
    codes.account_code_issue(user=patient, purpose=CodePurpose.PASSWORD_RESET)

    assert _change(issue_token(patient)).status_code == 204

    assert not AccountCode.objects.exists()


def test_it_needs_a_signed_in_caller(api_client):
    response = api_client.post(URL, {"current_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert_problem(response, 401, "not_authenticated")
