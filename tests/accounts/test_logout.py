"""POST /api/v1/auth/logout/ and /logout-all/: revoked tokens stop working at once."""

from __future__ import annotations

import pytest

from backend.accounts.models import DeviceToken
from tests.accounts.factories import PatientFactory, issue_token
from tests.accounts.helpers import assert_problem, authorized

pytestmark = pytest.mark.django_db


def test_logout_revokes_only_this_token(patient):
    phone, tablet = issue_token(patient, name="phone"), issue_token(patient, name="tablet")

    response = authorized(phone).post("/api/v1/auth/logout/")

    assert response.status_code == 204
    assert_problem(authorized(phone).get("/api/v1/me/"), 401, "authentication_failed")
    assert authorized(tablet).get("/api/v1/me/").status_code == 200


def test_logout_all_revokes_every_token_of_the_user_only(patient):
    phone, tablet = issue_token(patient), issue_token(patient)
    other = issue_token(PatientFactory.create())

    response = authorized(phone).post("/api/v1/auth/logout-all/")

    assert response.status_code == 204
    assert_problem(authorized(phone).get("/api/v1/me/"), 401, "authentication_failed")
    assert_problem(authorized(tablet).get("/api/v1/me/"), 401, "authentication_failed")
    assert not DeviceToken.objects.filter(user=patient).exists()
    assert authorized(other).get("/api/v1/me/").status_code == 200


def test_logout_without_a_token_is_refused(api_client, patient):
    issue_token(patient)

    response = api_client.post("/api/v1/auth/logout/")

    assert_problem(response, 401, "not_authenticated")
    assert DeviceToken.objects.count() == 1


def test_logout_ends_a_web_session(api_client, patient):
    # Given a dashboard session (CSRF is not enforced by the test client)
    api_client.force_login(patient)
    assert api_client.get("/api/v1/me/").status_code == 200

    response = api_client.post("/api/v1/auth/logout/")

    assert response.status_code == 204
    assert_problem(api_client.get("/api/v1/me/"), 401, "not_authenticated")
