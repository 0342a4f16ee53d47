"""The push providers against local fakes of Google OAuth + FCM, APNs and a Web Push service.

Every fake verifies the credentials it receives (JWT signatures against the test keys) and
records what it got, so the tests can check the exact payload: generic text and a prompt id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from integration.delivery.dispatch import prompts_claim_due, prompts_deliver
from integration.models import Device, Platform
from integration.providers.apns import ApnsProvider
from integration.providers.base import (
    GENERIC_BODY,
    GENERIC_TITLE,
    Outcome,
    Provider,
    PushMessage,
    SendResult,
    provider_for,
    send_now,
)
from integration.providers.console import ConsoleProvider
from integration.providers.fcm import FcmProvider
from integration.providers.http import PushResponse, PushTransport
from integration.providers.loop import push_loop
from integration.providers.noop import NoopProvider
from integration.providers.webpush import WebPushProvider
from tests.integration.delivery_data import make_prompts
from tests.integration.fakes.apns import FakeApns
from tests.integration.fakes.fcm import FakeFcm, write_service_account
from tests.integration.fakes.h2server import Faults, H2Server
from tests.integration.fakes.keys import KeyPair, p256_key, p256_private_raw, rsa_key
from tests.integration.fakes.server import LocalServer, Request, Response
from tests.integration.fakes.webpush import FakePushService

PROJECT_ID = "afterglow-test"
CLIENT_EMAIL = "push@afterglow-test.iam.gserviceaccount.com"
KEY_ID = "ABC123DEFG"
TEAM_ID = "DEF123GHIJ"
TOPIC = "org.afterglow.app"


def a_device(platform: str, token: str) -> Device:
    return Device(id=uuid.uuid4(), platform=platform, token=token)


def a_message(badge: int | None = None) -> PushMessage:
    return PushMessage(prompt_id=str(uuid.uuid4()), badge=badge)


def send_again_after(provider: Provider, device: Device, change: Callable[[], None]) -> SendResult:
    """Sends one push, makes `change` at the service, and returns what a second push got."""
    send_now(provider, device, a_message())
    change()
    return send_now(provider, device, a_message())


@pytest.fixture
def serve() -> Iterator[Callable[[], LocalServer]]:
    servers: list[LocalServer] = []

    def make() -> LocalServer:
        servers.append(LocalServer())
        return servers[-1]

    yield make
    for server in servers:
        server.stop()
        assert not server.errors, server.errors


@pytest.fixture
def silent_url() -> Iterator[str]:
    """An address that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def refused_url() -> str:
    """An address where nothing listens."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# FCM


@pytest.fixture(scope="session")
def service_account_key() -> KeyPair:
    return rsa_key()


def service_account(path: Path, key: KeyPair, token_uri: str) -> str:
    return write_service_account(
        path,
        project_id=PROJECT_ID,
        client_email=CLIENT_EMAIL,
        private_pem=key.private_pem,
        token_uri=token_uri,
    )


def point_fcm_at(fake: FakeFcm, settings, tmp_path: Path, key: KeyPair) -> None:
    """Settings that send to `fake`, signing in with `key`'s service account."""
    settings.FCM_CREDENTIALS_FILE = service_account(
        tmp_path / "service-account.json", key, fake.token_uri
    )
    settings.FCM_BASE_URL = fake.base_url


@pytest.fixture
def fcm(serve, settings, tmp_path, service_account_key) -> FakeFcm:
    server = serve()
    fake = FakeFcm(
        base_url=server.url,
        project_id=PROJECT_ID,
        client_email=CLIENT_EMAIL,
        public_pem=service_account_key.public_pem,
    )
    server.start(fake.handle)
    point_fcm_at(fake, settings, tmp_path, service_account_key)
    return fake


@pytest.fixture
def fcm_provider(fcm) -> Iterator[FcmProvider]:
    with closing(FcmProvider()) as provider:
        yield provider


