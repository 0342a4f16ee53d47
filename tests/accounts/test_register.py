"""Registration that reveals nothing: the same answer for a new and a taken address, a code
by e-mail (through a real SMTP server), and the code with the password signs the device in."""

from __future__ import annotations

import statistics
import time

import pytest
import time_machine
from django.contrib.auth.hashers import identify_hasher

from backend.accounts.models import AccountCode, DeviceToken, Role, User
from tests.accounts.factories import PASSWORD, PatientFactory
from tests.accounts.helpers import assert_problem, authorized, login, without_request_id

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/auth/register/"
CONFIRM = "/api/v1/auth/register/confirm/"
RESEND = "/api/v1/auth/register/resend/"
VALID = {
    "email": "Anna@Example.org",
    "password": "correct horse battery staple",
    "display_name": "Anna",
    "time_zone": "Europe/Berlin",
}


def _confirm(client, code, *, email="anna@example.org", password=VALID["password"]):
    return client.post(
        CONFIRM,
        {"email": email, "code": code, "password": password, "device_name": "Anna's iPhone"},
    )


def test_it_registers_sends_a_code_and_the_code_signs_the_device_in(api_client, mail):
    # Given no account; when Anna registers
    response = api_client.post(URL, VALID)

    # then no token yet: a code went to the address
    assert response.status_code == 202, response.content
    assert "token" not in response.json()
    user = User.objects.get()
    assert (user.email, user.role, user.time_zone) == (
        "anna@example.org",
        Role.PATIENT,
        "Europe/Berlin",
    )
    assert user.email_verified_at is None
    (message,) = mail.messages_to("anna@example.org")
    assert message.subject == "Your Afterglow code to confirm your address"
    assert "Not you?" in message.text

    # and she cannot sign in before confirming it (told only with the right password)
    assert_problem(
        login(api_client, "anna@example.org", VALID["password"]), 403, "email_not_verified"
    )

    # when she types the code in with her password, this device is signed in
    confirmed = _confirm(api_client, message.code)
    assert confirmed.status_code == 201, confirmed.content
    body = confirmed.json()
    assert body["user"]["email"] == "anna@example.org"
    assert (body["user"]["country"], body["user"]["suggested_country"]) == (None, "DE")
    assert body["user"]["terms"]["acceptance_required"] is True
    assert body["device"]["name"] == "Anna's iPhone"
    assert authorized(body["token"]).get("/api/v1/me/").status_code == 200
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert user.last_login is not None
    assert not AccountCode.objects.exists()
    assert login(api_client, "anna@example.org", VALID["password"]).status_code == 200


def test_a_taken_address_gets_the_same_answer_and_its_owner_an_e_mail(api_client, mail):
    PatientFactory.create(email="taken@example.org", display_name="Taken")

    new = api_client.post(URL, {**VALID, "email": "new@example.org"})
    taken = api_client.post(URL, {**VALID, "email": "Taken@example.org"})

    assert new.status_code == taken.status_code == 202
    assert without_request_id(new.json()) == without_request_id(taken.json())
    assert User.objects.filter(email="taken@example.org").count() == 1
    (notice,) = mail.messages_to("taken@example.org")
    assert notice.subject == "Someone tried to register with your address at Afterglow"
    assert "Forgot password" in notice.text
    assert "https://care.afterglow.test/dashboard/password/forgot/" in notice.text
    # the notice carries no code, and nothing signs anyone in
    assert "code" not in notice.text.lower().split("forgot")[0]
    assert DeviceToken.objects.count() == 0


def test_new_and_taken_addresses_take_the_same_time(api_client, settings):
    """Many tries, interleaved; the new path makes an account (an Argon2 hash, inserts, a
    broker message), the taken one hashes the password too and queues a notice."""
    from backend import settings as project_settings

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    settings.ACCOUNT_UNIFORM_RESPONSE_SECONDS = 0.5
    PatientFactory.create(email="taken@example.org")
    timings: dict[str, list[float]] = {"new": [], "taken": []}
    for index in range(8):
        for kind, address in (("new", f"new{index}@example.org"), ("taken", "taken@example.org")):
            started = time.perf_counter()
            response = api_client.post(URL, {**VALID, "email": address})
            timings[kind].append(time.perf_counter() - started)
            assert response.status_code == 202

    new, taken = statistics.median(timings["new"]), statistics.median(timings["taken"])
    assert min(new, taken) >= 0.5
    assert abs(new - taken) < 0.01, (new, taken)


def test_the_code_alone_does_not_sign_in(api_client, mail):
    api_client.post(URL, VALID)
    (message,) = mail.messages()

    response = _confirm(api_client, message.code, password="someone else's guess")

    assert_problem(response, 401, "invalid_credentials")
    assert DeviceToken.objects.count() == 0
    assert User.objects.get().email_verified_at is None


def test_a_wrong_code_fails_and_nothing_is_signed_in(api_client, mail):
    api_client.post(URL, VALID)
    (message,) = mail.messages()
    wrong = f"{(int(message.code) + 1) % 10**8:08d}"

    assert_problem(_confirm(api_client, wrong), 400, "invalid_code")
    assert_problem(
        _confirm(api_client, message.code, email="nobody@example.org"), 400, "invalid_code"
    )
    assert DeviceToken.objects.count() == 0


def test_a_code_works_once(api_client, mail):
    api_client.post(URL, VALID)
    (message,) = mail.messages()
    assert _confirm(api_client, message.code).status_code == 201

    assert_problem(_confirm(api_client, message.code), 400, "invalid_code")
    assert DeviceToken.objects.count() == 1


