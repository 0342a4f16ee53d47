"""The dashboard's account pages: a forgotten password (the code by e-mail, through a real
SMTP server), the reset page the e-mail links to, a password change, recovery codes, and
signing in with a recovery code. Each form needs its CSRF token."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken

from backend.accounts import recovery
from tests.accounts.factories import PASSWORD
from tests.integration.dashboard.conftest import LOGIN_URL, sign_in, without_csrf_token

pytestmark = pytest.mark.django_db(transaction=True)

FORGOT = "/dashboard/password/forgot/"
RESET = "/dashboard/password/reset/"
ACCOUNT = "/dashboard/account/"
CHANGE = "/dashboard/account/password/"
CODES = "/dashboard/account/recovery-codes/"
NEW_PASSWORD = "amber-meadow-quiet-river-84"
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def html_of(response) -> str:
    return response.content.decode()


def posted(client: Client, url: str, data: dict, **extra):
    """Fetch the form for its CSRF token, then post it, as a browser does."""
    page = client.get(url, **extra)
    match = _CSRF.search(html_of(page))
    assert match is not None, html_of(page)
    return client.post(url, {"csrfmiddlewaretoken": match.group(1), **data})


def test_the_forgot_page_answers_the_same_for_every_address_and_mails_the_known_one(
    therapist, mail
):
    known = posted(Client(enforce_csrf_checks=True), FORGOT, {"email": "dr.berg@example.org"})
    unknown = posted(Client(enforce_csrf_checks=True), FORGOT, {"email": "nobody@example.org"})

    assert known.status_code == unknown.status_code == 200
    assert without_csrf_token(html_of(known)) == without_csrf_token(html_of(unknown))
    assert "Check your e-mail" in html_of(known)
    (message,) = mail.messages()
    assert message.to == "dr.berg@example.org"
    assert f"/dashboard/password/reset/?code={message.code}" in message.text


def test_the_reset_page_sets_the_password_and_ends_every_session(
    therapist, therapist_device, therapist_client, mail
):
    posted(Client(), FORGOT, {"email": "dr.berg@example.org"})
    (message,) = mail.messages()
    browser = Client(enforce_csrf_checks=True)

    # The link fills the code in
    page = browser.get(f"{RESET}?code={message.code}")
    assert f'value="{message.code}"' in html_of(page)

    response = posted(
        browser,
        RESET,
        {
            "email": "dr.berg@example.org",
            "code": message.code,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert "Your new password is set" in html_of(browser.get(LOGIN_URL))
    # The session signed in before has ended; the new password signs in, with the app.
    assert therapist_client.get("/dashboard/").status_code == 302
    assert sign_in(Client(), therapist_device, password=NEW_PASSWORD).status_code == 302


def test_the_reset_page_shows_a_wrong_code_in_the_apis_words(therapist, mail):
    response = posted(
        Client(),
        RESET,
        {
            "email": "dr.berg@example.org",
            "code": "0000 0000",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )

    assert response.status_code == 200
    assert "The code is not correct." in html_of(response)
    assert NEW_PASSWORD not in html_of(response)


def test_a_form_without_its_csrf_token_is_refused(therapist, mail):
    response = Client(enforce_csrf_checks=True).post(FORGOT, {"email": "dr.berg@example.org"})

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert mail.messages() == []


def test_changing_the_password_keeps_this_session_and_tells_the_owner(
    therapist, therapist_device, therapist_client, mail
):
    other_session = sign_in(Client(), therapist_device).client

    wrong = posted(
        therapist_client,
        CHANGE,
        {
            "current_password": "not-the-password-1",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert "The password is not correct." in html_of(wrong)

    response = posted(
        therapist_client,
        CHANGE,
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert "Your password is changed" in html_of(therapist_client.get(ACCOUNT))
    assert other_session.get("/dashboard/").status_code == 302
    assert [m.subject for m in mail.messages()] == ["Your Afterglow password was changed"]


def test_a_weak_new_password_is_shown_on_its_field(therapist_client, mail):
    response = posted(
        therapist_client,
        CHANGE,
        {"current_password": PASSWORD, "new_password": "short", "new_password_again": "short"},
    )

    assert "This password is too short." in html_of(response)
    assert mail.messages() == []


def test_new_recovery_codes_are_shown_once_and_sign_in_in_place_of_the_app(
    therapist, therapist_client
):
    recovery.recovery_codes_create(user=therapist)
    assert "<strong>10</strong> left" in html_of(therapist_client.get(ACCOUNT))

    response = posted(therapist_client, CODES, {"password": PASSWORD})

    codes = re.findall(r"<code>([a-z0-9]+)</code>", html_of(response))
    assert len(codes) == 10
    assert set(codes) == set(StaticToken.objects.values_list("token", flat=True))
    assert not any(code in html_of(therapist_client.get(CODES)) for code in codes)
    signed_in = Client()
    answer = signed_in.post(
        LOGIN_URL, {"email": "dr.berg@example.org", "password": PASSWORD, "code": codes[0]}
    )
    assert answer.status_code == 302
    page = html_of(signed_in.get("/dashboard/"))
    assert "You signed in with a recovery code; 9 left." in page
    assert StaticToken.objects.count() == 9


def test_new_recovery_codes_need_the_password(therapist, therapist_client):
    codes = recovery.recovery_codes_create(user=therapist)

    response = posted(therapist_client, CODES, {"password": "not-the-password-1"})

    assert "The password is not correct." in html_of(response)
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(codes)


@pytest.mark.parametrize("url", [ACCOUNT, CHANGE, CODES])
def test_the_account_pages_need_a_signed_in_therapist(url, therapist):
    response = Client().get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_the_forgot_page_is_rate_limited_per_address(therapist, mail, monkeypatch):
    from django.conf import settings
    from rest_framework.throttling import ScopedRateThrottle

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "account_email_address": "1/hour"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
    posted(Client(), FORGOT, {"email": "dr.berg@example.org"})

    again = posted(Client(REMOTE_ADDR="198.51.100.4"), FORGOT, {"email": "dr.berg@example.org"})

    assert again.status_code == 429
    assert "Too many requests. Try again later." in html_of(again)
    assert len(mail.messages()) == 1


# 249 characters as typed; 489 lower-cased ("İ" becomes "i" and a combining dot).
GROWS_WHEN_LOWERED = "a@" + ".".join(["İ" * 60] * 4) + ".com"


def test_an_address_too_long_once_lower_cased_is_a_field_error_on_the_password_forms(
    therapist, mail
):
    forgot = posted(Client(enforce_csrf_checks=True), FORGOT, {"email": GROWS_WHEN_LOWERED})
    reset = posted(
        Client(enforce_csrf_checks=True),
        RESET,
        {
            "email": GROWS_WHEN_LOWERED,
            "code": "1234 5678",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )

    for response in (forgot, reset):
        assert response.status_code == 200, response.content
        assert "at most 254 characters" in html_of(response)
    assert mail.messages() == []
