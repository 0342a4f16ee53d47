"""Sync: every change of the patient's, tombstones included, once, in change order."""

from __future__ import annotations

import base64
import threading
import time
import uuid

import pytest
from django.db import connection, transaction

from journal.entries import services
from journal.keys import sealer_for
from journal.models import SyncState
from journal.sync.cursor import encode_sync_cursor
from tests.conftest import client_for
from tests.journal.factories import make_entry, make_patient, make_reflections, make_session

URL = "/api/v1/sync/"


def sync(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def sync_all(client, *, since: str | None = None, limit: int = 200):
    """Page through sync until has_more is false; returns (changes, cursor, pages)."""
    changes, pages = [], 0
    params = {"limit": limit} | ({"since": since} if since else {})
    while True:
        page = sync(client, **params)
        pages += 1
        changes += page["changes"]
        params["since"] = page["cursor"]
        if not page["has_more"]:
            return changes, page["cursor"], pages


@pytest.mark.django_db
def test_first_sync_returns_everything_in_change_order(patient_client, patient) -> None:
    session = make_session(patient, note="a note")
    entry = make_entry(patient, body="a body")

    page = sync(patient_client)

    assert page["has_more"] is False
    assert [(c["type"], c["id"]) for c in page["changes"]] == [
        ("session", str(session.id)),
        ("entry", str(entry.id)),
    ]
    first, second = page["changes"]
    assert first["change"] < second["change"]
    assert first["deleted"] is False
    assert first["data"]["note"] == "a note"
    assert second["data"]["body"] == "a body"
    read = patient_client.get(f"/api/v1/entries/{entry.id}/").json()
    # The read carries the not-monitored notice; sync sends records only.
    assert second["data"] == {key: value for key, value in read.items() if key != "notice"}


@pytest.mark.django_db
def test_nothing_new_keeps_the_cursor(patient_client, patient) -> None:
    make_entry(patient)
    cursor = sync(patient_client)["cursor"]

    page = sync(patient_client, since=cursor)

    assert page == {
        "changes": [],
        "cursor": cursor,
        "has_more": False,
        "local_notifications": True,
    }


@pytest.mark.django_db
def test_empty_journal_syncs_to_an_empty_page(patient_client) -> None:
    page = sync(patient_client)

    assert page["changes"] == []
    assert page["has_more"] is False


@pytest.mark.django_db
def test_paging_returns_every_change_exactly_once_including_tombstones(
    patient_client, patient
) -> None:
    sessions = [make_session(patient, kind="integration") for _ in range(3)]
    entries = [make_entry(patient) for _ in range(5)]
    patient_client.patch(f"/api/v1/entries/{entries[0].id}/", {"body": "edited", "version": 1})
    patient_client.delete(f"/api/v1/sessions/{sessions[1].id}/", HTTP_IF_MATCH="*")
    patient_client.delete(f"/api/v1/entries/{entries[2].id}/", HTTP_IF_MATCH="*")
    later = make_entry(patient)

    changes, _, pages = sync_all(patient_client, limit=3)

    assert pages == 3
    numbers = [change["change"] for change in changes]
    assert numbers == sorted(numbers)
    assert len(numbers) == len(set(numbers))
    by_id = {change["id"]: change for change in changes}
    assert len(by_id) == len(changes) == 9  # each record once, in its latest state
    assert by_id[str(entries[0].id)]["data"]["body"] == "edited"
    assert by_id[str(sessions[1].id)] | {"change": None} == {
        "type": "session",
        "id": str(sessions[1].id),
        "change": None,
        "deleted": True,
        "data": None,
    }
    assert by_id[str(entries[2].id)]["deleted"] is True
    assert by_id[str(entries[2].id)]["data"] is None
    assert changes[-1]["id"] == str(later.id)


@pytest.mark.django_db
def test_sync_from_a_cursor_returns_only_later_changes(patient_client, patient) -> None:
    make_entry(patient)
    session = make_session(patient)
    cursor = sync(patient_client)["cursor"]
    entry = make_entry(patient)
    patient_client.patch(f"/api/v1/sessions/{session.id}/", {"note": "moved", "version": 1})

    page = sync(patient_client, since=cursor)

    assert [c["id"] for c in page["changes"]] == [str(entry.id), str(session.id)]
    assert page["changes"][1]["data"]["note"] == "moved"


# Not a random one: the cursors name parametrized tests, and every test process must
# collect the same names (pytest-xdist).
ANY_PATIENT = uuid.UUID(int=1)


def cursor_for(number, patient_id=None) -> str:
    """A cursor the feed would give the patient (any patient: a malformed one is refused
    before whose it is)."""
    return encode_sync_cursor(number, patient_id=patient_id or ANY_PATIENT)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "since",
    [
        "garbage",
        "c1.",
        "c1.!!!",
        "c2." + base64.urlsafe_b64encode(b"5").decode(),
        cursor_for(5).rsplit(".", 1)[0],
        cursor_for(5) + "A",
        "c1." + base64.urlsafe_b64encode(b"abc").decode().rstrip("="),
        "c1." + base64.urlsafe_b64encode(b"-1").decode().rstrip("="),
        cursor_for(2**63),
        "x" * 65,
    ],
)
def test_rejects_a_malformed_cursor(patient_client, since) -> None:
    response = patient_client.get(URL, {"since": since})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "since" in response.json()["errors"]


