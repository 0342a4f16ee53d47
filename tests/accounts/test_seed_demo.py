"""`manage.py seed_demo`: demo sign-ins, safe to run again."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.management.commands import seed_demo
from backend.accounts.models import Role, User
from tests.accounts.helpers import authorized, login

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def test_prints_working_sign_ins(api_client, debug):
    output = seed()

    assert seed_demo.PATIENT_EMAIL in output
    assert seed_demo.PATIENT_PASSWORD in output
    assert seed_demo.THERAPIST_EMAIL in output
    assert seed_demo.THERAPIST_PASSWORD in output
    secret_line = re.search(r"TOTP secret .*: ([A-Z2-7=]+)", output)
    code_line = re.search(r"current code: (\d{6})", output)
    assert secret_line is not None
    assert code_line is not None
    secret, code = secret_line.group(1), code_line.group(1)
    device = TOTPDevice.objects.get(user__email=seed_demo.THERAPIST_EMAIL)
    assert device.confirmed is True
    assert secret in device.config_url

    patient = login(api_client, seed_demo.PATIENT_EMAIL, seed_demo.PATIENT_PASSWORD)
    therapist = login(api_client, seed_demo.THERAPIST_EMAIL, seed_demo.THERAPIST_PASSWORD, otp=code)

    assert patient.status_code == 200, patient.content
    assert therapist.status_code == 200, therapist.content
    assert authorized(therapist.json()["token"]).get("/api/v1/me/").json()["role"] == "therapist"


def test_running_again_changes_nothing_but_resets_the_passwords(api_client, debug):
    seed()
    first_users = set(User.objects.values_list("id", "email", "role"))
    first_key = TOTPDevice.objects.get().key
    patient = User.objects.get(email=seed_demo.PATIENT_EMAIL)
    patient.set_password("changed-by-someone-1")
    patient.save()

    seed()

    assert set(User.objects.values_list("id", "email", "role")) == first_users
    assert {role for _, _, role in first_users} == {Role.PATIENT, Role.THERAPIST}
    assert TOTPDevice.objects.get().key == first_key
    assert login(api_client, seed_demo.PATIENT_EMAIL, seed_demo.PATIENT_PASSWORD).status_code == 200


def test_refuses_to_run_without_debug(settings):
    settings.DEBUG = False

    refusal = (
        "seed_demo creates accounts with published passwords; it runs only with DEBUG=true "
        "(or --allow-without-debug on a demo server)."
    )
    with pytest.raises(CommandError) as refused:
        seed()

    assert str(refused.value) == refusal
    assert not User.objects.exists()