def test_fcm_delivers_only_the_generic_text_and_what_the_app_routes_by(fcm, fcm_provider):
    device = a_device(Platform.ANDROID, "fcm-token-" + secrets.token_urlsafe(40))
    message = a_message(badge=3)

    result = send_now(fcm_provider, device, message)

    assert result.outcome is Outcome.DELIVERED
    assert result.status_code == 200
    [(_, body)] = fcm.sends
    assert body == {
        "message": {
            "token": device.token,
            "notification": {"title": GENERIC_TITLE, "body": GENERIC_BODY},
            "data": {
                "type": "prompt",
                "prompt_id": message.prompt_id,
                "link": f"/prompts/{message.prompt_id}",
                "badge": "3",
            },
            "android": {
                "priority": "high",
                "ttl": "86400s",
                "notification": {
                    "tag": message.prompt_id,
                    "channel_id": "prompts",
                    "notification_count": 3,
                },
            },
        }
    }


def test_fcm_sync_push_is_data_only(fcm, fcm_provider):
    device = a_device(Platform.ANDROID, "fcm-token-" + secrets.token_urlsafe(40))

    result = send_now(fcm_provider, device, PushMessage.sync())

    assert result.outcome is Outcome.DELIVERED
    [(_, body)] = fcm.sends
    assert body == {
        "message": {
            "token": device.token,
            "data": {"type": "sync"},
            "android": {"priority": "normal", "collapse_key": "sync"},
        }
    }


def test_fcm_uses_one_access_token_for_many_sends(fcm, fcm_provider):
    for number in range(5):
        send_now(fcm_provider, a_device(Platform.ANDROID, f"token-{number}"), a_message())

    assert len(fcm.assertions) == 1
    assert len({access_token for access_token, _ in fcm.sends}) == 1
    assert len(fcm.sends) == 5
    [claims] = fcm.assertions
    assert claims["iss"] == CLIENT_EMAIL
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"


def test_fcm_pushes_in_flight_at_once_share_one_access_token(fcm, fcm_provider):
    async def together() -> list[SendResult]:
        return await asyncio.gather(
            *(
                fcm_provider.send(a_device(Platform.ANDROID, f"token-{number}"), a_message())
                for number in range(8)
            )
        )

    results = push_loop().run(together())

    assert [result.outcome for result in results] == [Outcome.DELIVERED] * 8
    assert len(fcm.assertions) == 1


def test_fcm_fetches_a_new_access_token_shortly_before_it_expires(fcm, fcm_provider):
    device = a_device(Platform.ANDROID, "token")
    with time_machine.travel(time.time(), tick=True) as traveller:
        send_now(fcm_provider, device, a_message())
        traveller.shift(fcm.expires_in - 600)
        send_now(fcm_provider, device, a_message())
        assert len(fcm.assertions) == 1

        traveller.shift(400)
        result = send_now(fcm_provider, device, a_message())

    assert result.outcome is Outcome.DELIVERED
    assert len(fcm.assertions) == 2


def test_fcm_replaces_a_rejected_access_token_once(fcm, fcm_provider):
    device = a_device(Platform.ANDROID, "token")

    result = send_again_after(fcm_provider, device, fcm.revoke_access_tokens)

    assert result.outcome is Outcome.DELIVERED
    assert len(fcm.assertions) == 2


def test_fcm_fails_when_a_fresh_access_token_is_rejected_too(fcm, fcm_provider):
    device = a_device(Platform.ANDROID, "token")

    def refuse_every_access_token() -> None:
        fcm.accepts_access_tokens = False

    result = send_again_after(fcm_provider, device, refuse_every_access_token)

    assert result.outcome is Outcome.FAILED
    assert result.status_code == 401
    assert len(fcm.assertions) == 2


@pytest.mark.parametrize(
    ("answer", "status_code", "retry_after"),
    [("unavailable", 503, 7.0), ("quota", 429, 30.0)],
)
def test_fcm_overload_is_transient_with_the_retry_after(
    fcm, fcm_provider, answer, status_code, retry_after
):
    fcm.answers["token"] = answer

    result = send_now(fcm_provider, a_device(Platform.ANDROID, "token"), a_message())

    assert result.outcome is Outcome.TRANSIENT
    assert result.status_code == status_code
    assert result.retry_after == retry_after


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ("unregistered", Outcome.UNREGISTERED),
        ("invalid_token", Outcome.UNREGISTERED),
        ("invalid_payload", Outcome.FAILED),
    ],
)
def test_fcm_retires_only_dead_tokens(fcm, fcm_provider, answer, outcome):
    fcm.answers["token"] = answer

    result = send_now(fcm_provider, a_device(Platform.ANDROID, "token"), a_message())

    assert result.outcome is outcome


