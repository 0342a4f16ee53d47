"""Every way an account's sign-ins must end (sign out everywhere, a new password,
deactivation, erasure) ends all of them at once: device tokens and web (dashboard)
sessions, whether the session is used on the dashboard or on the API."""

from __future__ import annotations

import pytest
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.hashers import make_password
from django.test import Client

from backend.accounts import services
from backend.accounts.models import DeviceToken, User
from tests.accounts.factories import PASSWORD, issue_token
from tests.accounts.helpers import assert_problem, authorized
from tests.integration.dashboard.conftest import LOGIN_URL, PATIENTS_URL, signed_in_client

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "copper-meadow-signal-58"


class SignIns:
    """A therapist signed in four ways: a dashboard session used on the dashboard, another
    used on the API, a token on another device, and a token on the device that acts."""

    def __init__(self, therapist: User, device) -> None:
        self.therapist = therapist
        self.dashboard = signed_in_client(therapist, device)
        self.session_on_api = signed_in_client(therapist, device)
        self.laptop_token = issue_token(therapist, second_factor=True, name="laptop")
        self.acting_token = issue_token(therapist, second_factor=True, name="phone")

    def assert_all_work(self) -> None:
        assert self.dashboard.get(PATIENTS_URL).status_code == 200
        assert self.session_on_api.get("/api/v1/me/").status_code == 200
        assert authorized(self.laptop_token).get("/api/v1/me/").status_code == 200
        assert authorized(self.acting_token).get("/api/v1/me/").status_code == 200

    def assert_all_ended(self) -> None:
        page = self.dashboard.get(PATIENTS_URL)
        assert page.status_code == 302
        assert page["Location"].startswith(LOGIN_URL)
        assert_problem(self.session_on_api.get("/api/v1/me/"), 401, "not_authenticated")
        for token in (self.laptop_token, self.acting_token):
            assert_problem(authorized(token).get("/api/v1/me/"), 401, "authentication_failed")
        assert not DeviceToken.objects.filter(user=self.therapist).exists()


@pytest.fixture
def sign_ins(therapist, therapist_device) -> SignIns:
    signed_in = SignIns(therapist, therapist_device)
    signed_in.assert_all_work()
    return signed_in


def fresh(user: User) -> User:
    """The account as another request (the admin, a shell) would load it."""
    return User.objects.get(pk=user.pk)


def test_logout_all_ends_every_dashboard_session_and_token(sign_ins):
    response = authorized(sign_ins.acting_token).post("/api/v1/auth/logout-all/")

    assert response.status_code == 204
    sign_ins.assert_all_ended()


def test_logout_all_from_a_dashboard_session_ends_the_tokens_and_the_other_sessions(sign_ins):
    response = sign_ins.session_on_api.post("/api/v1/auth/logout-all/")

    assert response.status_code == 204
    sign_ins.assert_all_ended()


def test_logout_all_leaves_other_accounts_signed_in(sign_ins, patient):
    other = issue_token(patient)

    authorized(sign_ins.acting_token).post("/api/v1/auth/logout-all/")

    assert authorized(other).get("/api/v1/me/").status_code == 200


def test_deactivation_ends_everything_and_reactivation_revives_nothing(sign_ins):
    account = fresh(sign_ins.therapist)
    account.is_active = False
    account.save()

    account.is_active = True
    account.save()

    sign_ins.assert_all_ended()


def test_a_new_password_saved_any_way_ends_everything(sign_ins):
    account = fresh(sign_ins.therapist)
    account.set_password(NEW_PASSWORD)
    account.save()

    sign_ins.assert_all_ended()


def test_a_new_password_set_with_the_admin_form_ends_everything(sign_ins):
    form = AdminPasswordChangeForm(
        fresh(sign_ins.therapist), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert form.is_valid(), form.errors
    form.save()

    sign_ins.assert_all_ended()


def test_set_password_service_keeps_only_the_token_it_is_told_to_keep(sign_ins):
    kept = DeviceToken.objects.get(user=sign_ins.therapist, device_name="phone")

    services.user_set_password(
        user=fresh(sign_ins.therapist), password=NEW_PASSWORD, keep_token=kept
    )

    assert authorized(sign_ins.acting_token).get("/api/v1/me/").status_code == 200
    assert_problem(
        authorized(sign_ins.laptop_token).get("/api/v1/me/"), 401, "authentication_failed"
    )
    assert sign_ins.dashboard.get(PATIENTS_URL).status_code == 302
    assert_problem(sign_ins.session_on_api.get("/api/v1/me/"), 401, "not_authenticated")


def test_erasure_ends_everything(sign_ins):
    response = authorized(sign_ins.acting_token).delete(
        "/api/v1/me/", {"password": PASSWORD}, format="json"
    )

    assert response.status_code == 204, response.content
    sign_ins.assert_all_ended()


def test_an_instance_loaded_before_logout_all_does_not_revive_sessions_when_saved(sign_ins):
    loaded_earlier = fresh(sign_ins.therapist)
    authorized(sign_ins.acting_token).post("/api/v1/auth/logout-all/")

    loaded_earlier.display_name = "Dr Berg-Lund"
    loaded_earlier.save()

    sign_ins.assert_all_ended()
    assert fresh(sign_ins.therapist).display_name == "Dr Berg-Lund"


def test_a_password_hash_upgraded_at_sign_in_ends_nothing(settings, patient):
    # Given a password stored under a hasher that is no longer the preferred one
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    patient.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    patient.save(update_fields=["password"])
    phone = issue_token(patient)

    # When a sign-in checks it, Django stores it again under the preferred hasher
    response = Client().post(
        "/api/v1/auth/login/",
        {"email": patient.email, "password": PASSWORD},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert fresh(patient).password.startswith("md5$")
    assert authorized(phone).get("/api/v1/me/").status_code == 200


def test_saving_other_fields_ends_nothing(sign_ins):
    account = fresh(sign_ins.therapist)
    account.display_name = "Dr Berg-Lund"
    account.save()

    sign_ins.assert_all_work()
