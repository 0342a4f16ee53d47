"""Prompts in the offline sync feed (/api/v1/sync/): each app-visible change of a prompt
once, in change order with the journal's records; none for the dispatcher's bookkeeping;
and `local_notifications`, which follows the patient's devices.

The clock stands at Monday 2026-03-02 10:00 UTC (tests/integration/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import patched_settings

from integration.delivery import outcomes
from integration.delivery.dispatch import prompts_claim_due, prompts_deliver
from integration.models import Device, Prompt, PromptStatus
from integration.prompts import inbox
from integration.prompts.planning import prompts_expire_overdue
from journal.models import SyncState
from journal.sessions import services
from tests.fuzz.harness import postprocessing_hooks
from tests.integration import counting_provider
from tests.integration.delivery_data import make_device
from tests.integration.factories import make_patient, make_session

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

URL = "/api/v1/sync/"
D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)
START = dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in Berlin


def sync_all(client, *, since: str | None = None, limit: int = 200):
    """Every page from `since`; returns (changes, cursor, last page)."""
    changes: list[dict] = []
    params: dict = {"limit": limit} | ({"since": since} if since else {})
    while True:
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        page = response.json()
        changes += page["changes"]
        params["since"] = page["cursor"]
        if not page["has_more"]:
            return changes, page["cursor"], page


def prompt_changes(changes: list[dict]) -> list[dict]:
    return [change for change in changes if change["type"] == "prompt"]


def counter(patient) -> int:
    return SyncState.objects.get(patient=patient).last_change


def api_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_dosing_session_brings_each_of_its_prompts_once(patient, patient_api) -> None:
    session = make_session(patient, START)

    changes, _, page = sync_all(patient_api, limit=3)

    prompts = {p.pk: p for p in Prompt.objects.filter(patient=patient)}
    synced = prompt_changes(changes)
    assert len(prompts) > 5
    assert Counter(change["id"] for change in synced) == Counter(str(pk) for pk in prompts)
    for change in synced:
        prompt = prompts[uuid.UUID(change["id"])]
        assert change["deleted"] is False
        assert change["change"] == prompt.change
        assert change["data"]["status"] == "scheduled"
        assert change["data"]["session"] == str(session.pk)
        assert change["data"]["due_at"] == api_time(prompt.due_at)
        assert change["data"]["expires_at"] == api_time(prompt.expires_at)
    # One sequence with the session's own change, all numbers distinct and in order.
    numbers = [change["change"] for change in changes]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)
    assert changes[0]["type"] == "session"
    assert page["local_notifications"] is True


def test_each_transition_of_a_prompt_appears_once(patient, patient_api) -> None:
    session = make_session(patient, START)
    _, cursor, _ = sync_all(patient_api)
    prompts = list(
        Prompt.objects.filter(patient=patient)
        .exclude(exercise__answer_kind="measure")
        .order_by("due_at")
    )
    later = START + 30 * D  # every prompt is due (and answerable) then

    inbox.prompt_open(patient=patient, prompt_id=prompts[0].pk, now=later)
    inbox.prompt_skip(patient=patient, prompt_id=prompts[1].pk, now=later)
    changes, cursor, _ = sync_all(patient_api, since=cursor)
    assert [(c["id"], c["data"]["status"]) for c in changes] == [
        (str(prompts[0].pk), "opened"),
        (str(prompts[1].pk), "skipped"),
    ]

    inbox.prompt_complete(patient=patient, prompt_id=prompts[0].pk, body="done")
    changes, cursor, _ = sync_all(patient_api, since=cursor)
    # The answer's entry, then the prompt completed with it.
    assert [(c["type"], c["id"]) for c in changes] == [
        ("entry", changes[0]["id"]),
        ("prompt", str(prompts[0].pk)),
    ]
    assert changes[1]["data"]["status"] == "completed"
    assert changes[1]["data"]["entry"] == changes[0]["id"]

    # An answer to the skipped prompt, sent late: kept, and the prompt says so.
    inbox.prompt_complete(patient=patient, prompt_id=prompts[1].pk, body="late")
    changes, cursor, _ = sync_all(patient_api, since=cursor)
    late = prompt_changes(changes)
    assert [(c["id"], c["data"]["status"]) for c in late] == [(str(prompts[1].pk), "skipped")]
    assert late[0]["data"]["answered_late_at"] is not None

    expired = prompts_expire_overdue(now=prompts[2].expires_at)
    changes, cursor, _ = sync_all(patient_api, since=cursor)
    assert expired >= 1
    assert Counter(c["data"]["status"] for c in changes) == {"expired": expired}
    assert str(prompts[2].pk) in {c["id"] for c in changes}

    services.session_update(
        patient=patient,
        session_id=session.pk,
        data={"status": "cancelled"},
        expected_versions=None,
    )
    changes, cursor, _ = sync_all(patient_api, since=cursor)
    scheduled = Prompt.objects.filter(patient=patient, status=PromptStatus.CANCELLED)
    assert changes[0]["type"] == "session"
    assert sorted(c["id"] for c in prompt_changes(changes)) == sorted(
        str(pk) for pk in scheduled.values_list("pk", flat=True)
    )
    assert {c["data"]["status"] for c in prompt_changes(changes)} == {"cancelled"}

    # Nothing changed since: nothing more.
    assert sync_all(patient_api, since=cursor)[0] == []


def test_a_snoozed_prompt_comes_with_its_new_due_time(patient, patient_api) -> None:
    make_session(patient, START)
    prompt = Prompt.objects.filter(patient=patient).order_by("due_at")[0]
    _, cursor, _ = sync_all(patient_api)
    now = prompt.due_at + H

    inbox.prompt_snooze(patient=patient, prompt_id=prompt.pk, until=now + 2 * H, now=now)

    changes, _, _ = sync_all(patient_api, since=cursor)
    assert [(c["id"], c["data"]["due_at"], c["data"]["snoozed_until"]) for c in changes] == [
        (str(prompt.pk), api_time(now + 2 * H), api_time(now + 2 * H))
    ]


def test_a_moved_session_brings_its_prompts_with_the_new_due_times(patient, patient_api) -> None:
    session = make_session(patient, START)
    _, cursor, _ = sync_all(patient_api)
    before = {p.pk: p.due_at for p in Prompt.objects.filter(patient=patient)}

    services.session_update(
        patient=patient,
        session_id=session.pk,
        data={"scheduled_start": START + 2 * D},
        expected_versions=None,
    )

    changes, _, _ = sync_all(patient_api, since=cursor)
    assert changes[0]["type"] == "session"
    moved = {uuid.UUID(c["id"]): c for c in prompt_changes(changes)}
    after = {p.pk: p for p in Prompt.objects.filter(patient=patient)}
    # Every prompt that moved comes once, as it is now; none that did not.
    assert set(moved) == {pk for pk, prompt in after.items() if prompt.due_at != before[pk]}
    assert len(moved) > 5
    for pk, change in moved.items():
        assert change["data"]["due_at"] == api_time(after[pk].due_at)
        assert change["data"]["status"] == after[pk].status


def test_a_deleted_session_cancels_its_prompts_in_the_feed(patient, patient_api) -> None:
    session = make_session(patient, START)
    _, cursor, _ = sync_all(patient_api)

    services.session_delete(patient=patient, session_id=session.pk, expected_versions=None)

    changes, _, _ = sync_all(patient_api, since=cursor)
    assert (changes[0]["type"], changes[0]["deleted"], changes[0]["data"]) == (
        "session",
        True,
        None,
    )
    cancelled = prompt_changes(changes)
    assert len(cancelled) == Prompt.objects.filter(patient=patient).count()
    assert all(c["data"]["status"] == "cancelled" and not c["deleted"] for c in cancelled)


def test_dispatch_bookkeeping_adds_no_change_and_a_send_adds_one(patient, patient_api) -> None:
    make_session(patient, START)
    prompt = Prompt.objects.filter(patient=patient).order_by("due_at")[0]
    _, cursor, _ = sync_all(patient_api)
    before = counter(patient)
    now = prompt.due_at + dt.timedelta(minutes=1)

    # Claimed (sending), its lease renewed, a transient failure released for a retry.
    ((prompt_id, claim_id),) = prompts_claim_due(now=now, batch_size=1, lease=2 * H)
    assert prompt_id == prompt.pk
    retry = outcomes.Finished(
        prompt, PromptStatus.SENDING, last_error="push_transient", lease_expires_at=now + H
    )
    outcomes.outcomes_write([retry], token=claim_id, now=now)
    prompt.refresh_from_db()
    assert (prompt.status, prompt.attempts, prompt.claim_id) == (PromptStatus.SENDING, 1, None)

    assert counter(patient) == before
    assert sync_all(patient_api, since=cursor)[0] == []
    # A sync from scratch shows it still `scheduled` (its push is on its way).
    everything, _, _ = sync_all(patient_api)
    (shown,) = [c for c in everything if c["id"] == str(prompt.pk)]
    assert shown["data"]["status"] == "scheduled"

    ((_, claim_id),) = prompts_claim_due(now=now + 2 * H, batch_size=1, lease=2 * H)
    sent = outcomes.prompt_outcome(prompt, [], max_attempts=5, now=now + 2 * H)
    outcomes.outcomes_write([sent], token=claim_id, now=now + 2 * H)

    changes, _, _ = sync_all(patient_api, since=cursor)
    assert [(c["id"], c["data"]["status"], c["data"]["delivered_via"]) for c in changes] == [
        (str(prompt.pk), "sent", "inbox")
    ]
    assert counter(patient) == before + 1


def test_a_batch_of_outcomes_updates_each_counter_once(django_assert_max_num_queries) -> None:
    patients = [make_patient() for _ in range(3)]
    for patient in patients:
        make_session(patient, START)
    prompts = list(Prompt.objects.filter(patient__in=patients))
    now = START + 30 * D
    Prompt.objects.update(due_at=now - H, expires_at=now + D)
    before = {patient.pk: counter(patient) for patient in patients}
    claims = prompts_claim_due(now=now, batch_size=500, lease=H)
    finished = [outcomes.prompt_outcome(p, [], max_attempts=5, now=now) for p in prompts]
    token = claims[0][1]

    with CaptureQueriesContext(connection) as queries:
        outcomes.outcomes_write(finished, token=token, now=now)

    counter_updates = [q for q in queries if q["sql"].startswith('UPDATE "journal_syncstate"')]
    assert len(counter_updates) == 1
    per_patient = Counter(p.patient_id for p in prompts)
    assert {p.pk: counter(p) - before[p.pk] for p in patients} == per_patient
    numbers = list(Prompt.objects.values_list("patient_id", "change"))
    assert len(set(numbers)) == len(prompts)  # each row its own number


@pytest.mark.parametrize("sessions", [1, 3])
def test_the_expiry_sweep_costs_the_same_statements_whatever_it_expires(sessions) -> None:
    patients = [make_patient() for _ in range(3)]
    for patient in patients:
        for week in range(sessions):
            make_session(patient, START + 7 * week * D)
    before = {patient.pk: counter(patient) for patient in patients}
    now = START + 100 * D

    with CaptureQueriesContext(connection) as queries:
        expired = prompts_expire_overdue(now=now)

    assert expired == Prompt.objects.filter(status=PromptStatus.EXPIRED).count() > 3 * sessions
    # Read, lock the counters, advance them (one statement), expire: one transaction.
    assert len([q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]) == 4
    per_patient = Counter(
        Prompt.objects.filter(status="expired").values_list("patient_id", flat=True)
    )
    assert {p.pk: counter(p) - before[p.pk] for p in patients} == dict(per_patient)


@pytest.mark.parametrize("sessions", [1, 4])
def test_the_feed_costs_the_same_queries_whatever_it_holds(
    patient, patient_api, sessions, django_assert_max_num_queries
) -> None:
    for week in range(sessions):
        make_session(patient, START + 7 * week * D)
    make_device(patient, "ok")
    assert Prompt.objects.filter(patient=patient).count() >= 10 * sessions

    # The user and sign-in, the counter, three journal tables, the prompts, the devices.
    with django_assert_max_num_queries(8):
        response = patient_api.get(URL, {"limit": 500})

    assert len(prompt_changes(response.json()["changes"])) >= 10 * sessions


def test_push_permission_decides_local_notifications(patient, patient_api) -> None:
    assert sync_all(patient_api)[2]["local_notifications"] is True

    registered = patient_api.post(
        "/api/v1/devices/",
        {"platform": "android", "token": "fcm-token-1", "push_permission": "refused"},
        format="json",
    )
    assert registered.status_code == 201, registered.content
    device = registered.json()
    assert device["push_permission"] == "refused"
    assert sync_all(patient_api)[2]["local_notifications"] is True

    granted = patient_api.patch(
        f"/api/v1/devices/{device['id']}/", {"push_permission": "granted"}, format="json"
    )
    assert granted.status_code == 200, granted.content
    assert granted.json()["push_permission"] == "granted"
    assert sync_all(patient_api)[2]["local_notifications"] is False

    # Registering the same token again keeps what is known unless it is said anew.
    again = patient_api.post(
        "/api/v1/devices/", {"platform": "android", "token": "fcm-token-1"}, format="json"
    )
    assert (again.status_code, again.json()["push_permission"]) == (200, "granted")

    patient_api.patch(
        f"/api/v1/devices/{device['id']}/", {"push_permission": "refused"}, format="json"
    )
    assert sync_all(patient_api)[2]["local_notifications"] is True
    patient_api.delete(f"/api/v1/devices/{device['id']}/")
    assert sync_all(patient_api)[2]["local_notifications"] is True


def test_a_device_of_unknown_permission_takes_pushes(patient, patient_api) -> None:
    make_device(patient, "ok")

    assert sync_all(patient_api)[2]["local_notifications"] is False


def test_a_bad_permission_or_someone_elses_device_is_refused(
    patient, patient_api, other_patient
) -> None:
    mine = make_device(patient, "mine")
    theirs = make_device(other_patient, "ok")

    bad = patient_api.patch(
        f"/api/v1/devices/{mine.pk}/", {"push_permission": "maybe"}, format="json"
    )
    unknown_field = patient_api.patch(
        f"/api/v1/devices/{mine.pk}/", {"push_permission": "refused", "x": 1}, format="json"
    )
    not_mine = patient_api.patch(
        f"/api/v1/devices/{theirs.pk}/", {"push_permission": "refused"}, format="json"
    )
    nothing = patient_api.patch(f"/api/v1/devices/{mine.pk}/", {}, format="json")

    assert bad.status_code == 400
    assert bad["Content-Type"].startswith("application/problem+json")
    assert "push_permission" in bad.json()["errors"]
    assert unknown_field.status_code == 400
    assert not_mine.status_code == 404
    assert (nothing.status_code, nothing.json()["push_permission"]) == (200, "unknown")
    for device in (mine, theirs):
        device.refresh_from_db()
        assert device.push_permission == "unknown"


def test_dispatch_pushes_no_device_that_refused(patient, push_log) -> None:
    make_session(patient, START)
    refused = make_device(patient, "ok")
    Device.objects.filter(pk=refused.pk).update(push_permission="refused")
    granted = make_device(patient, "ok-2")
    prompt = Prompt.objects.filter(patient=patient).order_by("due_at")[0]
    now = prompt.due_at + dt.timedelta(minutes=1)

    claims = prompts_claim_due(now=now, batch_size=1, lease=H)
    prompts_deliver(claims=[(str(p), str(c)) for p, c in claims])

    pushed = {push.device_id for push in counting_provider.read_log(push_log)}
    assert pushed == {str(granted.pk)}
    Device.objects.filter(pk=granted.pk).update(push_permission="refused")
    second = Prompt.objects.filter(patient=patient, status="scheduled").order_by("due_at")[0]
    claims = prompts_claim_due(now=second.due_at + H, batch_size=1, lease=H)
    prompts_deliver(claims=[(str(p), str(c)) for p, c in claims])
    second.refresh_from_db()
    assert (second.status, second.delivered_via) == (PromptStatus.SENT, "inbox")
    assert {push.device_id for push in counting_provider.read_log(push_log)} == {str(granted.pk)}


def test_the_schema_types_each_kind_of_change() -> None:
    with patched_settings({"POSTPROCESSING_HOOKS": postprocessing_hooks()}):
        schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    union = components["SyncChange"]
    assert union["discriminator"]["propertyName"] == "type"
    assert union["discriminator"]["mapping"] == {
        kind: f"#/components/schemas/{name}"
        for kind, name in {
            "session": "SessionChange",
            "entry": "EntryChange",
            "measure": "MeasureChange",
            "prompt": "PromptChange",
        }.items()
    }
    assert components["PromptChange"]["properties"]["type"] == {
        "$ref": "#/components/schemas/PromptChangeType"
    }
    assert components["PromptChangeType"]["enum"] == ["prompt"]