def test_fcm_quota_exceeded_pauses_this_process_until_retry_after(fcm, fcm_provider):
    fcm.answers["busy"] = "quota_briefly"  # 429 QUOTA_EXCEEDED, Retry-After: 1
    first = send_now(fcm_provider, a_device(Platform.ANDROID, "busy"), a_message())
    sent_so_far = len(fcm.sends)

    turned_away = send_now(fcm_provider, a_device(Platform.ANDROID, "other"), a_message())

    assert (first.outcome, first.status_code, first.retry_after) == (Outcome.TRANSIENT, 429, 1)
    assert (turned_away.outcome, turned_away.was_sent) == (Outcome.TRANSIENT, False)
    assert 0 < (turned_away.retry_after or 0) <= 1
    assert len(fcm.sends) == sent_so_far  # no request while paused
    time.sleep(1.05)
    later = send_now(fcm_provider, a_device(Platform.ANDROID, "other"), a_message())
    assert (later.outcome, later.was_sent) == (Outcome.DELIVERED, True)


def test_apns_too_many_requests_holds_back_only_that_device(apns, apns_provider):
    busy, other = an_apns_token(), an_apns_token()
    apns.answers[busy] = "throttled"  # 429 TooManyRequests: about one device token

    first = send_now(apns_provider, a_device(Platform.IOS, busy), a_message())
    second = send_now(apns_provider, a_device(Platform.IOS, other), a_message())

    assert (first.outcome, first.status_code) == (Outcome.TRANSIENT, 429)
    assert (second.outcome, second.was_sent) == (Outcome.DELIVERED, True)


def test_fcm_sends_at_once_over_one_connection_within_its_bound(
    settings, tmp_path, service_account_key
):
    settings.FCM_MAX_IN_FLIGHT = 4
    fake = FakeFcm(base_url="", project_id=PROJECT_ID, client_email=CLIENT_EMAIL, public_pem="")
    server = H2Server(fake.handle, faults=Faults(latency=0.2))
    fake.base_url, fake.public_pem = server.url, service_account_key.public_pem
    server.start()
    point_fcm_at(fake, settings, tmp_path, service_account_key)
    provider = FcmProvider()

    async def together() -> list[SendResult]:
        sends = [provider.send(a_device(Platform.ANDROID, f"t{n}"), a_message()) for n in range(12)]
        return await asyncio.gather(*sends)

    started = time.monotonic()
    try:
        results = push_loop().run(together())
    finally:
        provider.close()
        server.stop()
    elapsed = time.monotonic() - started

    assert {result.outcome for result in results} == {Outcome.DELIVERED}
    assert server.connections == 1  # every push a stream of one HTTP/2 connection
    assert server.most_in_flight == 4
    # The token, then twelve pushes four at a time: four rounds of 0.2 s, not thirteen.
    assert 0.8 <= elapsed < 2.0


def test_fcm_fails_when_google_rejects_the_service_account_signature(fcm, settings, tmp_path):
    settings.FCM_CREDENTIALS_FILE = service_account(
        tmp_path / "other.json", rsa_key(), fcm.token_uri
    )
    provider = FcmProvider()

    result = send_now(provider, a_device(Platform.ANDROID, "token"), a_message())
    provider.close()

    assert result.outcome is Outcome.FAILED
    assert fcm.rejected_assertions == 1
    assert fcm.sends == []


def test_fcm_unreachable_is_transient(fcm, settings, refused_url):
    settings.FCM_BASE_URL = refused_url
    provider = FcmProvider()

    result = send_now(provider, a_device(Platform.ANDROID, "token"), a_message())
    provider.close()

    assert result.outcome is Outcome.TRANSIENT


def test_fcm_refuses_to_start_without_credentials(settings):
    settings.FCM_CREDENTIALS_FILE = ""

    with pytest.raises(ImproperlyConfigured, match="FCM_CREDENTIALS_FILE"):
        FcmProvider()


# APNs


@pytest.fixture
def apns_key() -> KeyPair:
    return p256_key()


