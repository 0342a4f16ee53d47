"""Push devices: registration is idempotent by token, tokens are validated per platform,
stored hashed for look-up, and never sent back whole."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from integration.models import Device

pytestmark = pytest.mark.django_db

DEVICES = "/api/v1/devices/"
APNS = "a1b2c3d4" * 8
FCM = (
    "dXNlcjEyMzQ1Njc4OTA:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ-hQMRKRrZu"
    "JAEcl7B338qju59zJMjw2DELjzEvxwYv7hH5Ynpc1ODQ0aT4U4OFEeco8ohsN5PjL1iC2dNtk2BAokeM"
    "Cg2ZXKqpc8FXKmhX94kIxQ"
)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/c1KrmpTuRm0:APA91bE-endpoint-x9Q2",
    "expirationTime": None,
    "keys": {"p256dh": b64url(b"\x04" + bytes(range(64))), "auth": b64url(bytes(16))},
}


def register(client, platform: str, token):
    return client.post(DEVICES, {"platform": platform, "token": token}, format="json")


@pytest.mark.parametrize(
    ("platform", "token", "suffix"),
    [
        ("ios", APNS, "b2c3d4"),
        ("android", FCM, "94kIxQ"),
        ("web", SUBSCRIPTION, "t-x9Q2"),  # of the endpoint
    ],
)
def test_registering_a_device_twice_answers_the_same_one(
    patient, patient_client, platform, token, suffix
) -> None:
    first = register(patient_client, platform, token)
    second = register(patient_client, platform, token)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    body = first.json()
    assert set(body) == {"id", "platform", "token_suffix", "push_permission", "created_at"}
    assert body["token_suffix"] == suffix
    device = Device.objects.get(pk=body["id"])
    assert (device.user_id, device.platform, device.is_active) == (patient.pk, platform, True)
    assert device.token_hash == hashlib.sha256(device.token.encode()).hexdigest()
    assert Device.objects.filter(user=patient).count() == 1
    whole = token if isinstance(token, str) else token["endpoint"]
    assert whole not in first.content.decode()


def test_the_same_tokens_in_another_spelling_are_the_same_device(patient_client) -> None:
    ios = register(patient_client, "ios", APNS.upper())
    web = register(patient_client, "web", json.dumps(SUBSCRIPTION))

    assert register(patient_client, "ios", APNS).json()["id"] == ios.json()["id"]
    again = register(patient_client, "web", SUBSCRIPTION)
    assert (again.status_code, again.json()["id"]) == (200, web.json()["id"])


def bad_subscription(**changes):
    subscription = json.loads(json.dumps(SUBSCRIPTION))
    for key, value in changes.items():
        if key in ("p256dh", "auth"):
            subscription["keys"][key] = value
        else:
            subscription[key] = value
    return subscription


@pytest.mark.parametrize(
    ("platform", "token"),
    [
        ("ios", "a1b2c3"),  # too short
        ("ios", "z" * 64),  # not hex
        ("ios", {"endpoint": "https://example.org"}),
        ("android", ""),
        ("android", "has a space" * 10),
        ("android", "x" * 4097),
        ("web", "not json at all"),
        ("web", bad_subscription(endpoint="http://push.example.net/abc")),
        ("web", bad_subscription(endpoint="not a url")),
        ("web", bad_subscription(p256dh=b64url(b"\x04" + bytes(10)))),
        ("web", bad_subscription(auth="***")),
        ("web", {"endpoint": SUBSCRIPTION["endpoint"]}),
        ("blackberry", APNS),
    ],
)
def test_invalid_tokens_are_refused_without_repeating_them(
    patient, patient_client, platform, token
) -> None:
    response = register(patient_client, platform, token)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) <= {"token", "platform"}
    text = json.dumps(response.json())
    if isinstance(token, str) and len(token) >= 8:
        assert token not in text
    assert not Device.objects.filter(user=patient).exists()


FCM_SEND = "https://fcm.googleapis.com/fcm/send/"


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://push.example.net/abc",  # a host outside the allow-list
        "https://fcm.googleapis.com.example.net/fcm/send/abc",
        "https://notify.windows.com.evil.example/abc",
        "https://someone@fcm.googleapis.com/fcm/send/abc",
        FCM_SEND + "ab\u0000cd",  # a NUL
        FCM_SEND + "ab%00cd",  # an escaped NUL
        FCM_SEND + "ab%1fcd",
        FCM_SEND + "ab\u00e9cd",
        FCM_SEND + "ab\u007fcd",
    ],
)
def test_a_subscription_the_sender_would_never_call_is_refused_on_the_token(
    patient, patient_client, endpoint
) -> None:
    response = register(patient_client, "web", bad_subscription(endpoint=endpoint))

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert list(response.json()["errors"]) == ["token"]
    assert "push service" in response.json()["errors"]["token"][0]
    assert not Device.objects.filter(user=patient).exists()


def test_the_allow_list_of_the_sender_decides_which_endpoints_register(
    patient_client, settings
) -> None:
    endpoint = "https://push.example.net/abc"
    settings.WEBPUSH_ALLOWED_HOSTS = ["*.example.net"]

    response = register(patient_client, "web", bad_subscription(endpoint=endpoint))

    assert response.status_code == 201
    refused = register(patient_client, "web", bad_subscription(endpoint=FCM_SEND + "abc"))
    assert refused.status_code == 400


def test_listing_shows_only_my_active_devices(patient_client, other_client) -> None:
    mine = register(patient_client, "ios", APNS).json()
    retired = register(patient_client, "android", FCM).json()
    patient_client.delete(f"{DEVICES}{retired['id']}/")
    register(other_client, "ios", "ff" * 32)

    response = patient_client.get(DEVICES)

    assert response.status_code == 200
    assert response.json()["results"] == [mine]


def test_deleting_a_device_retires_it(patient_client) -> None:
    device = register(patient_client, "android", FCM).json()

    response = patient_client.delete(f"{DEVICES}{device['id']}/")

    assert response.status_code == 204
    retired = Device.objects.get(pk=device["id"])
    assert (retired.is_active, retired.retired_reason) == (False, "user")
    assert retired.retired_at is not None
    # Registering the token again is a new device; the old row stays as history.
    again = register(patient_client, "android", FCM)
    assert again.status_code == 201
    assert again.json()["id"] != device["id"]


def test_another_patients_device_is_not_found(patient_client, other_client) -> None:
    device = register(patient_client, "ios", APNS).json()

    response = other_client.delete(f"{DEVICES}{device['id']}/")

    assert response.status_code == 404
    assert Device.objects.get(pk=device["id"]).is_active is True


def test_a_token_registered_by_another_account_moves_to_the_new_one(
    patient, other_patient, patient_client, other_client
) -> None:
    # A shared phone: the first person signs out, the second signs in on it.
    theirs = register(other_client, "ios", APNS).json()

    mine = register(patient_client, "ios", APNS)

    assert mine.status_code == 201
    old = Device.objects.get(pk=theirs["id"])
    assert (old.is_active, old.retired_reason) == (False, "reassigned")
    assert Device.objects.get(pk=mine.json()["id"]).user_id == patient.pk
    assert other_client.get(DEVICES).json()["results"] == []


def test_only_patients_register_devices(therapist_client, api_client) -> None:
    assert register(therapist_client, "ios", APNS).status_code == 403
    assert api_client.get(DEVICES).status_code == 401
    assert not Device.objects.exists()


def test_the_admin_shows_devices_without_their_token(admin_client, patient_client) -> None:
    device = register(patient_client, "android", FCM).json()
    stored = Device.objects.get(pk=device["id"])

    listing = admin_client.get("/admin/integration/device/")
    page = admin_client.get(f"/admin/integration/device/{device['id']}/change/")

    assert (listing.status_code, page.status_code) == (200, 200)
    for text in (listing.content.decode(), page.content.decode()):
        assert FCM not in text
        assert stored.token_hash not in text
    refused = admin_client.post(
        f"/admin/integration/device/{device['id']}/delete/", {"post": "yes"}
    )
    assert refused.status_code == 403
    assert Device.objects.filter(pk=device["id"]).exists()
