"""A sign-in and the push registration made under it are one device: signing it out,
revoking it, logout-all, a new password, deactivation, an expired token and erasure
retire its push in the same transaction; the devices list shows each sign-in's push."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from knox.settings import knox_settings

from backend.accounts import operations, services
from backend.accounts.models import DeviceToken
from integration.delivery import selectors
from integration.delivery.dispatch import prompts_claim_due, prompts_deliver
from integration.delivery.sync import patient_sync_push
from integration.models import Device, Prompt
from tests.accounts.factories import PASSWORD, PatientFactory, issue_token
from tests.accounts.helpers import assert_problem, authorized
from tests.integration.counting_provider import read_log
from tests.integration.delivery_data import make_prompts

pytestmark = pytest.mark.django_db

DEVICES = "/api/v1/devices/"


def apns(number: int) -> str:
    return f"{number:02d}" * 32


@pytest.fixture
def anna(db):
    return PatientFactory.create(email="anna@example.org")


def phone(user, number: int):
    """A signed-in phone that registered for pushes: its client and its push device."""
    client = authorized(issue_token(user, name=f"phone {number}"))
    response = client.post(DEVICES, {"platform": "ios", "token": apns(number)}, format="json")
    assert response.status_code == 201, response.content
    return client, Device.objects.get(pk=response.json()["id"])


def is_active(device: Device) -> bool:
    device.refresh_from_db()
    return device.is_active


def test_the_devices_list_shows_each_sign_in_with_its_push(anna):
    client, device = phone(anna, 1)
    issue_token(anna, name="tablet without pushes")

    listed = {item["name"]: item for item in client.get("/api/v1/auth/devices/").json()["results"]}

    assert listed["phone 1"]["push"]["id"] == str(device.pk)
    assert listed["phone 1"]["push"]["platform"] == "ios"
    assert listed["tablet without pushes"]["push"] is None


def test_signing_out_retires_that_devices_push_only(anna):
    client, device = phone(anna, 1)
    _, other = phone(anna, 2)

    assert client.post("/api/v1/auth/logout/").status_code == 204

    assert not is_active(device)
    assert device.retired_reason == "signed_out"
    assert is_active(other)


def test_revoking_a_device_retires_its_push(anna):
    client, device = phone(anna, 1)
    _, other = phone(anna, 2)
    key = DeviceToken.objects.get(device_name="phone 2").token_key

    assert client.delete(f"/api/v1/auth/devices/{key}/").status_code == 204

    assert not is_active(other)
    assert is_active(device)


def test_logout_all_retires_every_push_including_ones_made_before_devices_had_sign_ins(anna):
    client, device = phone(anna, 1)
    legacy = Device.objects.create(user=anna, platform="ios", token=apns(9), token_hash="9" * 64)

    assert client.post("/api/v1/auth/logout-all/").status_code == 204

    assert not is_active(device)
    assert not is_active(legacy)


def test_a_password_change_keeps_this_devices_push_and_retires_the_others(anna):
    client, device = phone(anna, 1)
    _, other = phone(anna, 2)

    response = client.post(
        "/api/v1/auth/password/change/",
        {"current_password": PASSWORD, "new_password": "amber-meadow-quiet-river-84"},
    )

    assert response.status_code == 204
    assert is_active(device)
    assert not is_active(other)


def test_a_reset_password_retires_every_push(anna):
    _, device = phone(anna, 1)

    services.user_set_password(user=anna, password="amber-meadow-quiet-river-84")

    assert not is_active(device)


def test_deactivation_retires_every_push(anna):
    _, device = phone(anna, 1)

    operations.account_deactivate(user=anna)

    assert not is_active(device)


def test_an_expired_sign_in_retires_its_push(anna, settings):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client, device = phone(anna, 1)
        clock.shift(timedelta(days=settings.PATIENT_TOKEN_IDLE_DAYS, minutes=1))

        assert_problem(client.get("/api/v1/me/"), 401, "authentication_failed")

    assert not is_active(device)


def test_a_phone_whose_sign_in_expired_unused_is_pushed_nothing(anna, settings, push_log):
    # A phone put away: its sign-in expires without it ever asking again, while the
    # patient goes on with another phone.
    _, put_away = phone(anna, 1)
    _, in_use = phone(anna, 2)
    DeviceToken.objects.filter(pk=put_away.sign_in_id).update(
        expiry=timezone.now() - timedelta(minutes=1)
    )
    prompt = make_prompts(1, patients=1, tokens=())[0]
    Prompt.objects.filter(pk=prompt.pk).update(patient=anna)

    claims = prompts_claim_due(now=timezone.now(), batch_size=10, lease=timedelta(minutes=2))
    prompts_deliver(claims=[(str(p), str(c)) for p, c in claims])
    synced = patient_sync_push(patient_id=str(anna.pk))

    assert [push.device_id for push in read_log(push_log)] == [str(in_use.pk)] * 2
    assert synced == 1
    assert selectors.patient_is_push_capable(patient=anna)
    DeviceToken.objects.filter(pk=in_use.sign_in_id).update(
        expiry=timezone.now() - timedelta(minutes=1)
    )
    assert not selectors.patient_is_push_capable(patient=anna)


def test_a_sign_in_beyond_the_limit_retires_the_pushes_of_the_sign_ins_it_replaces(anna):
    _, oldest = phone(anna, 1)
    for number in range(knox_settings.TOKEN_LIMIT_PER_USER - 1):
        issue_token(anna, name=f"more {number}")

    services.device_token_create(user=anna, device_name="newest")

    assert not is_active(oldest)


def test_the_same_push_token_from_a_new_sign_in_moves_to_it(anna):
    first, device = phone(anna, 1)
    second = authorized(issue_token(anna, name="after a reinstall"))
    again = second.post(DEVICES, {"platform": "ios", "token": apns(1)}, format="json")
    assert again.status_code == 200

    first.post("/api/v1/auth/logout/")

    assert is_active(device)
    assert device.sign_in_id == DeviceToken.objects.get(device_name="after a reinstall").digest


def test_a_new_push_token_of_a_sign_in_replaces_its_old_one(anna):
    # The system gave the app a new token (FCM refreshes them, APNs after a restore): the
    # phone is still one device, pushed to once, under its new token.
    client, old = phone(anna, 1)

    again = client.post(DEVICES, {"platform": "ios", "token": apns(2)}, format="json")

    assert again.status_code == 201
    assert not is_active(old)
    assert old.retired_reason == "replaced"
    listed = client.get(DEVICES).json()["results"]
    assert [item["id"] for item in listed] == [again.json()["id"]]


def test_the_retirement_rolls_back_with_the_sign_out(anna):
    _, device = phone(anna, 1)

    def sign_out_then_fail() -> None:
        with transaction.atomic():
            services.user_end_all_sessions(user=anna)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        sign_out_then_fail()

    assert is_active(device)
    assert DeviceToken.objects.filter(user=anna).exists()


def test_erasure_by_a_declared_post_deletes_the_push_registrations(anna):
    client, _ = phone(anna, 1)

    response = client.post("/api/v1/me/erase/", {"password": PASSWORD}, format="json")

    assert response.status_code == 204, response.content
    assert not Device.objects.filter(user=anna).exists()
    assert_problem(client.get("/api/v1/me/"), 401, "authentication_failed")


def test_erasure_by_post_needs_the_password(anna):
    client, device = phone(anna, 1)

    response = client.post("/api/v1/me/erase/", {"password": "not-the-password-1"}, format="json")

    assert_problem(response, 400, "validation")
    assert is_active(device)