@pytest.fixture
def apns(serve, settings, tmp_path, apns_key) -> FakeApns:
    server = serve()
    fake = FakeApns(key_id=KEY_ID, team_id=TEAM_ID, topic=TOPIC, public_pem=apns_key.public_pem)
    server.start(fake.handle)
    key_file = tmp_path / f"AuthKey_{KEY_ID}.p8"
    key_file.write_text(apns_key.private_pem)
    settings.APNS_KEY_FILE = str(key_file)
    settings.APNS_KEY_ID = KEY_ID
    settings.APNS_TEAM_ID = TEAM_ID
    settings.APNS_TOPIC = TOPIC
    settings.APNS_BASE_URL = server.url
    return fake


@pytest.fixture
def apns_provider(apns) -> Iterator[ApnsProvider]:
    with closing(ApnsProvider()) as provider:
        yield provider


def an_apns_token() -> str:
    return secrets.token_hex(32)


def test_apns_delivers_only_the_generic_text_and_what_the_app_routes_by(apns, apns_provider):
    device = a_device(Platform.IOS, an_apns_token())
    message = a_message(badge=2)

    result = send_now(apns_provider, device, message)

    assert result.outcome is Outcome.DELIVERED
    assert result.status_code == 200
    [request] = apns.requests
    assert request.http_version == "2"
    assert request.path == f"/3/device/{device.token}"
    assert request.json() == {
        "aps": {
            "alert": {"title": GENERIC_TITLE, "body": GENERIC_BODY},
            "sound": "default",
            "badge": 2,
            "category": "PROMPT",
            "thread-id": "prompts",
        },
        "type": "prompt",
        "prompt_id": message.prompt_id,
        "link": f"/prompts/{message.prompt_id}",
    }
    assert request.headers["apns-topic"] == TOPIC
    assert request.headers["apns-push-type"] == "alert"
    assert request.headers["apns-priority"] == "10"
    assert int(request.headers["apns-expiration"]) > time.time()
    assert request.headers["apns-collapse-id"] == message.prompt_id


def test_apns_sync_push_is_a_background_push_with_nothing_to_show(apns, apns_provider):
    device = a_device(Platform.IOS, an_apns_token())

    result = send_now(apns_provider, device, PushMessage.sync())

    assert result.outcome is Outcome.DELIVERED
    [request] = apns.requests
    assert request.json() == {"aps": {"content-available": 1}, "type": "sync"}
    assert request.headers["apns-push-type"] == "background"
    assert request.headers["apns-priority"] == "5"
    assert request.headers["apns-collapse-id"] == "sync"


def test_apns_reuses_the_provider_token_and_renews_it_after_50_minutes(apns, apns_provider):
    device = a_device(Platform.IOS, an_apns_token())
    with time_machine.travel(time.time(), tick=True) as traveller:
        send_now(apns_provider, device, a_message())
        traveller.shift(49 * 60)
        send_now(apns_provider, device, a_message())
        traveller.shift(2 * 60)
        result = send_now(apns_provider, device, a_message())

    assert result.outcome is Outcome.DELIVERED
    first, second, third = (r.headers["authorization"] for r in apns.requests)
    assert first == second
    assert third != first
    issued = [
        jwt.decode(a.split()[1], options={"verify_signature": False})["iat"] for a in (first, third)
    ]
    assert issued[1] - issued[0] >= 50 * 60


def test_apns_renews_an_expired_provider_token_once(apns, apns_provider):
    device = a_device(Platform.IOS, an_apns_token())

    result = send_again_after(apns_provider, device, apns.expire_provider_tokens)

    assert result.outcome is Outcome.DELIVERED
    assert apns.rejected == ["ExpiredProviderToken"]
    assert len(apns.requests) == 2


@pytest.mark.parametrize(
    ("answer", "outcome", "status_code"),
    [
        ("unregistered", Outcome.UNREGISTERED, 410),
        ("bad_token", Outcome.UNREGISTERED, 400),
        ("not_for_topic", Outcome.FAILED, 400),
        ("throttled", Outcome.TRANSIENT, 429),
        ("unavailable", Outcome.TRANSIENT, 503),
        ("internal", Outcome.TRANSIENT, 500),
        ("payload_too_large", Outcome.FAILED, 413),
    ],
)
def test_apns_maps_apples_answers(apns, apns_provider, answer, outcome, status_code):
    device = a_device(Platform.IOS, an_apns_token())
    apns.answers[device.token] = answer

    result = send_now(apns_provider, device, a_message())

    assert (result.outcome, result.status_code) == (outcome, status_code)


