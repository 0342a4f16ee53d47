"""With DEBUG on (what `make run` sets), a request for an unknown host answers a problem
document, and Django's debug page, wherever something still reaches it, shows no key, no
key-like setting, no password of a database or broker URL, no request parameter and no
local variable."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

from backend.error_reports import SafeReporterFilter
from tests.accounts.helpers import assert_problem

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.backend.urls_with_failures")]

BROKER_PASSWORD = "broker-password-4471"
CACHE_PASSWORD = "cache-password-8820"
OTHER_DATABASE_PASSWORD = "reporting-db-password-9913"
VAPID_KEY = "vapid-private-key-material-5521"
MAIL_PASSWORD = "smtp-password-7302"
TOKEN = "a1b2c3d4e5f6-device-token-secret"
SESSION_ID = "sessionidvalue0123456789abcdefgh"
FORM_PASSWORD = "form-password-6675"
FORM_WORDS = "journal words posted in a form"


@pytest.fixture
def debug(settings):
    """DEBUG on, and settings holding secrets of every kind the page could show."""
    settings.DEBUG = True
    settings.CELERY_BROKER_URL = f"redis://:{BROKER_PASSWORD}@127.0.0.1:6379/1"
    settings.REDIS_URL = f"redis://default:{CACHE_PASSWORD}@127.0.0.1:6379/0"
    # A name that says nothing: only the value shows it holds a password.
    settings.REPORTING_DATABASE = f"postgres://reader:{OTHER_DATABASE_PASSWORD}@db.internal/x"
    settings.VAPID_PRIVATE_KEY = VAPID_KEY
    settings.EMAIL_HOST_PASSWORD = MAIL_PASSWORD
    return settings


def without(middleware: str) -> list[str]:
    return [name for name in django_settings.MIDDLEWARE if name != middleware]


def secrets_in(page: str) -> list[str]:
    values = [
        django_settings.SECRET_KEY,
        *(item.split(":", 1)[1] for item in django_settings.JOURNAL_KEKS),
        BROKER_PASSWORD,
        CACHE_PASSWORD,
        OTHER_DATABASE_PASSWORD,
        VAPID_KEY,
        MAIL_PASSWORD,
        TOKEN,
        SESSION_ID,
        FORM_PASSWORD,
        FORM_WORDS,
        "LOCAL-DATA-KEY-BYTES",
        "LOCAL JOURNAL WORDS",
    ]
    return [value for value in values if value in page]


def test_a_bad_host_answers_a_problem_document_with_debug_on(debug, client):
    response = client.get("/healthz", HTTP_HOST="attacker.example")

    body = assert_problem(response, 400, "disallowed_host")
    assert "attacker.example" not in response.content.decode()
    assert body["request_id"] == response["X-Request-ID"]


def test_a_bad_host_answers_a_problem_document_with_debug_off(client):
    assert_problem(client.get("/healthz", HTTP_HOST="attacker.example"), 400, "disallowed_host")


def test_a_suspicious_request_answers_a_problem_document_with_debug_on(debug, client):
    response = client.get("/test/suspicious")

    assert_problem(response, 400, "bad_request")
    assert "suspicious words" not in response.content.decode()


def test_the_debug_page_for_a_bad_host_shows_no_secret(debug):
    # Without the host check, Django's own answer to a bad Host is its debug page.
    debug.MIDDLEWARE = without("backend.middleware.AllowedHostMiddleware")

    response = Client().get(
        "/healthz",
        HTTP_HOST="attacker.example",
        HTTP_AUTHORIZATION=f"Token {TOKEN}",
        HTTP_COOKIE=f"sessionid={SESSION_ID}",
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "DisallowedHost" in page
    assert "JOURNAL_KEKS" in page  # the settings are listed, with their values hidden
    assert secrets_in(page) == []


def test_the_debug_page_for_a_failing_view_shows_no_secret(debug):
    # Without the problem middleware, an exception in a view reaches the debug page.
    debug.MIDDLEWARE = without("backend.middleware.ProblemExceptionMiddleware")
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = SESSION_ID

    response = client.post(
        "/test/boom-holding-secrets",
        {"password": FORM_PASSWORD, "body": FORM_WORDS},
        HTTP_AUTHORIZATION=f"Token {TOKEN}",
    )

    page = response.content.decode()
    assert response.status_code == 500
    assert "boom_holding_secrets" in page  # the traceback is there, its values are not
    assert "JOURNAL_KEKS" in page
    assert secrets_in(page) == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("redis://:pw@cache:6379/0", "redis://********************@cache:6379/0"),
        ("postgres://user:p@ss@db/x", "postgres://********************@db/x"),
        ("amqp://guest:guest@broker//", "amqp://********************@broker//"),
        ("https://api.example.org/dashboard/", "https://api.example.org/dashboard/"),
        ("filesystem://", "filesystem://"),
    ],
)
def test_url_passwords_are_hidden_whatever_the_setting_is_called(value, shown):
    assert SafeReporterFilter().cleanse_setting("ANY_NAME", value) == shown


@pytest.mark.parametrize(
    "name",
    [
        "JOURNAL_KEKS",
        "SECRET_KEY",
        "VAPID_PRIVATE_KEY",
        "FCM_CREDENTIALS_FILE",
        "APNS_KEY_ID",
        "EMAIL_HOST_PASSWORD",
        "HTTP_AUTHORIZATION",
        "HTTP_COOKIE",
        "HTTP_X_CSRFTOKEN",
    ],
)
def test_key_like_names_are_hidden(name):
    assert SafeReporterFilter().cleanse_setting(name, "value") == "********************"
