"""A failed sign-in is logged without the address that was tried: an address in a log line
would mark a person as a KAP patient. The lock-out's lines name the account by a keyed
digest instead, the same for every way in, so an operator can still follow one account."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from backend.logging import AddressRedactingFilter, address_digest
from tests.accounts.factories import TOTPDeviceFactory, UserFactory
from tests.accounts.helpers import admin_sign_in, login

pytestmark = pytest.mark.django_db

PATIENT = "anna@example.org"
UNKNOWN = "nobody.here@example.org"
THERAPIST = "dr.berg@example.org"
STAFF = "staff@example.org"
WRONG = "not-the-password-1"
# Every logger a sign-in passes through, at its most talkative.
LOGGERS = ("", "axes", "django", "django.request", "django.security", "afterglow")


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _text(record: logging.LogRecord) -> str:
    """Everything a handler could write: the message and every attribute."""
    return f"{record.getMessage()} {vars(record)}".lower()


def test_a_failed_sign_in_writes_no_address_to_any_log_record(
    api_client, patient, therapist_device, log, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    # Given failed sign-ins of every kind: a wrong password, an unknown address, a
    # therapist without a code, the dashboard's form, and a lock-out
    login(api_client, PATIENT.upper(), WRONG)
    login(api_client, UNKNOWN, WRONG)
    login(api_client, THERAPIST)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(api_client, PATIENT, WRONG)
    Client().post("/dashboard/sign-in/", {"email": THERAPIST, "password": WRONG, "code": "123456"})

    # then no record carries an address, in any letter case
    records = log.records
    assert records, "nothing was logged: the test would prove nothing"
    for record in records:
        text = _text(record)
        for address in (PATIENT, UNKNOWN, THERAPIST):
            assert address not in text, (record.name, record.getMessage())
        assert "@example.org" not in text, (record.name, record.getMessage())
    # and the lock-out's lines name the account by its keyed digest
    axes_lines = " ".join(
        record.getMessage() for record in records if record.name.startswith("axes")
    )
    for address in (PATIENT, UNKNOWN, THERAPIST):
        assert address_digest(address) in axes_lines


@pytest.mark.usefixtures("admin_enabled")
def test_a_failed_admin_sign_in_writes_no_address_to_any_log_record(log):
    TOTPDeviceFactory.create(user=UserFactory.create(email=STAFF, is_staff=True))

    admin_sign_in(Client(enforce_csrf_checks=True), STAFF, WRONG, code="123456")
    admin_sign_in(Client(enforce_csrf_checks=True), STAFF.upper())

    records = log.records
    for record in records:
        assert STAFF not in _text(record), (record.name, record.getMessage())
    axes_lines = " ".join(
        record.getMessage() for record in records if record.name.startswith("axes")
    )
    assert address_digest(STAFF) in axes_lines


def test_the_digest_is_keyed_by_the_secret_key_and_ignores_case(settings):
    digest = address_digest(PATIENT)

    assert address_digest("  Anna@Example.ORG ") == digest
    assert PATIENT not in digest
    assert address_digest(UNKNOWN) != digest
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789abcdef"
    assert address_digest(PATIENT) != digest


def test_the_log_handler_replaces_an_address_that_slipped_into_a_line():
    record = logging.LogRecord(
        "somewhere", logging.WARNING, __file__, 1, "mail to %s failed", (PATIENT,), None
    )
    record.recipient = f"Anna <{PATIENT}>"

    assert AddressRedactingFilter().filter(record) is True

    assert PATIENT not in _text(record)
    assert address_digest(PATIENT) in record.getMessage()
    assert address_digest(PATIENT) in record.recipient  # type: ignore[attr-defined]


def test_the_log_handler_leaves_a_celery_node_name_alone():
    record = logging.LogRecord(
        "celery", logging.INFO, __file__, 1, "celery@worker1 ready.", (), None
    )

    AddressRedactingFilter().filter(record)

    assert record.getMessage() == "celery@worker1 ready."