def test_apns_wrong_topic_fails_without_retiring_the_device(apns, settings):
    settings.APNS_TOPIC = "org.example.other"
    provider = ApnsProvider()

    result = send_now(provider, a_device(Platform.IOS, an_apns_token()), a_message())
    provider.close()

    assert result.outcome is Outcome.FAILED
    assert apns.rejected == ["TopicDisallowed"]


def test_apns_refuses_a_token_that_is_not_hex_without_a_request(apns, apns_provider):
    result = send_now(apns_provider, a_device(Platform.IOS, "../../../x" + "0" * 64), a_message())

    assert result.outcome is Outcome.UNREGISTERED
    assert apns.requests == []
    assert apns.rejected == []


def test_apns_timeout_is_transient(apns, settings, silent_url):
    settings.APNS_BASE_URL = silent_url
    settings.PUSH_TIMEOUT_SECONDS = 0.3
    provider = ApnsProvider()

    started = time.monotonic()
    result = send_now(provider, a_device(Platform.IOS, an_apns_token()), a_message())
    provider.close()

    assert result.outcome is Outcome.TRANSIENT
    assert time.monotonic() - started < 3


# Web Push


@pytest.fixture(scope="session")
def vapid_key() -> KeyPair:
    return p256_key()


def sign_webpush_with(settings, tmp_path: Path, key: KeyPair) -> None:
    """Settings that sign with `key` and send to push services on 127.0.0.1."""
    key_file = tmp_path / "vapid_private.pem"
    key_file.write_text(key.private_pem)
    settings.VAPID_PRIVATE_KEY = str(key_file)
    settings.VAPID_SUBJECT = "mailto:push@afterglow.example"
    settings.WEBPUSH_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def push_service(serve, settings, tmp_path, vapid_key) -> FakePushService:
    server = serve()
    fake = FakePushService(base_url=server.url, vapid_public_key=vapid_key.public_raw)
    server.start(fake.handle)
    sign_webpush_with(settings, tmp_path, vapid_key)
    return fake


@pytest.fixture
def webpush_provider(push_service) -> Iterator[WebPushProvider]:
    with closing(WebPushProvider()) as provider:
        yield provider


def test_webpush_delivers_only_the_generic_text_and_the_prompt_id_encrypted(
    push_service, webpush_provider
):
    message = a_message(badge=1)

    result = send_now(webpush_provider, a_device(Platform.WEB, push_service.subscribe()), message)

    assert result.outcome is Outcome.DELIVERED
    assert result.status_code == 201
    [delivery] = push_service.deliveries
    assert delivery.payload == {
        "type": "prompt",
        "title": GENERIC_TITLE,
        "body": GENERIC_BODY,
        "prompt_id": message.prompt_id,
        "link": f"/prompts/{message.prompt_id}",
        "tag": message.prompt_id,
        "badge": 1,
    }
    assert message.prompt_id.encode() not in delivery.encrypted
    assert delivery.headers["content-encoding"] == "aes128gcm"
    assert int(delivery.headers["ttl"]) > 0
    assert len(delivery.headers["topic"]) == 32
    assert message.prompt_id not in delivery.headers["topic"]
    assert delivery.claims["sub"] == "mailto:push@afterglow.example"


@pytest.mark.parametrize("form", ["pem", "raw"])
def test_webpush_reads_the_vapid_key_as_pem_or_raw_base64url(
    push_service, settings, vapid_key, form
):
    settings.VAPID_PRIVATE_KEY = (
        vapid_key.private_pem if form == "pem" else p256_private_raw(vapid_key)
    )
    provider = WebPushProvider()

    result = send_now(provider, a_device(Platform.WEB, push_service.subscribe()), a_message())
    provider.close()

    assert result.outcome is Outcome.DELIVERED


