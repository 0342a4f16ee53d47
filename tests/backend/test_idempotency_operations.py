"""Every creating POST takes `Idempotency-Key`: the same key and body answer the first
result and make one row, the same key with another body answers 409, no key works as
before, and another account's key does not collide. One table of operations; each row
says how to make its request and count what it makes. (Shares, the mechanism's showcase,
are in test_idempotency.py.)"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.db import connection

from backend.accounts.models import User
from backend.idempotency import REPLAYED_HEADER
from backend.models import IdempotencyKey
from integration.care import links
from integration.models import (
    CareInvitation,
    CareLink,
    Device,
    PlanStep,
    Prompt,
    PromptStatus,
)
from journal.models import Entry, Measure, TreatmentSession
from tests.integration.care_data import signed_in
from tests.integration.factories import make_patient, make_prompt, make_session, make_therapist
from tests.threads import at_once

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
KEY = "3f6c1b1e-0d6a-4b8a-9a2d-5b1e7d2c9f40"


@dataclass
class Request:
    """One request of an operation, made for a given account."""

    url: str
    body: dict[str, Any]
    other_body: dict[str, Any]
    count: Callable[[], int]


@dataclass(frozen=True)
class Operation:
    name: str
    role: str  # "patient" or "therapist": who may call it
    make: Callable[[User], Request]
    first_status: int = 201
    repeat_status: int = 201


def _care_link(user: User) -> Request:
    therapist = make_therapist()
    code = links.invitation_create(therapist=therapist).code
    other_code = links.invitation_create(therapist=make_therapist()).code
    return Request(
        "/api/v1/care-links/",
        {"code": code, "confirm": True},
        {"code": other_code, "confirm": True},
        lambda: CareLink.objects.filter(patient=user).count(),
    )


def _invitation(user: User) -> Request:
    return Request(
        "/api/v1/therapist/invitations/",
        {},
        {"for": "another patient"},
        lambda: CareInvitation.objects.filter(therapist=user).count(),
    )


def _device(user: User) -> Request:
    token = uuid.uuid4().hex * 2
    return Request(
        "/api/v1/devices/",
        {"platform": "ios", "token": token},
        {"platform": "ios", "token": uuid.uuid4().hex * 2},
        lambda: Device.objects.filter(user=user).count(),
    )


def _session(user: User) -> Request:
    return Request(
        "/api/v1/sessions/",
        {"kind": "integration", "scheduled_start": "2026-03-09T16:00:00Z"},
        {"kind": "integration", "scheduled_start": "2026-03-10T16:00:00Z"},
        lambda: TreatmentSession.objects.filter(patient=user).count(),
    )


def _entry(user: User) -> Request:
    return Request(
        "/api/v1/entries/",
        {"kind": "note", "body": "cobalt heron"},
        {"kind": "note", "body": "another heron"},
        lambda: Entry.objects.filter(patient=user).count(),
    )


def _measure(user: User) -> Request:
    return Request(
        "/api/v1/measures/",
        {"instrument": "gad7", "answers": [1, 2, 1, 1, 0, 1, 0]},
        {"instrument": "gad7", "answers": [0, 0, 0, 0, 0, 0, 0]},
        lambda: Measure.objects.filter(patient=user).count(),
    )


def _prompt(user: User, exercise_slug: str = "body-scan") -> Prompt:
    session = make_session(user, NOW - dt.timedelta(days=1), keep_prompts=False)
    return make_prompt(
        user, session, exercise_slug=exercise_slug, due_at=NOW - dt.timedelta(hours=1)
    )


def _prompt_action(action: str, body: dict, other_body: dict) -> Callable[[User], Request]:
    def make(user: User) -> Request:
        prompt = _prompt(user)
        done = {"open": PromptStatus.OPENED, "skip": PromptStatus.SKIPPED}.get(action)

        def count() -> int:
            # The action's row is the prompt itself: count the prompts it moved.
            prompt.refresh_from_db()
            if done is not None:
                return int(prompt.status == done)
            return int(prompt.status == PromptStatus.SCHEDULED)

        return Request(f"/api/v1/prompts/{prompt.id}/{action}/", body, other_body, count)

    return make


def _prompt_complete(user: User) -> Request:
    prompt = _prompt(user, exercise_slug="next-day-reflection")
    return Request(
        f"/api/v1/prompts/{prompt.id}/complete/",
        {"body": "cobalt heron"},
        {"body": "another heron"},
        lambda: Entry.objects.filter(patient=user).count(),
    )


def _prompt_complete_measure(user: User) -> Request:
    session = make_session(user, NOW - dt.timedelta(days=1), keep_prompts=False)
    step = PlanStep.objects.get(
        plan__slug="kap-default", exercise__slug="gad7", is_course_start_only=False
    )
    prompt = Prompt.objects.create(
        patient=user,
        session=session,
        step=step,
        exercise=step.exercise,
        status=PromptStatus.SENT,
        nominal_at=NOW - dt.timedelta(hours=1),
        due_at=NOW - dt.timedelta(hours=1),
        expires_at=NOW + dt.timedelta(days=6),
    )
    return Request(
        f"/api/v1/prompts/{prompt.id}/complete/",
        {"answers": [1, 2, 1, 1, 0, 1, 0]},
        {"answers": [0, 0, 0, 0, 0, 0, 0]},
        lambda: Measure.objects.filter(patient=user).count(),
    )


SNOOZE = {"until": "2026-03-02T12:00:00Z"}
OPERATIONS = [
    Operation("care_links_create", "patient", _care_link),
    Operation("therapist_invitations_create", "therapist", _invitation),
    Operation("push_devices_register", "patient", _device),
    Operation("sessions_create", "patient", _session, repeat_status=200),
    Operation("entries_create", "patient", _entry, repeat_status=200),
    Operation("measures_create", "patient", _measure, repeat_status=200),
    Operation("prompts_open", "patient", _prompt_action("open", {}, {"x": 1}), 200, 200),
    Operation("prompts_skip", "patient", _prompt_action("skip", {}, {"x": 1}), 200, 200),
    Operation(
        "prompts_snooze",
        "patient",
        _prompt_action("snooze", SNOOZE, {"until": "2026-03-02T13:00:00Z"}),
        200,
        200,
    ),
    Operation("prompts_complete", "patient", _prompt_complete, 200, 200),
    Operation("prompts_complete (measure)", "patient", _prompt_complete_measure, 200, 200),
]


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _account(role: str) -> User:
    return make_therapist() if role == "therapist" else make_patient()


def _post(user: User, request: Request, body: dict | None = None, key: str | None = KEY):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return signed_in(user).post(
        request.url, request.body if body is None else body, format="json", headers=headers
    )


def _payload(response) -> dict:
    data = response.json()
    # What may differ between two answers of one record: the one-time invitation code.
    data.pop("code", None)
    return data


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_the_same_key_and_body_answer_the_first_result_and_make_one(operation) -> None:
    user = _account(operation.role)
    request = operation.make(user)
    before = request.count()

    first = _post(user, request)
    again = _post(user, request)

    assert first.status_code == operation.first_status, first.content
    assert again.status_code == operation.repeat_status, again.content
    assert _payload(again) == _payload(first)
    assert again[REPLAYED_HEADER] == "true"
    assert request.count() == before + 1


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_the_same_key_with_another_body_answers_409_with_what_it_made(operation) -> None:
    user = _account(operation.role)
    request = operation.make(user)
    first = _post(user, request)
    after_first = request.count()

    other = _post(user, request, body=request.other_body)

    assert other.status_code == 409, other.content
    assert other.json()["code"] == "idempotency_key_reused"
    # What the key made, as it is now (for a prompt action: the prompt).
    assert other.json()["current"]["id"] == first.json()["id"]
    assert request.count() == after_first


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_without_a_key_the_operation_works_as_before(operation) -> None:
    user = _account(operation.role)
    request = operation.make(user)
    before = request.count()

    response = _post(user, request, key=None)

    assert response.status_code == operation.first_status, response.content
    assert REPLAYED_HEADER not in response
    assert request.count() == before + 1


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_a_key_used_by_another_account_does_not_collide(operation) -> None:
    user, other = _account(operation.role), _account(operation.role)
    mine, theirs = operation.make(user), operation.make(other)
    _post(user, mine)

    response = _post(other, theirs)

    assert response.status_code == operation.first_status, response.content
    assert REPLAYED_HEADER not in response
    assert theirs.count() == 1


@pytest.mark.django_db
def test_a_repeated_invitation_does_not_show_its_code_again() -> None:
    therapist = make_therapist()
    request = _invitation(therapist)

    first = _post(therapist, request)
    again = _post(therapist, request)

    assert len(first.json()["code"]) >= 8
    assert again.json()["code"] is None
    assert again.json()["id"] == first.json()["id"]


@pytest.mark.django_db
def test_a_skip_repeated_with_its_key_answers_200_where_a_bare_repeat_answers_409() -> None:
    patient = make_patient()
    request = _prompt_action("skip", {}, {})(patient)
    _post(patient, request)

    assert _post(patient, request).status_code == 200
    assert _post(patient, request, key=None).status_code == 409


@pytest.mark.django_db
def test_an_answer_under_a_key_keeps_no_digest_of_its_words() -> None:
    """Answers repeat by the record's id (derived from the key): nothing about the key or
    the text is stored beside the sealed entry."""
    patient = make_patient()
    request = _prompt_complete(patient)

    _post(patient, request)

    assert IdempotencyKey.objects.count() == 0
    entry = Entry.objects.get(patient=patient)
    assert KEY not in str(entry.pk)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "operation",
    [op for op in OPERATIONS if op.name in ("care_links_create", "push_devices_register")],
    ids=lambda op: op.name,
)
def test_racing_repeats_make_one_row(operation) -> None:
    user = _account(operation.role)
    request = operation.make(user)
    clients = [signed_in(user) for _ in range(2)]

    answers = at_once(
        lambda: clients.pop().post(
            request.url, request.body, format="json", headers={"Idempotency-Key": KEY}
        )
    )

    assert sorted(answer.status_code for answer in answers) == [201, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert request.count() == 1


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [str(value)] if isinstance(value, str) and len(value) >= 6 else []


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_the_database_keeps_neither_the_key_nor_what_was_sent(operation) -> None:
    """Searched as text over the whole idempotency table: an invitation code, a push token
    or a date sent in a body is not there, nor is the key."""
    user = _account(operation.role)
    request = operation.make(user)

    _post(user, request)

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {IdempotencyKey._meta.db_table}")  # noqa: S608
        dump = repr(cursor.fetchall())
    assert KEY not in dump
    assert KEY.replace("-", "") not in dump
    for text in _strings(request.body):
        assert text not in dump


KEY_IS_THE_ID = [
    operation
    for operation in OPERATIONS
    if operation.name.split(" ")[0]
    in {"sessions_create", "entries_create", "measures_create", "prompts_complete"}
]


@pytest.mark.django_db
@pytest.mark.parametrize("operation", KEY_IS_THE_ID, ids=lambda op: op.name)
def test_a_key_that_stands_for_a_client_id_never_expires(operation) -> None:
    """As the schema says of these creates: the key is the record's id, so it answers the
    same long after the 24 hours of a stored key (whose purge does not touch it)."""
    user = _account(operation.role)
    request = operation.make(user)
    first = _post(user, request)

    with time_machine.travel(NOW + dt.timedelta(days=30), tick=False):
        again = _post(user, request)
        other = _post(user, request, body=request.other_body)

    assert again.status_code == operation.repeat_status, again.content
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409, other.content
    assert other.json()["code"] == "idempotency_key_reused"
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("make", "path"), [(_entry, "entries"), (_session, "sessions")])
def test_the_key_of_a_deleted_record_still_answers_409(make, path) -> None:
    user = make_patient()
    request = make(user)
    made = _post(user, request).json()
    deleted = signed_in(user).delete(f"/api/v1/{path}/{made['id']}/", headers={"If-Match": "*"})
    assert deleted.status_code == 204

    again = _post(user, request)

    assert again.status_code == 409, again.content
    assert again.json()["code"] == "idempotency_key_reused"
    assert again.json().get("current") is None
