"""FCM and APNs misbehaving under a real worker: every prompt still ends once, in the right
state.

Each test runs a real Celery worker (prefork, two pool children, pushing through the real
FcmProvider or ApnsProvider) against a local fake of the service speaking HTTP/2
(tests/integration/fakes/h2server.py) that answers after 30 ms and meets one fault: 5xx,
429 with Retry-After (FCM's QUOTA_EXCEEDED, APNs' TooManyRequests), a dead token, the
connection dropped, GOAWAY in the middle of a batch, streams reset. The fake counts what it
delivered (answered 200); the database says what the service recorded.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from backend.accounts.models import User
from integration.delivery.dispatch import prompts_dispatch
from integration.models import DeliveryAttempt, Device, Prompt, PromptStatus
from tests.integration.delivery_data import make_device, make_prompts
from tests.integration.fakes.apns import FakeApns
from tests.integration.fakes.fcm import FakeFcm, write_service_account
from tests.integration.fakes.h2server import Faults, H2Server
from tests.integration.fakes.keys import p256_key, rsa_key
from tests.integration.workers import Workers

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROMPTS = 60
PATIENTS = 20
LATENCY = 0.03
PROJECT_ID = "afterglow-faults"
CLIENT_EMAIL = "push@afterglow-faults.iam.gserviceaccount.com"
KEY_ID = "FAULTKEY01"
TEAM_ID = "FAULTTEAM1"
TOPIC = "org.afterglow.app"
WORKER_SETTINGS = {
    "PROMPT_DISPATCH_BATCH_SIZE": 20,
    "PROMPT_RETRY_BASE_SECONDS": 1,
    "PROMPT_LEASE_SECONDS": 10,
    "PUSH_TIMEOUT_SECONDS": 5,
}


@dataclass
class Service:
    """A fake push service on HTTP/2, and how a worker reaches it."""

    fake: FakeFcm | FakeApns
    server: H2Server
    platform: str
    provider: str
    settings: dict[str, Any]
    token: Callable[[int], str]


def fcm_service(directory: Path, faults: Faults) -> Service:
    key = rsa_key()
    fake = FakeFcm(base_url="", project_id=PROJECT_ID, client_email=CLIENT_EMAIL, public_pem="")
    server = H2Server(fake.handle, faults=faults)
    fake.base_url, fake.public_pem = server.url, key.public_pem
    credentials = write_service_account(
        directory / "service-account.json",
        project_id=PROJECT_ID,
        client_email=CLIENT_EMAIL,
        private_pem=key.private_pem,
        token_uri=fake.token_uri,
        key_id="faults-1",
    )
    return Service(
        fake=fake,
        server=server,
        platform="android",
        provider="integration.providers.fcm.FcmProvider",
        settings={"FCM_CREDENTIALS_FILE": credentials, "FCM_BASE_URL": server.url},
        token=lambda number: f"fcm-token-{number}",
    )


def apns_service(directory: Path, faults: Faults) -> Service:
    key = p256_key()
    fake = FakeApns(key_id=KEY_ID, team_id=TEAM_ID, topic=TOPIC, public_pem=key.public_pem)
    server = H2Server(fake.handle, faults=faults)
    key_file = directory / f"AuthKey_{KEY_ID}.p8"
    key_file.write_text(key.private_pem)
    hex_tokens = [secrets.token_hex(32) for _ in range(PATIENTS)]
    return Service(
        fake=fake,
        server=server,
        platform="ios",
        provider="integration.providers.apns.ApnsProvider",
        settings={
            "APNS_KEY_FILE": str(key_file),
            "APNS_KEY_ID": KEY_ID,
            "APNS_TEAM_ID": TEAM_ID,
            "APNS_TOPIC": TOPIC,
            "APNS_BASE_URL": server.url,
        },
        token=lambda number: hex_tokens[number],
    )


@pytest.fixture(params=["fcm", "apns"])
def make_service(request, tmp_path) -> Iterator[Callable[[Faults], Service]]:
    made: list[Service] = []

    def make(faults: Faults) -> Service:
        service = (fcm_service if request.param == "fcm" else apns_service)(tmp_path, faults)
        service.server.start()
        made.append(service)
        return service

    yield make
    for service in made:
        service.server.stop()
        assert not service.server.errors, service.server.errors


def patients_with_prompts(service: Service) -> tuple[list[Prompt], dict[str, User]]:
    """PROMPTS due prompts of PATIENTS patients, each with one device of the service's
    platform; returns the prompts and each device token's patient."""
    prompts = make_prompts(PROMPTS, patients=PATIENTS, tokens=())
    patients = sorted({prompt.patient for prompt in prompts}, key=lambda user: str(user.pk))
    owners = {}
    for number, patient in enumerate(patients):
        token = service.token(number)
        make_device(patient, token, platform=service.platform)
        owners[token] = patient
    return prompts, owners