@pytest.mark.django_db
def test_a_cursor_given_before_cursors_were_bound_answers_410(patient_client) -> None:
    # "c1.MTU": change 15, from before a cursor named its account. The app holds one from
    # an earlier build; 410 tells it to start again, as for any cursor not this account's.
    response = patient_client.get(URL, {"since": "c1.MTU"})

    assert response.status_code == 410
    assert response.json()["code"] == "resync_required"


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [0, 501, "all"])
def test_rejects_a_limit_out_of_range(patient_client, limit) -> None:
    response = patient_client.get(URL, {"limit": limit})

    assert response.status_code == 400
    assert "limit" in response.json()["errors"]


@pytest.mark.django_db
def test_sync_uses_a_constant_number_of_queries(
    patient_client, patient, django_assert_max_num_queries
) -> None:
    intention = make_entry(patient, kind="intention")
    make_reflections(patient, intention, 30)
    for _ in range(30):
        make_session(patient, kind="integration")

    with django_assert_max_num_queries(5):
        page = sync(patient_client, limit=500)

    assert len(page["changes"]) == 61


# A concurrent writer cannot be skipped


def wait_until_blocked_on_a_lock(timeout: float = 5.0) -> None:
    """Wait until some other connection of this database waits for a row lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] > 0:
                return
            time.sleep(0.02)
    raise AssertionError("the second writer never waited for the lock")


# Real commits from two connections. `available_apps` makes the flush afterwards cascade:
# knox's own token table (replaced by accounts.DeviceToken, yet still migrated) refers to
# users and is not in Django's list of tables to empty.
@pytest.mark.django_db(
    transaction=True,
    available_apps=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "backend.accounts",
        "journal",
    ],
)
def test_a_concurrent_writer_cannot_be_skipped() -> None:
    # Given a patient with one synced entry
    patient = make_patient(email="concurrent@example.org")
    sealer_for(patient).active_version()  # the data key exists before the writers race
    client = client_for(patient)
    make_entry(patient, body="before")
    cursor = sync(client)["cursor"]

    a_has_its_number = threading.Event()
    a_may_commit = threading.Event()
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def writer_a() -> None:
        try:
            with transaction.atomic():
                entry = services.entry_create(patient=patient, kind="note", body="A").record
                results["a"] = entry.change
                a_has_its_number.set()
                assert a_may_commit.wait(10)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            a_has_its_number.set()
        finally:
            connection.close()

    def writer_b() -> None:
        try:
            results["b"] = services.entry_create(
                patient=patient, kind="note", body="B"
            ).record.change
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    # When writer A has taken a change number and holds its transaction open,
    thread_a = threading.Thread(target=writer_a)
    thread_a.start()
    assert a_has_its_number.wait(10)
    # and writer B has to wait for A's lock on the patient's counter,
    thread_b = threading.Thread(target=writer_b)
    thread_b.start()
    try:
        wait_until_blocked_on_a_lock()
        assert "b" not in results

        # then a sync meanwhile returns nothing at or above A's uncommitted number.
        between = sync(client, since=cursor)
        assert all(change["change"] < results["a"] for change in between["changes"])
        assert between["changes"] == []
        assert between["cursor"] == cursor
    finally:
        a_may_commit.set()
        thread_a.join(10)
        thread_b.join(10)
    assert not errors, errors

    # After both commit, paging on from the earlier cursor returns both, in order.
    assert results["b"] == results["a"] + 1
    changes, _, _ = sync_all(client, since=between["cursor"], limit=1)
    assert [change["change"] for change in changes] == [results["a"], results["b"]]
    assert [change["data"]["body"] for change in changes] == ["A", "B"]
    assert SyncState.objects.get(patient=patient).last_change == results["b"]


@pytest.mark.django_db
def test_tombstones_after_a_cursor_are_reported(patient_client, patient) -> None:
    entry = make_entry(patient)
    cursor = sync(patient_client)["cursor"]

    patient_client.delete(f"/api/v1/entries/{entry.id}/", HTTP_IF_MATCH="*")
    page = sync(patient_client, since=cursor)

    assert [(c["id"], c["deleted"], c["data"]) for c in page["changes"]] == [
        (str(entry.id), True, None)
    ]


def counter_of(patient) -> int:
    return SyncState.objects.get(patient=patient).last_change


@pytest.mark.django_db
def test_a_cursor_ahead_of_the_counter_answers_410_resync_required(patient_client, patient) -> None:
    """After a restore of the database (or with a cursor from somewhere else) the counter is
    behind the app's cursor: an empty page would hide every change until it caught up."""
    make_entry(patient)
    make_entry(patient)
    ahead = cursor_for(counter_of(patient) + 1, patient.pk)

    response = patient_client.get(URL, {"since": ahead})

    assert response.status_code == 410, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "resync_required"
    assert problem["status"] == 410
    # What the app does next works, and brings everything.
    assert len(sync(patient_client)["changes"]) == 2