def test_webpush_keeps_to_its_bound_at_each_push_service_and_serves_them_together(
    settings, tmp_path, vapid_key
):
    settings.WEBPUSH_MAX_IN_FLIGHT_PER_HOST = 3
    services = []
    for _ in range(2):
        server = LocalServer(latency=0.2)
        fake = FakePushService(base_url=server.url, vapid_public_key=vapid_key.public_raw)
        server.start(fake.handle)
        services.append((server, fake))
    sign_webpush_with(settings, tmp_path, vapid_key)
    provider = WebPushProvider()
    devices = [a_device(Platform.WEB, fake.subscribe()) for _, fake in services for _ in range(9)]

    async def all_at_once() -> list[SendResult]:
        return await asyncio.gather(*(provider.send(device, a_message()) for device in devices))

    started = time.monotonic()
    try:
        results = push_loop().run(all_at_once())
    finally:
        provider.close()
        for server, _ in services:
            server.stop()
    elapsed = time.monotonic() - started

    assert {result.outcome for result in results} == {Outcome.DELIVERED}
    assert [server.most_in_flight for server, _ in services] == [3, 3]
    # Nine pushes three at a time take three rounds of 0.2 s at each service, the two
    # services at once: not six rounds.
    assert 0.6 <= elapsed < 1.1


def test_webpush_sends_no_silent_push_to_a_browser(push_service, webpush_provider):
    result = send_now(
        webpush_provider, a_device(Platform.WEB, push_service.subscribe()), PushMessage.sync()
    )

    assert (result.outcome, result.was_sent) == (Outcome.FAILED, False)
    assert push_service.deliveries == []


def test_webpush_signs_one_vapid_token_per_push_service(push_service, webpush_provider):
    for _ in range(3):
        send_now(webpush_provider, a_device(Platform.WEB, push_service.subscribe()), a_message())

    assert len({d.headers["authorization"] for d in push_service.deliveries}) == 1


@pytest.mark.parametrize(
    ("answer", "outcome", "status_code", "retry_after"),
    [
        ("gone", Outcome.UNREGISTERED, 410, None),
        ("not_found", Outcome.UNREGISTERED, 404, None),
        ("throttled", Outcome.TRANSIENT, 429, 12.0),
        ("error", Outcome.TRANSIENT, 500, None),
        ("too_large", Outcome.FAILED, 413, None),
    ],
)
def test_webpush_maps_the_push_services_answers(
    push_service, webpush_provider, answer, outcome, status_code, retry_after
):
    device = a_device(Platform.WEB, push_service.subscribe(answer))

    result = send_now(webpush_provider, device, a_message())

    assert (result.outcome, result.status_code, result.retry_after) == (
        outcome,
        status_code,
        retry_after,
    )


def test_webpush_never_calls_a_host_that_is_not_a_known_push_service(
    push_service, webpush_provider, serve
):
    elsewhere = serve()
    calls: list[str] = []

    def record(request: Request) -> Response:
        calls.append(request.path)
        return Response(201)

    elsewhere.start(record)
    subscription = json.loads(push_service.subscribe())
    subscription["endpoint"] = elsewhere.url.replace("127.0.0.1", "localhost") + "/push/x"

    result = send_now(
        webpush_provider, a_device(Platform.WEB, json.dumps(subscription)), a_message()
    )

    assert result.outcome is Outcome.FAILED
    assert calls == []


@pytest.mark.parametrize(
    "token",
    [
        "not json",
        json.dumps({"endpoint": "http://127.0.0.1:1/push/x"}),
        json.dumps(
            {"endpoint": "http://127.0.0.1:1/push/x", "keys": {"p256dh": "AA", "auth": "AA"}}
        ),
    ],
)
def test_webpush_retires_a_malformed_subscription(webpush_provider, token):
    result = send_now(webpush_provider, a_device(Platform.WEB, token), a_message())

    assert result.outcome is Outcome.UNREGISTERED


def test_webpush_timeout_is_transient(push_service, settings, silent_url):
    settings.PUSH_TIMEOUT_SECONDS = 0.3
    provider = WebPushProvider()
    subscription = json.loads(push_service.subscribe())
    subscription["endpoint"] = f"{silent_url}/push/x"

    result = send_now(provider, a_device(Platform.WEB, json.dumps(subscription)), a_message())
    provider.close()

    assert result.outcome is Outcome.TRANSIENT


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://169.254.169.254/latest/meta-data",
        "http://fcm.googleapis.com/fcm/send/x",
        "https://user@fcm.googleapis.com/fcm/send/x",
        "https://fcm.googleapis.com.evil.example/fcm/send/x",
    ],
)
def test_webpush_calls_only_known_push_services_over_tls(
    settings, monkeypatch, push_service, endpoint
):
    # These addresses are not local: a transport that records and answers stands in for the
    # network, so a broken check fails the test without sending anything anywhere.
    requested: list[str] = []

    async def record(self, url: str, **kwargs) -> PushResponse:
        requested.append(url)
        return PushResponse(201, {}, b"")

    monkeypatch.setattr(PushTransport, "post", record)
    settings.WEBPUSH_ALLOWED_HOSTS = ["fcm.googleapis.com"]
    provider = WebPushProvider()
    subscription = json.loads(push_service.subscribe())
    subscription["endpoint"] = endpoint

    result = send_now(provider, a_device(Platform.WEB, json.dumps(subscription)), a_message())

    assert result.outcome is Outcome.FAILED
    assert requested == []
    # The stand-in does record what is allowed.
    subscription["endpoint"] = "https://fcm.googleapis.com/fcm/send/x"
    send_now(provider, a_device(Platform.WEB, json.dumps(subscription)), a_message())
    assert requested == ["https://fcm.googleapis.com/fcm/send/x"]


