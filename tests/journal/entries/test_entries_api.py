"""Journal entries API: create, read, list, change, delete, links to sessions and intentions."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from journal import keys
from journal.entries import selectors, services
from journal.models import Entry
from tests.journal.api_checks import (
    assert_field_error,
    assert_unknown_parameter,
    ids_page_by_page,
)
from tests.journal.factories import make_entry, make_reflections, make_session

pytestmark = pytest.mark.django_db

URL = "/api/v1/entries/"


def detail(entry_id) -> str:
    return f"{URL}{entry_id}/"


def past_dosing(patient, **fields):
    return make_session(patient, scheduled_start=timezone.now() - timedelta(days=1), **fields)


# Create and read


def test_creates_an_entry_and_reads_it_back(patient_client) -> None:
    payload = {
        "kind": "checkin",
        "title": "Tuesday",
        "body": "Slept badly.\nBetter by noon.",
        "tags": ["sleep", "work"],
        "mood": 4,
    }

    response = patient_client.post(URL, payload, format="json")

    assert response.status_code == 201
    created = response.json()
    assert {key: created[key] for key in payload} == payload
    assert created["session"] is None
    assert created["intention_ids"] == []
    assert created["version"] == 1
    assert response["ETag"] == '"1"'
    read = patient_client.get(detail(created["id"]))
    assert read.json() == created
    assert read["ETag"] == '"1"'


def test_keeps_text_exactly_as_written(patient_client) -> None:
    text = "  indented\ttabs, emoji 🌊, accents é, trailing space  "

    response = patient_client.post(URL, {"kind": "note", "title": text, "body": text})

    assert response.json()["title"] == text
    assert response.json()["body"] == text


def test_repeated_create_with_the_same_id_answers_200_without_a_duplicate(patient_client) -> None:
    payload = {"id": str(uuid.uuid4()), "kind": "note", "body": "once", "tags": ["a", "b"]}
    first = patient_client.post(URL, payload, format="json")

    repeat = patient_client.post(URL, payload, format="json")

    assert (first.status_code, repeat.status_code) == (201, 200)
    assert repeat.json() == first.json()
    assert Entry.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [{"body": "twice"}, {"tags": ["b", "a"]}, {"title": "new"}, {"mood": 3}, {"kind": "checkin"}],
)
def test_same_id_with_different_content_is_an_id_conflict(patient_client, change) -> None:
    payload = {"id": str(uuid.uuid4()), "kind": "note", "body": "once", "tags": ["a", "b"]}
    patient_client.post(URL, payload, format="json")

    response = patient_client.post(URL, {**payload, **change}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "id_conflict"
    assert Entry.objects.get().version == 1


def test_repeat_of_an_intention_succeeds_after_its_session_has_begun(
    patient_client, patient
) -> None:
    # An offline client's retry may arrive after the session it was written for started.
    session = make_session(patient, scheduled_start=timezone.now() + timedelta(hours=1))
    payload = {"id": str(uuid.uuid4()), "kind": "intention", "session": str(session.id)}
    assert patient_client.post(URL, payload, format="json").status_code == 201

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        repeat = patient_client.post(URL, payload, format="json")

    assert repeat.status_code == 200
    assert Entry.objects.count() == 1


# Validation


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({"kind": "dream"}, "kind", id="unknown-kind"),
        pytest.param({"title": "x"}, "kind", id="no-kind"),
        pytest.param({"kind": "note", "title": "x" * 201}, "title", id="title-too-long"),
        pytest.param({"kind": "note", "body": "x" * 20_001}, "body", id="body-too-long"),
        pytest.param({"kind": "note", "title": "a\x00b"}, "title", id="title-with-nul"),
        pytest.param({"kind": "note", "body": "a\x00b"}, "body", id="body-with-nul"),
        pytest.param({"kind": "note", "tags": ["a\x00"]}, "tags", id="tag-with-nul"),
        pytest.param({"kind": "note", "tags": [str(n) for n in range(11)]}, "tags", id="11-tags"),
        pytest.param({"kind": "note", "tags": [""]}, "tags", id="empty-tag"),
        pytest.param({"kind": "note", "tags": ["x" * 41]}, "tags", id="tag-too-long"),
        pytest.param({"kind": "note", "tags": "calm"}, "tags", id="tags-not-a-list"),
        pytest.param({"kind": "note", "mood": 11}, "mood", id="mood-over-10"),
        pytest.param({"kind": "note", "mood": -1}, "mood", id="mood-below-0"),
        pytest.param({"kind": "note", "session": "nope"}, "session", id="session-not-a-uuid"),
        pytest.param({"kind": "note", "id": "nope"}, "id", id="id-not-a-uuid"),
        pytest.param({"kind": "note", "session_id": str(uuid.uuid4())}, "non_field_errors"),
        pytest.param({"kind": "note", "version": 1}, "non_field_errors", id="version-on-create"),
    ],
)
def test_rejects_invalid_entry(patient_client, payload, field) -> None:
    response = patient_client.post(URL, payload, format="json")

    assert_field_error(response, field)
    assert not Entry.objects.exists()


@pytest.mark.parametrize("field", ["title", "body"])
def test_rejects_text_with_a_lone_surrogate(patient_client, field) -> None:
    raw = f'{{"kind": "note", "{field}": "half \\udc00 a pair"}}'

    response = patient_client.post(URL, raw, content_type="application/json")

    assert_field_error(response, field)
    assert not Entry.objects.exists()


def test_rejects_a_tag_with_a_lone_surrogate(patient_client) -> None:
    raw = '{"kind": "note", "tags": ["ok", "\\ud83d"]}'

    response = patient_client.post(URL, raw, content_type="application/json")

    assert_field_error(response, "tags")


# Links to sessions


def test_rejects_a_session_of_another_patient_like_a_missing_one(
    patient_client, other_patient
) -> None:
    theirs = make_session(other_patient)

    response = patient_client.post(URL, {"kind": "note", "session": str(theirs.id)})
    missing = patient_client.post(URL, {"kind": "note", "session": str(uuid.uuid4())})

    assert_field_error(response, "session")
    assert response.json()["errors"] == missing.json()["errors"]
    assert not Entry.objects.exists()


def test_rejects_a_deleted_session(patient_client, patient) -> None:
    session = make_session(patient, kind="integration")
    patient_client.delete(f"/api/v1/sessions/{session.id}/", HTTP_IF_MATCH="*")

    response = patient_client.post(URL, {"kind": "note", "session": str(session.id)})

    assert_field_error(response, "session")


def test_links_an_intention_to_an_upcoming_dosing_session(patient_client, patient) -> None:
    session = make_session(patient)

    response = patient_client.post(URL, {"kind": "intention", "session": str(session.id)})

    assert response.status_code == 201
    assert response.json()["session"] == str(session.id)


def post_linked(client, patient, kind: str, session_fields: dict[str, Any]):
    """Posts an entry of `kind` linked to a new session `scheduled_start_days` from now
    (with the other fields)."""
    fields = dict(session_fields)
    days = fields.pop("scheduled_start_days")
    session = make_session(patient, scheduled_start=timezone.now() + timedelta(days=days), **fields)
    return client.post(URL, {"kind": kind, "session": str(session.id)})


@pytest.mark.parametrize(
    "session_fields",
    [
        pytest.param({"scheduled_start_days": -1}, id="past"),
        pytest.param({"scheduled_start_days": -1, "status": "completed"}, id="completed"),
        pytest.param({"scheduled_start_days": 2, "status": "cancelled"}, id="cancelled"),
        pytest.param({"scheduled_start_days": 2, "kind": "preparation"}, id="not-dosing"),
    ],
)
def test_rejects_an_intention_linked_to_a_session_that_is_not_upcoming_dosing(
    patient_client, patient, session_fields
) -> None:
    response = post_linked(patient_client, patient, "intention", session_fields)

    assert_field_error(response, "session")
    assert "upcoming dosing session" in response.json()["errors"]["session"][0]
    assert not Entry.objects.exists()


@pytest.mark.parametrize(
    "session_fields",
    [
        pytest.param({"scheduled_start_days": -1}, id="scheduled-in-the-past"),
        pytest.param({"scheduled_start_days": -1, "status": "completed"}, id="completed"),
    ],
)
def test_links_a_reflection_to_a_dosing_session_that_took_place(
    patient_client, patient, session_fields
) -> None:
    response = post_linked(patient_client, patient, "reflection", session_fields)

    assert response.status_code == 201


@pytest.mark.parametrize(
    "session_fields",
    [
        pytest.param({"scheduled_start_days": 2}, id="upcoming"),
        pytest.param({"scheduled_start_days": -1, "status": "cancelled"}, id="cancelled"),
        pytest.param({"scheduled_start_days": -1, "kind": "integration"}, id="not-dosing"),
    ],
)
def test_rejects_reflection_linked_to_a_session_that_did_not_take_place(
    patient_client, patient, session_fields
) -> None:
    response = post_linked(patient_client, patient, "reflection", session_fields)

    assert_field_error(response, "session")
    assert "taken place" in response.json()["errors"]["session"][0]


def test_rejects_reflection_linked_to_upcoming_session(patient_client, patient) -> None:
    session = make_session(patient)

    response = patient_client.post(URL, {"kind": "reflection", "session": str(session.id)})

    assert_field_error(response, "session")


def test_other_kinds_link_to_any_session_of_the_patient(patient_client, patient) -> None:
    session = make_session(patient, kind="integration")

    response = patient_client.post(URL, {"kind": "exercise", "session": str(session.id)})

    assert response.status_code == 201


def test_an_intention_can_still_be_edited_after_its_session_took_place(
    patient_client, patient
) -> None:
    session = make_session(patient, scheduled_start=timezone.now() + timedelta(hours=1))
    intention = make_entry(patient, kind="intention", session_id=session.id)

    with time_machine.travel(timezone.now() + timedelta(days=1)):
        response = patient_client.patch(detail(intention.id), {"body": "later", "version": 1})

    assert response.status_code == 200
    assert response.json()["session"] == str(session.id)


def test_an_intention_sent_back_whole_can_still_be_edited_after_its_session(
    patient_client, patient
) -> None:
    # A client that sends the whole record back (kind and session unchanged) is not
    # linking the intention anew: its link is not checked again.
    session = make_session(patient, scheduled_start=timezone.now() + timedelta(hours=1))
    intention = make_entry(patient, kind="intention", session_id=session.id)

    with time_machine.travel(timezone.now() + timedelta(days=1)):
        response = patient_client.patch(
            detail(intention.id),
            {"kind": "intention", "session": str(session.id), "body": "later", "version": 1},
            format="json",
        )

    assert response.status_code == 200, response.json()
    assert response.json()["body"] == "later"
    assert Entry.objects.get(pk=intention.pk).version == 2


def test_moving_an_intention_to_a_past_session_is_rejected(patient_client, patient) -> None:
    intention = make_entry(patient, kind="intention", session_id=make_session(patient).id)
    past = past_dosing(patient)

    response = patient_client.patch(detail(intention.id), {"session": str(past.id), "version": 1})

    assert_field_error(response, "session")
    assert Entry.objects.get(pk=intention.pk).version == 1


# Intentions a reflection looks back on


def test_a_reflection_looks_back_on_intentions(patient_client, patient) -> None:
    first = make_entry(patient, kind="intention")
    second = make_entry(patient, kind="intention")

    response = patient_client.post(
        URL,
        {"kind": "reflection", "intention_ids": [str(second.id), str(first.id), str(first.id)]},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["intention_ids"] == sorted([str(first.id), str(second.id)])


def test_rejects_intention_ids_on_an_entry_that_is_not_a_reflection(
    patient_client, patient
) -> None:
    intention = make_entry(patient, kind="intention")

    response = patient_client.post(
        URL, {"kind": "note", "intention_ids": [str(intention.id)]}, format="json"
    )

    assert_field_error(response, "intention_ids")


@pytest.mark.parametrize("whose", ["other-patient", "not-an-intention", "missing", "deleted"])
def test_rejects_intention_ids_that_are_not_own_live_intentions(
    patient_client, patient, other_patient, whose
) -> None:
    if whose == "other-patient":
        target = make_entry(other_patient, kind="intention").id
    elif whose == "not-an-intention":
        target = make_entry(patient, kind="note").id
    elif whose == "missing":
        target = uuid.uuid4()
    else:
        target = make_entry(patient, kind="intention").id
        patient_client.delete(detail(target), HTTP_IF_MATCH="*")
    count = Entry.objects.count()

    response = patient_client.post(
        URL, {"kind": "reflection", "intention_ids": [str(target)]}, format="json"
    )

    assert_field_error(response, "intention_ids")
    assert Entry.objects.count() == count


def test_patch_replaces_the_intentions_of_a_reflection(patient_client, patient) -> None:
    first = make_entry(patient, kind="intention")
    second = make_entry(patient, kind="intention")
    reflection = make_entry(patient, kind="reflection", intention_ids=[first.id])

    response = patient_client.patch(
        detail(reflection.id), {"intention_ids": [str(second.id)], "version": 1}, format="json"
    )

    assert response.json()["intention_ids"] == [str(second.id)]
    assert list(Entry.objects.get(pk=reflection.pk).intentions.all()) == [second]


def test_a_reflection_sent_back_whole_keeps_a_deleted_intention(patient_client, patient) -> None:
    # The reflection keeps the id of an intention deleted since; sending its ids back
    # unchanged with an edit is not looking back on them anew.
    intention = make_entry(patient, kind="intention")
    reflection = make_entry(patient, kind="reflection", intention_ids=[intention.id])
    deleted = patient_client.delete(detail(intention.id), HTTP_IF_MATCH='"1"')
    assert deleted.status_code == 204
    shown = patient_client.get(detail(reflection.id)).json()

    response = patient_client.patch(
        detail(reflection.id),
        {
            "kind": "reflection",
            "intention_ids": shown["intention_ids"],
            "body": "later",
            "version": 1,
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["intention_ids"] == [str(intention.id)]
    assert response.json()["body"] == "later"


def test_a_reflection_keeps_a_deleted_intention_when_another_is_added(
    patient_client, patient
) -> None:
    # The ids shown back, with one more: only the added one is a new link to check.
    gone = make_entry(patient, kind="intention")
    reflection = make_entry(patient, kind="reflection", intention_ids=[gone.id])
    assert patient_client.delete(detail(gone.id), HTTP_IF_MATCH='"1"').status_code == 204
    added = make_entry(patient, kind="intention")
    shown = patient_client.get(detail(reflection.id)).json()

    response = patient_client.patch(
        detail(reflection.id),
        {"intention_ids": [*shown["intention_ids"], str(added.id)], "version": 1},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["intention_ids"] == sorted([str(gone.id), str(added.id)])


def test_a_reflection_cannot_newly_look_back_on_a_deleted_intention(
    patient_client, patient
) -> None:
    gone = make_entry(patient, kind="intention")
    reflection = make_entry(patient, kind="reflection")
    assert patient_client.delete(detail(gone.id), HTTP_IF_MATCH='"1"').status_code == 204

    response = patient_client.patch(
        detail(reflection.id), {"intention_ids": [str(gone.id)], "version": 1}, format="json"
    )

    assert_field_error(response, "intention_ids")


# Change and delete


def test_patch_of_the_body_keeps_title_and_tags(patient_client, patient) -> None:
    entry = make_entry(patient, title="kept title", body="old", tags=["kept"], mood=3)

    response = patient_client.patch(
        detail(entry.id), {"body": "new"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["body"], body["tags"], body["mood"]) == (
        "kept title",
        "new",
        ["kept"],
        3,
    )
    assert body["version"] == 2
    assert response["ETag"] == '"2"'


def test_patch_can_clear_mood_and_session(patient_client, patient) -> None:
    session = make_session(patient, kind="integration")
    entry = make_entry(patient, mood=5, session_id=session.id)

    response = patient_client.patch(
        detail(entry.id), {"mood": None, "session": None, "version": 1}, format="json"
    )

    assert (response.json()["mood"], response.json()["session"]) == (None, None)


def test_patch_without_a_version_is_428(patient_client, patient) -> None:
    entry = make_entry(patient, body="old")

    response = patient_client.patch(detail(entry.id), {"body": "new"}, format="json")

    assert response.status_code == 428
    assert response.json()["code"] == "precondition_required"
    assert patient_client.get(detail(entry.id)).json()["body"] == "old"


def test_patch_with_a_stale_version_is_412_with_the_current_entry(patient_client, patient) -> None:
    entry = make_entry(patient, body="old")
    patient_client.patch(detail(entry.id), {"body": "from phone", "version": 1}, format="json")

    response = patient_client.patch(
        detail(entry.id), {"body": "from laptop"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 412
    assert response.json()["code"] == "version_conflict"
    assert response.json()["current"]["body"] == "from phone"
    assert response["ETag"] == '"2"'
    assert patient_client.get(detail(entry.id)).json()["body"] == "from phone"


def test_patch_rejects_unknown_fields(patient_client, patient) -> None:
    entry = make_entry(patient)

    response = patient_client.patch(detail(entry.id), {"id": str(uuid.uuid4()), "version": 1})

    assert_field_error(response, "non_field_errors")


def test_delete_leaves_a_tombstone_and_a_repeat_answers_the_same(patient_client, patient) -> None:
    intention = make_entry(patient, kind="intention")
    entry = make_entry(patient, kind="reflection", mood=6, intention_ids=[intention.id])
    before = Entry.objects.get(pk=entry.pk)

    response = patient_client.delete(detail(entry.id), HTTP_IF_MATCH='"1"')

    assert response.status_code == 204
    tombstone = Entry.objects.get(pk=entry.pk)
    assert tombstone.deleted_at is not None
    assert (tombstone.title_sealed, tombstone.content_sealed, tombstone.mood) == ("", "", None)
    assert tombstone.version == 2
    assert tombstone.change > before.change
    assert not tombstone.intentions.exists()
    gone = patient_client.get(detail(entry.id))
    assert (gone.status_code, gone.json()["code"]) == (410, "gone")
    assert gone.json()["version"] == 2
    assert gone["ETag"] == response["ETag"]
    assert patient_client.patch(detail(entry.id), {"version": 2}).status_code == 410
    repeat = patient_client.delete(detail(entry.id), HTTP_IF_MATCH='"1"')
    assert (repeat.status_code, repeat["ETag"]) == (204, response["ETag"])
    assert Entry.objects.get(pk=entry.pk).version == 2  # the repeat changed nothing
    assert [item["id"] for item in patient_client.get(URL).json()["results"]] == [str(intention.id)]


def test_a_delete_answers_the_tombstone_without_the_links_it_cleared(patient) -> None:
    # The row is read with its links before they are cleared: the tombstone the delete
    # answers must not carry them, and must be the one a repeated delete answers.
    intention = make_entry(patient, kind="intention")
    reflection = make_entry(patient, kind="reflection", intention_ids=[intention.id])

    deleted = services.entry_delete(patient=patient, entry_id=reflection.id, expected_versions=None)
    repeated = services.entry_delete(
        patient=patient, entry_id=reflection.id, expected_versions=None
    )

    assert selectors.intention_ids(deleted) == [] == selectors.intention_ids(repeated)
    assert deleted.version == repeated.version == 2


def test_delete_without_if_match_is_428(patient_client, patient) -> None:
    entry = make_entry(patient)

    response = patient_client.delete(detail(entry.id))

    assert (response.status_code, response.json()["code"]) == (428, "precondition_required")
    assert Entry.objects.get(pk=entry.pk).deleted_at is None


def test_delete_with_a_stale_if_match_is_412(patient_client, patient) -> None:
    entry = make_entry(patient)

    response = patient_client.delete(detail(entry.id), HTTP_IF_MATCH='"2"')

    assert response.status_code == 412
    assert Entry.objects.get(pk=entry.pk).deleted_at is None


def test_entries_keep_the_link_to_a_deleted_session(patient_client, patient) -> None:
    session = make_session(patient, kind="integration")
    entry = make_entry(patient, session_id=session.id)

    patient_client.delete(f"/api/v1/sessions/{session.id}/", HTTP_IF_MATCH="*")

    assert patient_client.get(detail(entry.id)).json()["session"] == str(session.id)


# List


def test_lists_entries_newest_first_and_filters_them(patient_client, patient) -> None:
    session = make_session(patient, kind="integration")
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=3), tick=False):
        oldest = make_entry(patient, kind="checkin")
    with time_machine.travel(start - timedelta(days=2), tick=False):
        middle = make_entry(patient, kind="note", session_id=session.id)
    with time_machine.travel(start - timedelta(days=1), tick=False):
        newest = make_entry(patient, kind="checkin")

    def ids(**params):
        response = patient_client.get(URL, params)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["results"]]

    assert ids() == [str(newest.id), str(middle.id), str(oldest.id)]
    assert ids(kind="checkin") == [str(newest.id), str(oldest.id)]
    assert ids(session=str(session.id)) == [str(middle.id)]
    assert ids(created_after=(start - timedelta(days=2, hours=12)).isoformat()) == [
        str(newest.id),
        str(middle.id),
    ]
    assert ids(created_before=(start - timedelta(days=1, hours=12)).isoformat()) == [
        str(middle.id),
        str(oldest.id),
    ]


def test_pages_entries_with_a_cursor_without_gaps_or_repeats(patient_client, patient) -> None:
    made = [make_entry(patient) for _ in range(7)]

    seen = ids_page_by_page(patient_client, URL, 3)

    assert sorted(seen) == sorted(str(entry.id) for entry in made)
    assert len(seen) == len(set(seen)) == 7


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "dream"}, "kind"),
        ({"session": "abc"}, "session"),
        ({"created_after": "soon"}, "created_after"),
        ({"created_before": "3000-01-01T00:00:00Z"}, "created_before"),
        ({"limit": 500}, "limit"),
        ({"cursor": "bm9wZQ"}, "cursor"),
    ],
)
def test_rejects_invalid_list_parameters(patient_client, params, field) -> None:
    assert_field_error(patient_client.get(URL, params), field)


def test_an_unknown_list_parameter_answers_400_unknown_parameter(patient_client) -> None:
    assert_unknown_parameter(patient_client.get(URL, {"sort": "title"}))


def count_list_queries(client) -> int:
    keys.clear_cache()  # every request then loads the patient's keys once, from the database
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"limit": 200})
    assert response.status_code == 200
    return len(queries)


def test_list_uses_the_same_number_of_queries_for_5_and_50_entries(
    patient_client, patient, django_assert_max_num_queries
) -> None:
    intention = make_entry(patient, kind="intention")
    make_reflections(patient, intention, 4)
    with django_assert_max_num_queries(3):
        count_list_queries(patient_client)
    few = count_list_queries(patient_client)

    make_reflections(patient, intention, 45)
    with django_assert_max_num_queries(3):
        count_list_queries(patient_client)

    assert count_list_queries(patient_client) == few


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].split()[0].upper() not in {"SAVEPOINT", "RELEASE"}
    ]


def test_a_create_without_links_is_one_statement(patient_client, patient) -> None:
    """With the patient's key and its active version in memory: the change number and the
    insert together (journal.sql), atomic without a transaction block."""
    make_entry(patient, kind="note")  # the key and its version are now in memory
    body = {"id": str(uuid.uuid4()), "kind": "note", "title": "t", "body": "b"}
    with CaptureQueriesContext(connection) as queries:
        assert patient_client.post(URL, body, format="json").status_code == 201
    sql = statements(queries)
    assert len(sql) == 1, sql
    assert sql[0].startswith("WITH"), sql
    assert "UPDATE" in sql[0]
    assert "INSERT" in sql[0]


def test_a_create_with_links_checks_them_under_the_write_lock(patient_client, patient) -> None:
    """The id check, the change number (which locks the patient's counter), the link
    checks, the insert (in a savepoint: a taken id is a 409), the links and their ids."""
    intention = make_entry(patient, kind="intention")
    body = {
        "id": str(uuid.uuid4()),
        "kind": "reflection",
        "body": "b",
        "intention_ids": [str(intention.id)],
    }
    with CaptureQueriesContext(connection) as queries:
        response = patient_client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["intention_ids"] == [str(intention.id)]
    sql = [text.split()[0].upper() for text in statements(queries)]
    assert sql[:3] == ["SELECT", "UPDATE", "SELECT"], sql
    assert "INSERT" in sql


def test_a_change_reads_the_links_once_and_never_reads_back_what_it_wrote(
    patient_client, patient
) -> None:
    intention, other = make_entry(patient, kind="intention"), make_entry(patient, kind="intention")
    reflection = make_entry(patient, kind="reflection", intention_ids=[intention.id])
    links = Entry.intentions.through._meta.db_table

    def change(body: dict[str, Any], version: int) -> tuple[dict[str, Any], list[str]]:
        with CaptureQueriesContext(connection) as queries:
            response = patient_client.patch(detail(reflection.id), {**body, "version": version})
        assert response.status_code == 200, response.json()
        reads = [sql for sql in statements(queries) if sql.startswith("SELECT") and links in sql]
        return response.json(), reads

    kept, reads = change({"title": "Another title"}, 1)
    assert kept["intention_ids"] == [str(intention.id)]
    assert len(reads) == 1, reads  # with the locked row, not again for the answer

    replaced, reads = change({"intention_ids": [str(other.id)]}, 2)
    assert replaced["intention_ids"] == [str(other.id)]
    # With the locked row, and the set's own read of what to change; none for the answer.
    assert len(reads) == 2, reads


def test_a_read_of_one_entry_is_one_statement(patient_client, patient) -> None:
    intention = make_entry(patient, kind="intention")
    reflection = make_entry(patient, kind="reflection", intention_ids=[intention.id])
    with CaptureQueriesContext(connection) as queries:
        response = patient_client.get(detail(reflection.id))
    assert response.status_code == 200
    assert response.json()["intention_ids"] == [str(intention.id)]
    assert len(statements(queries)) == 1, statements(queries)