@pytest.mark.django_db
def test_the_last_cursor_given_out_is_not_ahead(patient_client, patient) -> None:
    make_entry(patient)
    cursor = sync(patient_client)["cursor"]

    assert sync(patient_client, since=cursor)["changes"] == []
    assert sync(patient_client, since=cursor_for(counter_of(patient), patient.pk))["changes"] == []


@pytest.mark.django_db
def test_a_new_patient_takes_the_empty_cursor_and_no_other(patient_client, patient) -> None:
    cursor = sync(patient_client)["cursor"]

    assert sync(patient_client, since=cursor)["changes"] == []
    response = patient_client.get(URL, {"since": cursor_for(1, patient.pk)})
    assert response.status_code == 410
    assert response.json()["code"] == "resync_required"


@pytest.mark.django_db
def test_another_accounts_cursor_ahead_of_this_one_answers_410(patient_client, patient) -> None:
    other = make_patient(email="other@example.com")
    for _ in range(3):
        make_entry(other)
    make_entry(patient)
    theirs = sync(client_for(other))["cursor"]

    response = patient_client.get(URL, {"since": theirs})

    assert response.status_code == 410
    problem = response.json()
    assert problem["code"] == "resync_required"
    # It tells nothing of the other account, nor this one's counter.
    assert str(counter_of(other)) not in problem["detail"]
    assert set(problem) <= {"type", "title", "status", "detail", "code", "instance", "request_id"}


@pytest.mark.django_db
def test_another_accounts_cursor_behind_this_one_answers_410(patient_client, patient) -> None:
    """A cursor kept across a switch of account: its number is no position in this
    account's feed, and a page after it would leave out this account's earlier changes."""
    other = make_patient(email="other@example.com")
    make_entry(other)
    theirs = sync(client_for(other))["cursor"]
    for _ in range(3):
        make_entry(patient)

    response = patient_client.get(URL, {"since": theirs})

    assert response.status_code == 410, response.content
    assert response.json()["code"] == "resync_required"
    assert len(sync(patient_client)["changes"]) == 3


@pytest.mark.django_db
def test_an_altered_cursor_answers_410(patient_client, patient) -> None:
    for _ in range(3):
        make_entry(patient)
    cursor = sync(patient_client, limit=1)["cursor"]
    tag = cursor.rsplit(".", 1)[1]
    altered = "c2." + base64.urlsafe_b64encode(b"2").decode().rstrip("=") + "." + tag

    response = patient_client.get(URL, {"since": altered})

    assert response.status_code == 410
    assert response.json()["code"] == "resync_required"


@pytest.mark.django_db
def test_a_cursor_made_under_a_retired_secret_key_still_reads(
    patient_client, patient, settings
) -> None:
    make_entry(patient)
    cursor = sync(patient_client)["cursor"]
    entry = make_entry(patient)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-" + "x" * 50

    assert [c["id"] for c in sync(patient_client, since=cursor)["changes"]] == [str(entry.id)]

    settings.SECRET_KEY_FALLBACKS = []
    response = patient_client.get(URL, {"since": cursor})
    assert response.status_code == 410
    assert response.json()["code"] == "resync_required"