def test_webpush_refuses_to_start_with_a_key_that_is_not_a_key(settings):
    settings.VAPID_PRIVATE_KEY = "not-a-key"
    settings.VAPID_SUBJECT = "mailto:push@afterglow.example"

    with pytest.raises(ImproperlyConfigured, match="VAPID_PRIVATE_KEY"):
        WebPushProvider()


# Console and no-op


def test_console_prints_the_prompt_and_never_the_token(capsys, caplog):
    caplog.set_level(logging.INFO, logger="afterglow.push")
    device = a_device(Platform.ANDROID, "secret-fcm-token")
    message = a_message(badge=4)

    result = send_now(ConsoleProvider(), device, message)

    assert result.outcome is Outcome.DELIVERED
    printed = capsys.readouterr().out
    assert printed == (
        f'push -> android device {device.id}: "{GENERIC_TITLE}" prompt {message.prompt_id} '
        "(prompt, badge 4)\n"
    )
    [record] = caplog.records
    assert record.name == "afterglow.push"
    assert (record.device_id, record.prompt_id) == (str(device.id), message.prompt_id)
    assert "secret-fcm-token" not in repr(record.__dict__)


def test_noop_delivers_without_a_word(capsys, caplog):
    caplog.set_level(logging.DEBUG)

    result = send_now(NoopProvider(), a_device(Platform.WEB, "token"), a_message())

    assert result.outcome is Outcome.DELIVERED
    assert capsys.readouterr().out == ""
    assert caplog.records == []


def test_settings_choose_the_provider_per_platform(settings):
    settings.PUSH_PROVIDERS = {
        "default": "integration.providers.console.ConsoleProvider",
        "web": "integration.providers.noop.NoopProvider",
    }

    assert provider_for(Platform.WEB).name == "noop"
    assert provider_for(Platform.IOS).name == "console"


# Logs


def test_no_token_or_credential_reaches_the_logs(
    caplog, fcm, fcm_provider, apns, apns_provider, push_service, webpush_provider
):
    caplog.set_level(logging.DEBUG)
    fcm_tokens = ["fcm-" + secrets.token_urlsafe(32) for _ in range(3)]
    fcm.answers.update({fcm_tokens[1]: "unregistered", fcm_tokens[2]: "unavailable"})
    apns_tokens = [an_apns_token() for _ in range(3)]
    apns.answers.update({apns_tokens[1]: "unregistered", apns_tokens[2]: "throttled"})
    subscriptions = [push_service.subscribe(a) for a in ("ok", "gone", "error")]

    for token in fcm_tokens:
        send_now(fcm_provider, a_device(Platform.ANDROID, token), a_message())
    for token in apns_tokens:
        send_now(apns_provider, a_device(Platform.IOS, token), a_message())
    for subscription in subscriptions:
        send_now(webpush_provider, a_device(Platform.WEB, subscription), a_message())

    secrets_sent = [
        *fcm_tokens,
        *{access_token for access_token, _ in fcm.sends},
        *apns_tokens,
        *{r.headers["authorization"].split()[1] for r in apns.requests},
        *(json.loads(s)["endpoint"].rsplit("/", 1)[1] for s in subscriptions),
        *(json.loads(s)["keys"]["auth"] for s in subscriptions),
        *{d.headers["authorization"].split("t=")[1].split(",")[0] for d in push_service.deliveries},
    ]
    assert len(secrets_sent) == 3 + 1 + 3 + 1 + 3 + 3 + 1
    logged = "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
    assert "push unregistered" in logged  # the failures were logged, by device id
    for secret in secrets_sent:
        assert secret not in logged