def test_a_new_code_replaces_the_old_one(api_client, mail):
    api_client.post(URL, VALID)
    (first,) = mail.messages()
    mail.clear()

    assert api_client.post(RESEND, {"email": "anna@example.org"}).status_code == 202
    (second,) = mail.messages()
    if first.code == second.code:
        pytest.skip("the two random codes happen to be equal")

    assert_problem(_confirm(api_client, first.code), 400, "invalid_code")
    assert _confirm(api_client, second.code).status_code == 201


def test_a_new_code_is_asked_for_with_the_same_answer_for_any_address(api_client, mail):
    PatientFactory.create(email="verified@example.org")

    answers = [
        api_client.post(RESEND, {"email": address})
        for address in ("nobody@example.org", "verified@example.org")
    ]

    assert {answer.status_code for answer in answers} == {202}
    assert len({str(without_request_id(answer.json())) for answer in answers}) == 1
    assert mail.messages() == []


def test_a_password_reset_proves_the_address_of_a_registration(api_client, mail):
    # Given someone registered Anna's address with a password she does not know
    api_client.post(URL, {**VALID, "password": "a squatter's own passphrase"})
    mail.clear()

    # when Anna resets the password with the code sent to her
    api_client.post("/api/v1/auth/password/reset/", {"email": "anna@example.org"})
    (message,) = mail.messages()
    reset = api_client.post(
        "/api/v1/auth/password/reset/confirm/",
        {"email": "anna@example.org", "code": message.code, "new_password": PASSWORD},
    )

    # then the account is hers: verified, with her password, and the other one is dead
    assert reset.status_code == 204
    assert login(api_client, "anna@example.org", PASSWORD).status_code == 200
    assert_problem(
        login(api_client, "anna@example.org", "a squatter's own passphrase"),
        401,
        "invalid_credentials",
    )


def test_password_is_stored_with_argon2(api_client, settings):
    from backend import settings as project_settings

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS

    api_client.post(URL, VALID)

    password = User.objects.get().password
    assert identify_hasher(password).algorithm == "argon2"
    assert VALID["password"] not in password


def test_time_zone_defaults_to_utc(api_client):
    data = {key: value for key, value in VALID.items() if key != "time_zone"}

    assert api_client.post(URL, data).status_code == 202

    assert User.objects.get().time_zone == "UTC"


def test_weak_password_answers_password_too_weak_for_new_and_taken_addresses(api_client):
    PatientFactory.create(email="taken@example.org")

    answers = [
        api_client.post(URL, {**VALID, "email": address, "password": "qz7%w"})
        for address in ("new@example.org", "taken@example.org")
    ]

    bodies = [assert_problem(answer, 400, "password_too_weak") for answer in answers]
    assert without_request_id(bodies[0]) == without_request_id(bodies[1])
    assert any("too short" in message for message in bodies[0]["errors"]["password"])
    assert User.objects.count() == 1


def test_password_like_the_email_is_refused(api_client):
    response = api_client.post(
        URL, {**VALID, "email": "moonriver42@example.org", "password": "moonriver42"}
    )

    body = assert_problem(response, 400, "password_too_weak")
    assert "password" in body["errors"]
    assert User.objects.count() == 0


def test_missing_fields_are_named(api_client):
    response = api_client.post(URL, {})

    body = assert_problem(response, 400, "validation")
    assert set(body["errors"]) == {"email", "password", "display_name"}


def test_unknown_time_zone_is_refused_without_echoing_it(api_client):
    secret_value = "Mars/Olympus_Mons_secret"

    response = api_client.post(URL, {**VALID, "time_zone": secret_value})

    body = assert_problem(response, 400, "validation")
    assert list(body["errors"]) == ["time_zone"]
    assert secret_value not in response.content.decode()
    assert User.objects.count() == 0


def test_unknown_fields_are_refused_without_echoing_them(api_client):
    response = api_client.post(URL, {**VALID, "role": "therapist", "is_staff_secret": True})

    body = assert_problem(response, 400, "validation")
    assert "is_staff_secret" not in response.content.decode()
    assert "Unknown fields" in body["errors"]["non_field_errors"][0]
    assert User.objects.count() == 0


def test_password_is_never_echoed(api_client):
    response = api_client.post(URL, {**VALID, "email": "not-an-address", "password": "pw-echo-1"})

    assert_problem(response, 400, "validation")
    assert "pw-echo-1" not in response.content.decode()


def test_a_registration_never_confirmed_frees_its_address_after_a_week(api_client, mail):
    from datetime import timedelta

    from django.utils import timezone

    from worker import tasks

    api_client.post(URL, VALID)
    confirmed_owner = PatientFactory.create(email="kept@example.org", email_verified_at=None)
    confirmed_owner.last_login = timezone.now()
    confirmed_owner.save(update_fields=["last_login"])

    with time_machine.travel(timezone.now() + timedelta(days=6)):
        assert tasks.purge_unconfirmed_registrations() == 0
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert tasks.purge_unconfirmed_registrations() == 1

    assert not User.objects.filter(email="anna@example.org").exists()
    assert not AccountCode.objects.exists()
    assert User.objects.filter(email="kept@example.org").exists()
    # and the address can be registered anew
    mail.clear()
    assert api_client.post(URL, VALID).status_code == 202
    assert mail.messages()[0].subject == "Your Afterglow code to confirm your address"