def deliver_everything(tmp_path: Path, service: Service, *, timeout: float = 60) -> Workers:
    """A worker pushes through the real provider to the fake; the test dispatches as beat
    would, every half second, until no prompt is left scheduled or sending."""
    workers = Workers(
        database_name=connection.settings_dict["NAME"],
        directory=tmp_path,
        provider=service.provider,
        settings={**WORKER_SETTINGS, **service.settings},
    )
    with workers:
        workers.start(1, concurrency=2)
        deadline = time.monotonic() + timeout
        unfinished = Prompt.objects.filter(
            status__in=(PromptStatus.SCHEDULED, PromptStatus.SENDING)
        )
        while unfinished.exists():
            if time.monotonic() > deadline:
                logs = "\n".join(worker.log_tail() for worker in workers.running)
                raise AssertionError(f"{unfinished.count()} prompts unfinished\n{logs}")
            prompts_dispatch()
            time.sleep(0.5)
    return workers


def assert_each_prompt_ends_once(
    service: Service, prompts: list[Prompt], *, inbox: Collection[Any] = ()
) -> None:
    """Every prompt `sent`, pushed to a phone exactly once (or, for the patients in
    `inbox`, never, and delivered to the inbox), and recorded once."""
    pushed = {prompt.pk for prompt in prompts if prompt.patient_id not in inbox}
    assert Counter(service.fake.delivered) == {str(pk): 1 for pk in pushed}
    recorded = Counter(
        DeliveryAttempt.objects.filter(outcome="delivered").values_list("prompt_id", flat=True)
    )
    assert recorded == dict.fromkeys(pushed, 1)
    states = {
        pk: (status, via)
        for pk, status, via in Prompt.objects.values_list("pk", "status", "delivered_via")
    }
    expected = {
        prompt.pk: (PromptStatus.SENT, "inbox" if prompt.patient_id in inbox else "push")
        for prompt in prompts
    }
    assert states == expected


def retried(prompts: list[Prompt]) -> int:
    return Prompt.objects.filter(pk__in=[p.pk for p in prompts], attempts__gt=1).count()


def test_without_faults_every_prompt_is_pushed_once(make_service, tmp_path):
    service = make_service(Faults(latency=LATENCY))
    prompts, _ = patients_with_prompts(service)

    deliver_everything(tmp_path, service)

    assert_each_prompt_ends_once(service, prompts)
    assert retried(prompts) == 0
    # One connection per pool child that pushed, reused across its batches.
    assert service.server.connections <= 2


def test_a_5xx_with_retry_after_retries_the_prompts_it_touched(make_service, tmp_path):
    service = make_service(Faults(latency=LATENCY))
    prompts, owners = patients_with_prompts(service)
    answer = "unavailable_briefly" if isinstance(service.fake, FakeFcm) else "unavailable"
    failing = [token for number, token in enumerate(owners) if number % 4 == 0]
    service.fake.first_answers.update(dict.fromkeys(failing, answer))

    deliver_everything(tmp_path, service)

    assert_each_prompt_ends_once(service, prompts)
    assert not service.fake.first_answers  # every fault was met
    assert retried(prompts) >= len(failing)


