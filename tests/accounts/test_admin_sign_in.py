"""The Django admin: off unless an operator turns it on; when on, staff sign in with email,
password and a current authenticator code, and the lock-out counts every refusal under
the account that was tried. Each test drives the real sign-in form, CSRF included."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

from tests.accounts.factories import PatientFactory, TOTPDeviceFactory, UserFactory, totp_code
from tests.accounts.helpers import (
    ADMIN_LOGIN,
    admin_client_for,
    admin_sign_in,
    assert_problem,
    login,
)

pytestmark = pytest.mark.django_db

STAFF = "staff@example.org"
WRONG = "not-the-password-1"
REFUSED = "Please enter the correct email address, password and authenticator code"


@pytest.fixture
def staff_device():
    staff = UserFactory.create(email=STAFF, is_staff=True, is_superuser=True)
    return TOTPDeviceFactory.create(user=staff)


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def _wrong_code(device) -> str:
    return "000000" if totp_code(device) != "000000" else "111111"


def _is_in_the_admin(client: Client) -> bool:
    index = client.get("/admin/")
    return index.status_code == 200 and b"Site administration" in index.content


def test_the_admin_is_off_unless_an_operator_turns_it_on(client, staff_device):
    assert settings.ADMIN_ENABLED is False
    for path in ("/admin/", ADMIN_LOGIN, "/admin/accounts/user/"):
        assert_problem(client.get(path), 404, "not_found")


@pytest.mark.usefixtures("admin_enabled")
class TestSignIn:
    def test_password_and_a_current_code_open_the_admin(self, browser, staff_device):
        response = admin_sign_in(browser, STAFF, code=totp_code(staff_device))

        assert response.status_code == 302, response.content
        assert response["Location"] == "/admin/"
        assert _is_in_the_admin(browser)

    def test_the_address_is_matched_without_regard_to_case(self, browser, staff_device):
        response = admin_sign_in(browser, "  Staff@Example.ORG ", code=totp_code(staff_device))

        assert response.status_code == 302, response.content

    def test_the_right_password_alone_does_not_open_the_admin(self, browser, staff_device):
        response = admin_sign_in(browser, STAFF)

        assert response.status_code == 200
        assert REFUSED in response.content.decode()
        assert not _is_in_the_admin(browser)

    def test_a_missing_or_wrong_code_answers_exactly_like_a_wrong_password(
        self, browser, staff_device
    ):
        # Given three refusals: the password right without a code, the password right
        # with a wrong code, and the password wrong with a valid code
        answers = [
            admin_sign_in(Client(enforce_csrf_checks=True), STAFF),
            admin_sign_in(Client(enforce_csrf_checks=True), STAFF, code=_wrong_code(staff_device)),
            admin_sign_in(Client(enforce_csrf_checks=True), STAFF, WRONG, code="123456"),
        ]

        # then they cannot be told apart: same status, same message, no device list and
        # no password written back into the page (both only follow a right password)
        pages = [answer.content.decode() for answer in answers]
        assert {answer.status_code for answer in answers} == {200}
        assert all(REFUSED in page for page in pages)
        for page in pages:
            assert 'name="otp_device"' not in page
            assert WRONG not in page
            assert "violet-harbour" not in page
        errors = [answer.context["form"].errors.get_json_data() for answer in answers]
        assert errors[0] == errors[1] == errors[2]

    def test_a_staff_member_without_an_authenticator_cannot_sign_in(self, browser):
        UserFactory.create(email="new.staff@example.org", is_staff=True, is_superuser=True)

        response = admin_sign_in(browser, "new.staff@example.org", code="123456")

        assert response.status_code == 200
        assert REFUSED in response.content.decode()
        assert not _is_in_the_admin(browser)

    def test_a_patient_with_the_right_password_and_a_code_is_refused(self, browser):
        patient = PatientFactory.create(email="anna@example.org")
        device = TOTPDeviceFactory.create(user=patient)

        response = admin_sign_in(browser, "anna@example.org", code=totp_code(device))

        assert response.status_code == 200
        assert REFUSED in response.content.decode()
        assert AccessAttempt.objects.get().username == "anna@example.org"

    def test_a_session_signed_in_without_the_second_factor_is_sent_to_sign_in(self, staff_device):
        # Given a staff session that a password alone opened (another sign-in page, the
        # API's session auth, a session from before the admin required codes)
        client = Client()
        client.force_login(staff_device.user)

        response = client.get("/admin/accounts/user/")

        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")

    def test_a_session_verified_with_a_code_is_let_in(self):
        assert _is_in_the_admin(admin_client_for(UserFactory.create(is_staff=True)))


@pytest.mark.usefixtures("admin_enabled")
class TestLockOut:
    def _fail_until_locked(self, browser, email, **fields):
        answers = [
            admin_sign_in(browser, email, **fields) for _ in range(settings.AXES_FAILURE_LIMIT)
        ]
        assert [answer.status_code for answer in answers[:-1]] == [200] * (len(answers) - 1)
        return answers[-1]

    def test_failures_are_counted_under_the_account_tried(self, browser, staff_device):
        admin_sign_in(browser, STAFF.upper(), WRONG, code="123456")

        attempt = AccessAttempt.objects.get()
        assert attempt.username == STAFF
        assert attempt.failures_since_start == 1
        # and what was posted is kept without the password, the code or the CSRF token
        assert WRONG not in attempt.post_data
        assert "123456" not in attempt.post_data
        assert "otp_token=********************" in attempt.post_data

    def test_after_the_limit_even_the_right_password_and_code_are_refused(
        self, browser, staff_device
    ):
        # Given wrong passwords up to the limit
        last = self._fail_until_locked(browser, STAFF, password=WRONG, code="123456")
        assert_problem(last, 429, "locked_out")

        # when the right password comes with a valid code
        response = admin_sign_in(browser, STAFF, code=totp_code(staff_device))

        # then it is refused, and nobody is signed in
        assert_problem(response, 429, "locked_out")
        assert response["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
        assert not _is_in_the_admin(browser)
        assert "_auth_user_id" not in browser.session

    def test_missing_codes_with_the_right_password_count_as_failures(self, browser, staff_device):
        last = self._fail_until_locked(browser, STAFF)

        assert_problem(last, 429, "locked_out")
        assert_problem(
            admin_sign_in(browser, STAFF, code=totp_code(staff_device)), 429, "locked_out"
        )

    def test_admin_and_api_failures_count_against_the_same_account(
        self, browser, api_client, staff_device
    ):
        # Given failures through the API and through the admin, together at the limit
        for _ in range(settings.AXES_FAILURE_LIMIT - 2):
            assert login(api_client, STAFF, WRONG).status_code == 401
        assert admin_sign_in(browser, STAFF, WRONG, code="123456").status_code == 200

        last = admin_sign_in(browser, STAFF, WRONG, code="123456")

        assert_problem(last, 429, "locked_out")
        assert_problem(login(api_client, STAFF), 429, "locked_out")
        assert AccessAttempt.objects.values_list("username", flat=True).distinct().get() == STAFF

    def test_another_address_is_not_locked_out(self, browser, staff_device):
        self._fail_until_locked(browser, STAFF, password=WRONG, code="123456")

        response = admin_sign_in(
            Client(enforce_csrf_checks=True),
            STAFF,
            code=totp_code(staff_device),
            remote_addr="203.0.113.9",
        )

        assert response.status_code == 302, response.content


# 249 characters as typed, a valid address; lower-cased ("İ" becomes "i" and a combining
# dot) it has 489, longer than any stored address and than the lock-out's account column.
GROWS_WHEN_LOWERED = "a@" + ".".join(["İ" * 60] * 4) + ".com"


@pytest.mark.usefixtures("admin_enabled")
def test_an_address_too_long_once_lower_cased_is_a_form_error_not_a_500(browser, staff_device):
    assert len(GROWS_WHEN_LOWERED) <= 254 < len(GROWS_WHEN_LOWERED.lower())

    response = admin_sign_in(browser, GROWS_WHEN_LOWERED, code=totp_code(staff_device))

    assert response.status_code == 200, response.content
    assert "at most 254 characters" in response.content.decode()
    assert not _is_in_the_admin(browser)
    assert not AccessAttempt.objects.exists()
