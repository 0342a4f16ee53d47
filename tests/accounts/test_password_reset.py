"""Forgot password: a code by e-mail (through a real SMTP server), then a new password."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.throttling import ScopedRateThrottle

from backend.accounts.models import AccountCode, DeviceToken
from journal.entries import services as entries_services
from tests.accounts.factories import PASSWORD, PatientFactory, issue_token, totp_code
from tests.accounts.helpers import assert_problem, authorized, login, without_request_id

pytestmark = pytest.mark.django_db(transaction=True)

REQUEST = "/api/v1/auth/password/reset/"
CONFIRM = "/api/v1/auth/password/reset/confirm/"
NEW_PASSWORD = "amber-meadow-quiet-river-84"
WRONG = "not-the-password-1"


def _ask(client, email="anna@example.org", **extra):
    return client.post(REQUEST, {"email": email}, **extra)


def _confirm(client, code, email="anna@example.org", password=NEW_PASSWORD):
    return client.post(CONFIRM, {"email": email, "code": code, "new_password": password})


def _rates(monkeypatch, **rates):
    # DRF reads the rates into the class when it is defined, so patch the class.
    monkeypatch.setattr(
        ScopedRateThrottle,
        "THROTTLE_RATES",
        {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    )


def _code(mail, address="anna@example.org"):
    (message,) = mail.messages_to(address)
    return message.code


def test_it_resets_the_password_ends_every_token_and_leaves_the_journal_readable(
    api_client, patient, mail
):
    # Given a signed-in phone and an entry in the journal
    old_token = issue_token(patient)
    entry = entries_services.entry_create(
        patient=patient, kind="note", title="Sunday", body="Words that must survive a reset."
    ).record

    # When Anna asks for a code and sets a new password with it
    assert _ask(api_client).status_code == 202
    response = _confirm(api_client, _code(mail))

    # then the old token answers 401, the new password signs in, the entry reads back
    assert response.status_code == 204, response.content
    assert_problem(authorized(old_token).get("/api/v1/me/"), 401, "authentication_failed")
    assert_problem(login(api_client, "anna@example.org"), 401, "invalid_credentials")
    signed_in = login(api_client, "anna@example.org", NEW_PASSWORD)
    assert signed_in.status_code == 200, signed_in.content
    read = authorized(signed_in.json()["token"]).get(f"/api/v1/entries/{entry.pk}/")
    assert read.status_code == 200
    assert (read.json()["title"], read.json()["body"]) == (
        "Sunday",
        "Words that must survive a reset.",
    )
    # and a notice that the password changed followed the code
    subjects = sorted(message.subject for message in mail.messages_to("anna@example.org"))
    assert subjects == ["Your Afterglow password reset code", "Your Afterglow password was changed"]
    assert not AccountCode.objects.exists()


def test_the_message_carries_the_code_a_link_and_what_to_do_if_it_was_not_you(
    api_client, patient, mail
):
    _ask(api_client)

    (message,) = mail.messages_to("anna@example.org")
    assert message.subject == "Your Afterglow password reset code"
    assert "From: Afterglow <no-reply@afterglow.test>" in message.raw
    code = message.code
    assert f"{code[:4]} {code[4:]}" in message.text
    assert f"https://care.afterglow.test/dashboard/password/reset/?code={code}" in message.text
    assert "Not you?" in message.text
    assert "Afterglow" in message.text
    assert code[:4] in message.html
    assert "Not you?" in message.html
    # Only a hash-free seed is stored: the code itself is nowhere in the database.
    stored = AccountCode.objects.get()
    assert code not in stored.seed


def test_known_and_unknown_addresses_get_the_same_answer(api_client, patient, mail):
    known = _ask(api_client, "anna@example.org")
    unknown = _ask(api_client, "nobody@example.org")

    assert known.status_code == unknown.status_code == 202
    assert without_request_id(known.json()) == without_request_id(unknown.json())
    assert known["Content-Type"] == unknown["Content-Type"]
    assert len(mail.messages()) == 1
    assert mail.messages_to("nobody@example.org") == []


def test_known_and_unknown_addresses_take_the_same_time(api_client, settings, patient):
    """Many tries, interleaved: the two medians differ by less than a few milliseconds,
    and both wait for the floor (the known path queues a real broker message)."""
    settings.ACCOUNT_UNIFORM_RESPONSE_SECONDS = 0.15
    timings: dict[str, list[float]] = {"anna@example.org": [], "nobody@example.org": []}
    for _ in range(12):
        for address, durations in timings.items():
            started = time.perf_counter()
            assert _ask(api_client, address).status_code == 202
            durations.append(time.perf_counter() - started)

    known = statistics.median(timings["anna@example.org"])
    unknown = statistics.median(timings["nobody@example.org"])
    assert min(known, unknown) >= 0.15
    assert abs(known - unknown) < 0.005, (known, unknown)


def test_a_code_works_once(api_client, patient, mail):
    _ask(api_client)
    code = _code(mail)
    assert _confirm(api_client, code).status_code == 204

    again = _confirm(api_client, code, password="another-fresh-passphrase-5")

    assert_problem(again, 400, "invalid_code")
    assert login(api_client, "anna@example.org", NEW_PASSWORD).status_code == 200


def test_a_guessed_code_fails_and_the_code_dies_after_a_few_wrong_tries(api_client, patient, mail):
    _ask(api_client)
    code = _code(mail)
    wrong = f"{(int(code) + 1) % 10**8:08d}"

    for _ in range(settings.ACCOUNT_CODE_MAX_ATTEMPTS):
        assert_problem(_confirm(api_client, wrong), 400, "invalid_code")

    # then even the right code no longer works, and says why
    assert_problem(_confirm(api_client, code), 400, "too_many_attempts")
    assert login(api_client, "anna@example.org").status_code == 200


def test_an_expired_code_fails(api_client, patient, mail):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _ask(api_client)
        clock.shift(timedelta(minutes=settings.ACCOUNT_CODE_TTL_MINUTES, seconds=1))

        response = _confirm(api_client, _code(mail))

    assert_problem(response, 400, "code_expired")
    assert login(api_client, "anna@example.org").status_code == 200


def test_the_newest_request_replaces_the_older_code(api_client, patient, mail):
    _ask(api_client)
    first = _code(mail)
    mail.clear()
    _ask(api_client)
    second = _code(mail)
    if first == second:  # one chance in 10^8
        pytest.skip("the two random codes happen to be equal")

    assert_problem(_confirm(api_client, first), 400, "invalid_code")
    assert _confirm(api_client, second).status_code == 204


def test_a_wrong_code_for_an_unknown_address_answers_like_one_for_a_known_address(
    api_client, patient, mail
):
    _ask(api_client)
    code = _code(mail)
    wrong = f"{(int(code) + 1) % 10**8:08d}"

    known = _confirm(api_client, wrong)
    unknown = _confirm(api_client, code, email="nobody@example.org")

    assert without_request_id(assert_problem(known, 400, "invalid_code")) == without_request_id(
        assert_problem(unknown, 400, "invalid_code")
    )


def test_a_weak_new_password_is_refused_and_the_code_still_works(api_client, patient, mail):
    _ask(api_client)
    code = _code(mail)

    weak = _confirm(api_client, code, password="short")

    body = assert_problem(weak, 400, "password_too_weak")
    assert any("too short" in message for message in body["errors"]["new_password"])
    assert _confirm(api_client, code).status_code == 204


def test_a_reset_clears_the_accounts_lock_out(api_client, patient, mail):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(api_client, "anna@example.org", WRONG)
    assert_problem(login(api_client, "anna@example.org"), 429, "locked_out")

    _ask(api_client)
    assert _confirm(api_client, _code(mail)).status_code == 204

    assert login(api_client, "anna@example.org", NEW_PASSWORD).status_code == 200


def test_a_therapist_still_needs_the_authenticator_after_a_reset(
    api_client, therapist_device, mail
):
    _ask(api_client, "dr.berg@example.org")
    assert (
        _confirm(api_client, _code(mail, "dr.berg@example.org"), "dr.berg@example.org").status_code
        == 204
    )

    without = login(api_client, "dr.berg@example.org", NEW_PASSWORD)
    with_code = login(
        api_client, "dr.berg@example.org", NEW_PASSWORD, otp=totp_code(therapist_device)
    )

    assert_problem(without, 401, "invalid_credentials")
    assert with_code.status_code == 200


def test_an_inactive_account_gets_no_code_and_the_same_answer(api_client, mail):
    PatientFactory.create(email="gone@example.org", is_active=False)

    response = _ask(api_client, "gone@example.org")

    assert response.status_code == 202
    assert mail.messages() == []


def test_requests_are_limited_per_address_from_any_network_address(
    api_client, monkeypatch, patient, mail
):
    _rates(monkeypatch, account_email_address="2/hour")
    for index in range(2):
        assert _ask(api_client, REMOTE_ADDR=f"198.51.100.{index}").status_code == 202

    limited = _ask(api_client, REMOTE_ADDR="198.51.100.9")
    other_address = _ask(api_client, "nobody@example.org", REMOTE_ADDR="198.51.100.9")

    assert_problem(limited, 429, "throttled")
    assert other_address.status_code == 202


def test_requests_are_limited_per_network_address(api_client, monkeypatch, mail):
    _rates(monkeypatch, account_email="2/hour")
    for index in range(2):
        assert _ask(api_client, f"person{index}@example.org").status_code == 202

    assert_problem(_ask(api_client, "person9@example.org"), 429, "throttled")


def test_a_reset_does_not_touch_another_account(api_client, patient, mail):
    ben = PatientFactory.create(email="ben@example.org")
    ben_token = issue_token(ben)

    _ask(api_client)
    _confirm(api_client, _code(mail))

    assert authorized(ben_token).get("/api/v1/me/").status_code == 200
    assert DeviceToken.objects.filter(user=ben).count() == 1
    assert login(api_client, "ben@example.org", PASSWORD).status_code == 200