def test_a_429_retries_later_and_the_rest_go_on(make_service, tmp_path):
    """FCM's QUOTA_EXCEEDED (Retry-After 1 s) pauses the process's FCM lane: what it turns
    away meanwhile retries then, as no attempt. APNs' TooManyRequests is per device token:
    only that prompt retries."""
    service = make_service(Faults(latency=LATENCY))
    prompts, owners = patients_with_prompts(service)
    answer = "quota_briefly" if isinstance(service.fake, FakeFcm) else "throttled"
    service.fake.first_answers[next(iter(owners))] = answer

    deliver_everything(tmp_path, service)

    assert_each_prompt_ends_once(service, prompts)
    assert not service.fake.first_answers
    attempts = Counter(DeliveryAttempt.objects.values_list("outcome", flat=True))
    assert attempts["transient"] >= 1
    # Turned-away pushes are not attempts: nobody used more than two.
    assert set(Prompt.objects.values_list("attempts", flat=True)) <= {1, 2}


def test_a_dead_token_retires_the_device_and_leaves_the_prompt_in_the_inbox(make_service, tmp_path):
    service = make_service(Faults(latency=LATENCY))
    prompts, owners = patients_with_prompts(service)
    dead_token = next(iter(owners))
    service.fake.answers[dead_token] = "unregistered"

    deliver_everything(tmp_path, service)

    assert_each_prompt_ends_once(service, prompts, inbox={owners[dead_token].pk})
    device = Device.objects.get(token=dead_token)
    assert (device.is_active, device.retired_reason) == (False, "unregistered")
    dead_prompts = Prompt.objects.filter(patient=owners[dead_token])
    assert set(dead_prompts.values_list("last_error", flat=True)) == {"push_failed"}


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(Faults(latency=LATENCY, goaway=frozenset({30})), id="goaway-mid-batch"),
        pytest.param(Faults(latency=LATENCY, reset=frozenset({3, 17, 33})), id="streams-reset"),
    ],
)
def test_goaway_and_reset_streams_cost_only_the_pushes_they_touched(make_service, tmp_path, faults):
    """The service says which streams it did not process (those after GOAWAY's last stream,
    a stream reset with REFUSED_STREAM): those go again, on a new connection at once or in
    a later claim; nothing is lost or pushed twice."""
    service = make_service(faults)
    prompts, _ = patients_with_prompts(service)

    deliver_everything(tmp_path, service)

    assert_each_prompt_ends_once(service, prompts)
    assert service.server.faulted  # the fault did strike
    if faults.goaway:
        assert service.server.connections >= 2  # a new connection after it
    if faults.reset:
        assert retried(prompts) >= len(faults.reset)


def test_a_dropped_connection_loses_nothing_and_repeats_at_most_what_was_in_flight(
    make_service, tmp_path
):
    """A connection cut without a word leaves the pushes in flight on it unknown: they are
    retried, so one the service had taken before the cut reaches the phone twice (its
    collapse key shows it once). Every prompt is recorded once all the same."""
    service = make_service(Faults(latency=LATENCY, drop=frozenset({10})))
    prompts, _ = patients_with_prompts(service)

    deliver_everything(tmp_path, service)

    assert service.server.faulted == [("drop", 10)]
    assert service.server.connections >= 2
    pushed = Counter(service.fake.delivered)
    assert set(pushed) == {str(prompt.pk) for prompt in prompts}
    repeated = [prompt_id for prompt_id, times in pushed.items() if times > 1]
    assert max(pushed.values()) <= 2
    assert len(repeated) <= WORKER_SETTINGS["PROMPT_DISPATCH_BATCH_SIZE"]
    recorded = Counter(
        DeliveryAttempt.objects.filter(outcome="delivered").values_list("prompt_id", flat=True)
    )
    assert recorded == {prompt.pk: 1 for prompt in prompts}
    assert set(Prompt.objects.values_list("status", "delivered_via")) == {
        (PromptStatus.SENT, "push")
    }
