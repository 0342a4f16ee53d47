"""Account e-mail as a component: queued after commit with ids only, sent by the worker's
task through a real SMTP server, retried when the server refuses for now, never stale."""

from __future__ import annotations

import json
import smtplib
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from backend.accounts import codes, emails
from backend.accounts.models import CodePurpose
from tests.integration.workers import Workers
from tests.processes import wait_for
from tests.smtp import SmtpServer
from worker import tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent_tasks():
    """The tasks queued after commit, instead of a broker."""
    with mock.patch.object(emails, "current_app") as app:
        yield app.send_task.call_args_list


def test_the_task_message_holds_the_kind_and_ids_only(api_client, patient, sent_tasks):
    api_client.post("/api/v1/auth/password/reset/", {"email": "anna@example.org"})

    ((args, options),) = [(call.kwargs["args"], call.kwargs) for call in sent_tasks]
    code = codes.code_for(patient.account_codes.get())
    assert sent_tasks[0].args == (emails.SEND_EMAIL_TASK,)
    assert args == ["password_reset", str(patient.pk), str(patient.account_codes.get().pk)]
    message = json.dumps(options)
    for secret in ("anna@example.org", code, patient.display_name):
        assert secret not in message


def test_nothing_is_queued_when_the_transaction_rolls_back(patient, sent_tasks):
    def queue_then_fail() -> None:
        with transaction.atomic():
            emails.account_email_queue(kind=emails.EmailKind.PASSWORD_CHANGED, user=patient)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        queue_then_fail()

    assert sent_tasks == []


def test_a_replaced_code_is_not_sent(patient, mail):
    first = codes.account_code_issue(user=patient, purpose=CodePurpose.PASSWORD_RESET)
    codes.account_code_issue(user=patient, purpose=CodePurpose.PASSWORD_RESET)

    sent = tasks.send_account_email("password_reset", str(patient.pk), str(first.pk))

    assert sent is False
    assert mail.messages() == []


def test_an_expired_code_is_not_sent(patient, mail):
    issued = codes.account_code_issue(user=patient, purpose=CodePurpose.PASSWORD_RESET)

    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        sent = tasks.send_account_email("password_reset", str(patient.pk), str(issued.pk))

    assert sent is False
    assert mail.messages() == []


def test_a_repeat_sends_the_same_code_again(patient, mail):
    issued = codes.account_code_issue(user=patient, purpose=CodePurpose.PASSWORD_RESET)

    for _ in range(2):
        tasks.send_account_email("password_reset", str(patient.pk), str(issued.pk))

    first, second = mail.messages_to("anna@example.org")
    assert first.code == second.code == codes.code_for(issued)


def test_a_refusing_mail_server_raises_for_the_task_to_retry(patient, tmp_path, settings):
    with SmtpServer(tmp_path, refuse_first=1) as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port

        with pytest.raises(smtplib.SMTPDataError):
            emails.account_email_send(kind="password_changed", user_id=str(patient.pk))
        assert emails.account_email_send(kind="password_changed", user_id=str(patient.pk))

        assert len(server.messages()) == 1
    assert issubclass(smtplib.SMTPDataError, tasks.send_account_email.autoretry_for)


def test_no_message_carries_health_detail(patient, mail):
    issued = codes.account_code_issue(user=patient, purpose=CodePurpose.PASSWORD_RESET)
    tasks.send_account_email("password_reset", str(patient.pk), str(issued.pk))
    tasks.send_account_email("password_changed", str(patient.pk))

    for message in mail.messages():
        text = (message.text + message.html + message.subject).lower()
        for word in ("ketamine", "therapy", "therapist", "journal", "session", "dosing", "mood"):
            assert word not in text, (word, message.subject)


@pytest.mark.slow
def test_a_real_worker_sends_after_commit_and_retries_a_refusal(api_client, patient, tmp_path):
    with (
        SmtpServer(tmp_path, refuse_first=1) as server,
        Workers(database_name=connection.settings_dict["NAME"], directory=tmp_path) as workers,
    ):
        workers.env.update(
            DJANGO_SETTINGS_MODULE="tests.accounts.mail_worker_settings",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(server.port),
        )
        (worker,) = workers.start(1)

        response = api_client.post("/api/v1/auth/password/reset/", {"email": "anna@example.org"})

        assert response.status_code == 202
        wait_for(lambda: server.messages(), timeout=40, what="the e-mail after a retry")
        log = worker.log_tail()
    (message,) = server.messages()
    assert message.code == codes.code_for(patient.account_codes.get())
    assert "Retry in" in log
    assert "anna@example.org" not in log