# How long a prompt push is kept for a phone that is offline: until the prompt stops being
# answerable, never longer than PUSH_TTL_SECONDS, never shorter than PUSH_TTL_MIN_SECONDS.

NOW_TTL = 1_900_000_000  # a fixed instant (seconds), so the expected numbers are exact


def a_prompt_message(expires_in: float | None) -> PushMessage:
    now = datetime.fromtimestamp(NOW_TTL, tz=UTC)
    expires_at = None if expires_in is None else now + timedelta(seconds=expires_in)
    return PushMessage(prompt_id=str(uuid.uuid4()), badge=1, expires_at=expires_at)


# (seconds until the prompt expires, the TTL the push service is given)
TTL_CASES = [(2 * 3600, 2 * 3600), (3 * 86400, 86400), (5, 60), (None, 86400)]


@pytest.mark.parametrize(("expires_in", "ttl"), TTL_CASES)
def test_fcm_keeps_a_prompt_push_only_while_the_prompt_is_answerable(
    fcm, fcm_provider, expires_in, ttl
):
    with time_machine.travel(NOW_TTL, tick=False):
        send_now(
            fcm_provider, a_device(Platform.ANDROID, "fcm-token"), a_prompt_message(expires_in)
        )

    [(_, body)] = fcm.sends
    assert body["message"]["android"]["ttl"] == f"{ttl}s"


@pytest.mark.parametrize(("expires_in", "ttl"), TTL_CASES)
def test_apns_keeps_a_prompt_push_only_while_the_prompt_is_answerable(
    apns, apns_provider, expires_in, ttl
):
    with time_machine.travel(NOW_TTL, tick=False):
        send_now(apns_provider, a_device(Platform.IOS, "ab" * 32), a_prompt_message(expires_in))

    [request] = apns.requests
    assert request.headers["apns-expiration"] == str(NOW_TTL + ttl)


@pytest.mark.parametrize(("expires_in", "ttl"), TTL_CASES)
def test_webpush_keeps_a_prompt_push_only_while_the_prompt_is_answerable(
    push_service, webpush_provider, expires_in, ttl
):
    device = a_device(Platform.WEB, push_service.subscribe())
    with time_machine.travel(NOW_TTL, tick=False):
        send_now(webpush_provider, device, a_prompt_message(expires_in))

    [delivery] = push_service.deliveries
    assert delivery.headers["ttl"] == str(ttl)


def test_the_ttl_never_exceeds_the_configured_one(fcm, fcm_provider, settings):
    settings.PUSH_TTL_SECONDS = 3600
    with time_machine.travel(NOW_TTL, tick=False):
        send_now(fcm_provider, a_device(Platform.ANDROID, "fcm-token"), a_prompt_message(7200))

    [(_, body)] = fcm.sends
    assert body["message"]["android"]["ttl"] == "3600s"


@pytest.mark.django_db
def test_a_dispatched_prompt_push_lives_as_long_as_the_prompt_is_answerable(fcm, settings):
    settings.PUSH_PROVIDERS = {"default": "integration.providers.fcm.FcmProvider"}
    [prompt] = make_prompts(1, patients=1, tokens=("fcm-token",), expires_in=timedelta(hours=2))
    left = (prompt.expires_at - timezone.now()).total_seconds()

    claims = prompts_claim_due(now=timezone.now(), batch_size=10, lease=timedelta(minutes=2))
    prompts_deliver(claims=[(str(p), str(c)) for p, c in claims])

    [(_, body)] = fcm.sends
    ttl = body["message"]["android"].get("ttl", "")
    assert ttl.endswith("s")
    assert left - 60 <= int(ttl[:-1]) <= left


@pytest.mark.parametrize("odd", ["\x00", "%00", "%0a"])
def test_webpush_retires_an_endpoint_with_a_control_character_without_a_request(
    push_service, webpush_provider, odd
):
    subscription = json.loads(push_service.subscribe())
    subscription["endpoint"] += odd

    result = send_now(
        webpush_provider, a_device(Platform.WEB, json.dumps(subscription)), a_message()
    )

    # It can never be delivered to: retired like any malformed subscription, not retried.
    assert result.outcome is Outcome.UNREGISTERED
    assert push_service.deliveries == []
