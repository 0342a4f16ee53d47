"""A change of address: the password, a code to the new address, a notice to the old one;
it takes effect only when the code is typed in."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from backend.accounts import emails
from backend.accounts.models import AccountCode, EmailChangeNotice, User
from backend.accounts.registration import registrations_unconfirmed_purge
from tests.accounts.factories import PASSWORD, PatientFactory, issue_token
from tests.accounts.helpers import assert_problem, authorized, login, without_request_id
from worker import tasks

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/me/email/"
CONFIRM = "/api/v1/me/email/confirm/"


def _ask(client, new_email="anna@example.net", password=PASSWORD):
    return client.post(URL, {"password": password, "new_email": new_email})


def test_it_moves_the_account_once_the_code_is_typed_in(api_client, patient, mail):
    phone = authorized(issue_token(patient))

    assert _ask(phone).status_code == 202

    # then the old address is told, the new one gets the code, nothing has moved yet
    (notice,) = mail.messages_to("anna@example.org")
    assert notice.subject == "A new address was asked for your Afterglow account"
    assert "anna@example.net" not in notice.text
    assert "Not you?" in notice.text
    (message,) = mail.messages_to("anna@example.net")
    assert User.objects.get(pk=patient.pk).email == "anna@example.org"

    # when the code is typed in, the account has the new address and signs in with it
    confirmed = phone.post(CONFIRM, {"code": message.code})
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["email"] == "anna@example.net"
    assert login(api_client, "anna@example.net").status_code == 200
    assert_problem(login(api_client, "anna@example.org"), 401, "invalid_credentials")
    assert phone.get("/api/v1/me/").status_code == 200


def test_it_needs_the_password(patient, mail):
    phone = authorized(issue_token(patient))

    response = _ask(phone, password="not-the-password-1")

    assert_problem(response, 400, "invalid_password")
    assert mail.messages() == []


def test_an_address_another_account_has_gets_no_code_and_the_same_answer(patient, mail):
    PatientFactory.create(email="ben@example.org")
    phone = authorized(issue_token(patient))

    free = _ask(phone, "free@example.org")
    mail.clear()
    taken = _ask(phone, "ben@example.org")

    assert free.status_code == taken.status_code == 202
    assert without_request_id(free.json()) == without_request_id(taken.json())
    assert mail.messages_to("ben@example.org") == []
    assert [m.subject for m in mail.messages_to("anna@example.org")] == [
        "A new address was asked for your Afterglow account"
    ]


def test_a_wrong_code_changes_nothing(patient, mail):
    phone = authorized(issue_token(patient))
    _ask(phone)
    (message,) = mail.messages_to("anna@example.net")
    wrong = f"{(int(message.code) + 1) % 10**8:08d}"

    assert_problem(phone.post(CONFIRM, {"code": wrong}), 400, "invalid_code")
    assert User.objects.get(pk=patient.pk).email == "anna@example.org"


def test_an_address_taken_in_the_meantime_answers_409(patient, mail):
    phone = authorized(issue_token(patient))
    _ask(phone)
    (message,) = mail.messages_to("anna@example.net")
    PatientFactory.create(email="anna@example.net")

    response = phone.post(CONFIRM, {"code": message.code})

    assert_problem(response, 409, "email_unavailable")
    assert User.objects.get(pk=patient.pk).email == "anna@example.org"


def test_a_new_password_cancels_a_pending_change(patient, mail):
    phone = authorized(issue_token(patient))
    _ask(phone)
    (message,) = mail.messages_to("anna@example.net")
    phone.post(
        "/api/v1/auth/password/change/",
        {"current_password": PASSWORD, "new_password": "amber-meadow-quiet-river-84"},
    )

    assert_problem(phone.post(CONFIRM, {"code": message.code}), 400, "invalid_code")


def test_a_new_address_too_long_once_lower_cased_is_a_400_not_a_500(api_client, patient, mail):
    # 249 characters as typed; 489 lower-cased ("İ" becomes two characters), which no
    # account's or code's address column holds.
    grows = "a@" + ".".join(["İ" * 60] * 4) + ".com"
    phone = authorized(issue_token(patient))

    body = assert_problem(_ask(phone, new_email=grows), 400, "validation")

    assert "new_email" in body["errors"]
    assert not mail.messages_to(grows.lower())


def test_an_erasure_keeps_no_pending_new_address(api_client, patient, mail):
    phone = authorized(issue_token(patient))
    assert _ask(phone).status_code == 202
    assert AccountCode.objects.filter(email="anna@example.net").exists()

    erased = phone.post("/api/v1/me/erase/", {"password": PASSWORD})

    assert erased.status_code == 204, erased.content
    assert not AccountCode.objects.filter(user=patient).exists()


def test_a_reset_code_sent_to_the_old_address_ends_with_the_change(api_client, patient, mail):
    # Given a reset code in the old mailbox, then a confirmed change of address
    api_client.post("/api/v1/auth/password/reset/", {"email": "anna@example.org"})
    (reset,) = mail.messages_to("anna@example.org")
    phone = authorized(issue_token(patient))
    _ask(phone)
    (message,) = mail.messages_to("anna@example.net")
    assert phone.post(CONFIRM, {"code": message.code}).status_code == 200

    # the old mailbox's code no longer resets the password, with either address
    for email in ("anna@example.net", "anna@example.org"):
        response = api_client.post(
            "/api/v1/auth/password/reset/confirm/",
            {"email": email, "code": reset.code, "new_password": "amber-meadow-quiet-river-84"},
        )
        assert_problem(response, 400, "invalid_code")
    assert login(api_client, "anna@example.net").status_code == 200
    assert not AccountCode.objects.filter(user=patient).exists()


@pytest.fixture
def held(mail):
    """The account e-mails queued, held back as by a busy worker: the test runs each task
    (through the real SMTP server) when it says."""
    queued: list[list] = []

    def hold(name: str, args: list, **options) -> None:
        assert name == emails.SEND_EMAIL_TASK
        queued.append(args)

    with mock.patch.object(emails, "current_app") as app:
        app.send_task.side_effect = hold
        yield queued


def test_the_notice_goes_to_the_old_address_even_when_sent_after_the_change(patient, mail, held):
    # Given a change asked for, whose code the new address got at once
    phone = authorized(issue_token(patient))
    asked_at = timezone.now().replace(second=30, microsecond=0)
    with time_machine.travel(asked_at, tick=False):
        assert _ask(phone).status_code == 202
    code_task, notice_task = held
    assert "anna@example.org" not in json.dumps(held)
    assert "anna@example.net" not in json.dumps(held)
    tasks.send_account_email(*code_task)
    (message,) = mail.messages_to("anna@example.net")
    # and confirmed, then a change asked for again (which replaces every code)
    assert phone.post(CONFIRM, {"code": message.code}).status_code == 200
    assert _ask(phone, new_email="anna@example.com").status_code == 202

    # when the worker sends the first notice only an hour later (a backlog, retries)
    with time_machine.travel(asked_at + timedelta(hours=1)):
        assert tasks.send_account_email(*notice_task) is True

    # then it goes to the address the account had when the change was asked for, and
    # says when that was; the new address got its code and nothing else
    (notice,) = mail.messages_to("anna@example.org")
    assert notice.subject == "A new address was asked for your Afterglow account"
    asked, sent = (
        moment.astimezone(ZoneInfo(patient.time_zone))
        for moment in (asked_at, asked_at + timedelta(hours=1))
    )
    assert f"{asked:%H:%M} ({asked.tzname()})" in notice.text
    assert f"{sent:%H:%M} ({sent.tzname()})" not in notice.text
    assert [m.subject for m in mail.messages_to("anna@example.net")] == [message.subject]
    # and the notice's row, which held the old address, is gone once sent
    assert not EmailChangeNotice.objects.filter(email="anna@example.org").exists()
    assert tasks.send_account_email(*notice_task) is False


def test_an_erasure_keeps_no_notice_not_yet_sent(patient, mail, held):
    phone = authorized(issue_token(patient))
    assert _ask(phone).status_code == 202
    notice_task = held[-1]

    assert phone.post("/api/v1/me/erase/", {"password": PASSWORD}).status_code == 204

    assert not EmailChangeNotice.objects.filter(user=patient).exists()
    assert tasks.send_account_email(*notice_task) is False
    assert mail.messages() == []


def test_a_notice_never_sent_goes_with_the_hourly_sweep(patient, mail, held):
    phone = authorized(issue_token(patient))
    assert _ask(phone).status_code == 202
    assert EmailChangeNotice.objects.filter(user=patient).count() == 1

    registrations_unconfirmed_purge(now=timezone.now() + timedelta(hours=23))
    assert EmailChangeNotice.objects.filter(user=patient).count() == 1
    registrations_unconfirmed_purge(now=timezone.now() + timedelta(hours=25))
    assert not EmailChangeNotice.objects.filter(user=patient).exists()
