"""The prompt inbox: listing, and open / skip / snooze / complete as compare-and-swap
transitions. The clock stands at 2026-03-02 10:00 UTC."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integration.models import Prompt, PromptStatus
from integration.prompts import inbox
from journal.models import Entry
from tests.integration.conftest import NOW
from tests.integration.factories import make_prompt, make_session

pytestmark = pytest.mark.usefixtures("frozen_now")

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
INBOX = "/api/v1/prompts/"


@pytest.fixture
def upcoming(patient):
    """A dosing session in three days, without the prompts its plan would give it."""
    return make_session(patient, NOW + 3 * D, keep_prompts=False)


@pytest.fixture
def past(patient):
    """Yesterday's dosing session (not yet marked completed)."""
    return make_session(patient, NOW - D, keep_prompts=False)


def action(client, prompt, name: str, body: dict | None = None):
    return client.post(f"{INBOX}{prompt.id}/{name}/", body or {}, format="json")


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["results"]]


def test_the_inbox_shows_due_and_recently_finished_prompts_newest_first(
    patient, patient_client, other_patient, upcoming, past
) -> None:
    sent = make_prompt(patient, upcoming, exercise_slug="set-intention", due_at=NOW - H)
    opened = make_prompt(
        patient, upcoming, exercise_slug="readiness-checklist", status="opened", due_at=NOW - 3 * H
    )
    due = make_prompt(
        patient,
        past,
        exercise_slug="next-day-reflection",
        status="scheduled",
        due_at=NOW - dt.timedelta(minutes=30),
    )
    make_prompt(patient, past, exercise_slug="body-scan", status="scheduled", due_at=NOW + H)
    done = make_prompt(
        patient,
        past,
        exercise_slug="after-session-checkin",
        status="completed",
        due_at=NOW - 2 * D,
        completed_at=NOW - D,
    )
    make_prompt(
        patient,
        past,
        exercise_slug="weekly-mood-checkin",
        status="completed",
        due_at=NOW - 31 * D,
        completed_at=NOW - 30 * D,
    )
    make_prompt(
        patient,
        past,
        exercise_slug="carry-forward",
        status="cancelled",
        due_at=NOW - H,
        cancelled_at=NOW - 2 * H,
    )
    theirs = make_session(other_patient, NOW + 3 * D, keep_prompts=False)
    make_prompt(other_patient, theirs, exercise_slug="set-intention", due_at=NOW - H)

    response = patient_client.get(INBOX)

    assert response.status_code == 200
    assert ids(response) == [str(p.id) for p in (due, sent, opened, done)]


def test_a_prompt_shows_its_exercise_times_and_answer(patient, patient_client, upcoming) -> None:
    prompt = make_prompt(
        patient, upcoming, exercise_slug="set-intention", due_at=NOW - H, sent_at=NOW - H
    )

    item = patient_client.get(INBOX).json()["results"][0]

    assert item["exercise"] == {
        "slug": "set-intention",
        "title": "Set an intention",
        "instructions": prompt.exercise.instructions,
        "estimated_minutes": 10,
        "answer_kind": "entry",
        "entry_kind": "intention",
        "instrument": None,
        "is_safety_relevant": False,
    }
    assert item["session"] == str(upcoming.id)
    assert item["status"] == "sent"
    assert item["due_at"] == "2026-03-02T09:00:00Z"
    assert item["expires_at"] == "2026-03-03T09:00:00Z"
    assert item["sent_at"] == "2026-03-02T09:00:00Z"
    assert (item["opened_at"], item["entry"], item["snoozed_until"]) == (None, None, None)
    assert patient_client.get(f"{INBOX}{prompt.id}/").json() == item


def test_the_inbox_filters_by_status(patient, patient_client, upcoming) -> None:
    sent = make_prompt(patient, upcoming, exercise_slug="set-intention", due_at=NOW - H)
    opened = make_prompt(
        patient, upcoming, exercise_slug="readiness-checklist", status="opened", due_at=NOW - 2 * H
    )
    skipped = make_prompt(
        patient,
        upcoming,
        exercise_slug="body-scan",
        status="skipped",
        due_at=NOW - 3 * H,
        skipped_at=NOW - H,
    )

    repeated = patient_client.get(INBOX, {"status": ["sent", "opened"]})
    commas = patient_client.get(INBOX + "?status=skipped,sent")
    bad = patient_client.get(INBOX + "?status=sent,nonsense")

    assert ids(repeated) == [str(sent.id), str(opened.id)]
    assert ids(commas) == [str(sent.id), str(skipped.id)]
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]


def test_the_inbox_pages_with_a_cursor(patient, patient_client, upcoming, past) -> None:
    slugs = ["set-intention", "readiness-checklist", "body-scan", "carry-forward"]
    made = [
        make_prompt(patient, upcoming, exercise_slug=slug, due_at=NOW - (n + 1) * H)
        for n, slug in enumerate(slugs)
    ]

    first = patient_client.get(INBOX, {"limit": 3}).json()
    second = patient_client.get(first["next"]).json()

    assert [item["id"] for item in first["results"] + second["results"]] == [
        str(p.id) for p in made
    ]


def test_the_inbox_takes_the_same_queries_for_any_page_size(
    patient, patient_client, upcoming, past, django_assert_max_num_queries
) -> None:
    make_prompt(patient, upcoming, exercise_slug="set-intention", due_at=NOW - H)
    with CaptureQueriesContext(connection) as one:
        patient_client.get(INBOX)
    for session in [upcoming, past] + [make_session(patient, NOW - n * D) for n in (2, 3)]:
        for slug in ("readiness-checklist", "body-scan", "carry-forward", "values-clarification"):
            make_prompt(patient, session, exercise_slug=slug, due_at=NOW - 2 * H)

    with django_assert_max_num_queries(len(one.captured_queries)):
        response = patient_client.get(INBOX, {"limit": 50})

    assert len(response.json()["results"]) >= 17
    assert len(one.captured_queries) <= 3


def test_opening_a_sent_prompt(patient, patient_client, upcoming) -> None:
    prompt = make_prompt(patient, upcoming, exercise_slug="set-intention", due_at=NOW - H)

    response = action(patient_client, prompt, "open")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["opened_at"]) == (
        "opened",
        "2026-03-02T10:00:00Z",
    )
    # Opening it again (another device, a retry) changes nothing.
    assert action(patient_client, prompt, "open").json() == response.json()


def test_a_prompt_says_it_reached_only_the_inbox_even_once_opened(
    patient, patient_client, upcoming
) -> None:
    pushed = make_prompt(patient, upcoming, exercise_slug="set-intention", due_at=NOW - H)
    inbox_only = make_prompt(patient, upcoming, exercise_slug="body-scan", due_at=NOW - H)
    Prompt.objects.filter(pk=pushed.pk).update(delivered_via="push")
    Prompt.objects.filter(pk=inbox_only.pk).update(delivered_via="inbox")
    waiting = make_prompt(
        patient, upcoming, exercise_slug="carry-forward", status="scheduled", due_at=NOW - H
    )

    listed = {row["id"]: row for row in patient_client.get(INBOX).json()["results"]}
    opened = action(patient_client, inbox_only, "open").json()

    assert [listed[str(p.pk)]["delivered_via"] for p in (pushed, inbox_only, waiting)] == [
        "push",
        "inbox",
        None,
    ]
    assert (opened["status"], opened["delivered_via"]) == ("opened", "inbox")


def test_a_due_prompt_can_be_opened_before_its_notification(
    patient, patient_client, upcoming
) -> None:
    prompt = make_prompt(
        patient, upcoming, exercise_slug="set-intention", status="scheduled", due_at=NOW - H
    )

    assert action(patient_client, prompt, "open").json()["status"] == "opened"


@pytest.mark.parametrize("name", ["open", "skip", "complete"])
def test_a_prompt_not_yet_due_cannot_be_acted_on(patient, patient_client, upcoming, name) -> None:
    prompt = make_prompt(
        patient, upcoming, exercise_slug="set-intention", status="scheduled", due_at=NOW + H
    )

    response = action(patient_client, prompt, name, {"body": "too early"})

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert Prompt.objects.get(pk=prompt.pk).status == PromptStatus.SCHEDULED
    assert not Entry.objects.filter(patient=patient).exists()


def test_skipping_a_prompt(patient, patient_client, upcoming) -> None:
    prompt = make_prompt(
        patient, upcoming, exercise_slug="body-scan", status="opened", due_at=NOW - H
    )

    response = action(patient_client, prompt, "skip")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["skipped_at"]) == (
        "skipped",
        "2026-03-02T10:00:00Z",
    )
    again = action(patient_client, prompt, "skip")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")


@pytest.mark.parametrize("status", ["completed", "skipped", "expired", "cancelled"])
def test_a_finished_prompt_cannot_be_opened_or_snoozed(
    patient, patient_client, upcoming, status
) -> None:
    prompt = make_prompt(
        patient, upcoming, exercise_slug="body-scan", status=status, due_at=NOW - H
    )

    assert action(patient_client, prompt, "open").status_code == 409
    snoozed = action(patient_client, prompt, "snooze", {"until": "2026-03-02T12:00:00Z"})
    assert snoozed.status_code == 409
    assert Prompt.objects.get(pk=prompt.pk).status == status


def test_another_patients_prompt_is_not_found(
    patient, other_patient, other_client, upcoming
) -> None:
    prompt = make_prompt(patient, upcoming, exercise_slug="set-intention", due_at=NOW - H)
    before = Prompt.objects.filter(pk=prompt.pk).values().get()

    responses = [
        other_client.get(f"{INBOX}{prompt.id}/"),
        action(other_client, prompt, "open"),
        action(other_client, prompt, "skip"),
        action(other_client, prompt, "snooze", {"until": "2026-03-02T12:00:00Z"}),
        action(other_client, prompt, "complete", {"body": "not mine"}),
    ]

    assert [r.status_code for r in responses] == [404] * 5
    assert Prompt.objects.filter(pk=prompt.pk).values().get() == before
    assert not Entry.objects.filter(patient=other_patient).exists()
    assert ids(other_client.get(INBOX)) == []


def test_completing_writes_a_sealed_entry_and_links_the_upcoming_session(
    patient, patient_client, upcoming
) -> None:
    prompt = make_prompt(patient, upcoming, exercise_slug="set-intention", due_at=NOW - H)
    title = "What I want to look at"

    response = action(
        patient_client,
        prompt,
        "complete",
        {"title": title, "body": "Why I hold back with my brother.", "tags": ["family"]},
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["completed_at"]) == ("completed", "2026-03-02T10:00:00Z")
    entry = Entry.objects.get(pk=body["entry"])
    assert (entry.patient_id, entry.kind, entry.session_id) == (
        patient.pk,
        "intention",
        upcoming.pk,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT title_sealed, content_sealed FROM journal_entry WHERE id = %s", [entry.pk]
        )
        sealed = " ".join(cursor.fetchone())
    assert title not in sealed
    assert "brother" not in sealed
    read = patient_client.get(f"/api/v1/entries/{entry.pk}/").json()
    assert (read["title"], read["tags"]) == (title, ["family"])


def test_a_reflection_links_the_session_that_took_place(patient, patient_client, past) -> None:
    prompt = make_prompt(patient, past, exercise_slug="next-day-reflection", due_at=NOW - H)

    response = action(patient_client, prompt, "complete", {"body": "Calm, far away."})

    entry = Entry.objects.get(pk=response.json()["entry"])
    assert (entry.kind, entry.session_id) == ("reflection", past.pk)


def test_an_intention_answered_after_its_session_began_is_not_linked(
    patient, patient_client, past
) -> None:
    prompt = make_prompt(patient, past, exercise_slug="set-intention", due_at=NOW - H)

    response = action(patient_client, prompt, "complete", {"body": "Late, but still."})

    assert response.status_code == 200, response.json()
    entry = Entry.objects.get(pk=response.json()["entry"])
    assert (entry.kind, entry.session_id) == ("intention", None)


def test_a_check_in_records_the_mood(patient, patient_client, past) -> None:
    prompt = make_prompt(patient, past, exercise_slug="after-session-checkin", due_at=NOW - H)

    response = action(patient_client, prompt, "complete", {"body": "", "mood": 6})

    entry = Entry.objects.get(pk=response.json()["entry"])
    assert (entry.kind, entry.mood, entry.session_id) == ("checkin", 6, past.pk)


def test_a_second_answer_to_a_completed_prompt_is_kept_as_a_late_one(
    patient, patient_client, past
) -> None:
    prompt = make_prompt(patient, past, exercise_slug="body-scan", due_at=NOW - H)
    entry_id = "3d2a3c8e-0f0b-4a53-8a7e-6a1c9b2d4e51"
    first = action(patient_client, prompt, "complete", {"entry_id": entry_id, "body": "Warm."})

    repeat = action(patient_client, prompt, "complete", {"entry_id": entry_id, "body": "Warm."})
    other = action(patient_client, prompt, "complete", {"body": "Something else."})

    assert first.status_code == repeat.status_code == 200
    assert repeat.json() == first.json()
    assert first.json()["entry"] == entry_id
    # Written on another device: kept, said to be late, the prompt unchanged.
    assert (other.status_code, other.json()["late"]) == (200, True)
    assert (other.json()["status"], other.json()["entry"]) == ("completed", entry_id)
    assert other.json()["answer"] != entry_id
    assert Entry.objects.filter(patient=patient).count() == 2


def test_a_refused_answer_leaves_the_prompt_open(patient, patient_client, past) -> None:
    prompt = make_prompt(patient, past, exercise_slug="body-scan", due_at=NOW - H)

    response = action(patient_client, prompt, "complete", {"body": "x", "mood": 11})
    unknown = action(patient_client, prompt, "complete", {"body": "x", "kind": "note"})

    assert (response.status_code, unknown.status_code) == (400, 400)
    assert Prompt.objects.get(pk=prompt.pk).status == PromptStatus.SENT
    assert not Entry.objects.filter(patient=patient).exists()


def test_an_answer_that_arrives_as_the_prompt_expires_is_kept(
    patient, patient_client, past, monkeypatch
) -> None:
    prompt = make_prompt(patient, past, exercise_slug="body-scan", due_at=NOW - H)
    # The prompt expires between the state check and the compare-and-swap.
    original = inbox._answerable

    def expired_meanwhile(now):
        Prompt.objects.filter(pk=prompt.pk).update(status=PromptStatus.EXPIRED)
        return original(now)

    monkeypatch.setattr(inbox, "_answerable", expired_meanwhile)

    response = action(patient_client, prompt, "complete", {"body": "Too late."})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["late"], body["status"]) == (True, "expired")
    entry = Entry.objects.get(patient=patient)
    assert body["entry"] == body["answer"] == str(entry.pk)
    assert patient_client.get(f"/api/v1/entries/{entry.pk}/").json()["body"] == "Too late."


def test_snoozing_asks_again_later(patient, patient_client, upcoming) -> None:
    prompt = make_prompt(
        patient, upcoming, exercise_slug="body-scan", status="opened", due_at=NOW - H
    )

    response = action(patient_client, prompt, "snooze", {"until": "2026-03-02T15:00:00+01:00"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["due_at"], body["snoozed_until"]) == (
        "scheduled",
        "2026-03-02T14:00:00Z",
        "2026-03-02T14:00:00Z",
    )
    assert body["expires_at"] == "2026-03-03T09:00:00Z"
    assert ids(patient_client.get(INBOX)) == []


@pytest.mark.parametrize(
    "until",
    [
        "2026-03-02T09:59:00Z",  # in the past
        "2026-03-02T10:00:00Z",  # now
        "2026-03-03T09:00:00Z",  # when it expires
        "2026-03-04T09:00:00Z",  # after
    ],
)
def test_snoozing_stays_within_the_answer_window(patient, patient_client, upcoming, until) -> None:
    prompt = make_prompt(patient, upcoming, exercise_slug="body-scan", due_at=NOW - H)

    response = action(patient_client, prompt, "snooze", {"until": until})

    assert response.status_code == 400
    assert "until" in response.json()["errors"]
    fresh = Prompt.objects.get(pk=prompt.pk)
    assert (fresh.status, fresh.due_at, fresh.snoozed_until) == ("sent", NOW - H, None)


def test_only_patients_have_an_inbox(therapist_client, api_client) -> None:
    assert therapist_client.get(INBOX).status_code == 403
    assert api_client.get(INBOX).status_code == 401


def test_the_admin_shows_prompts_read_only(admin_client, patient, upcoming) -> None:
    prompt = make_prompt(patient, upcoming, exercise_slug="body-scan", due_at=NOW - H)

    listing = admin_client.get("/admin/integration/prompt/")
    page = admin_client.get(f"/admin/integration/prompt/{prompt.pk}/change/")
    change = admin_client.post(f"/admin/integration/prompt/{prompt.pk}/change/", {"status": "x"})

    assert (listing.status_code, page.status_code) == (200, 200)
    assert 'name="_save"' not in page.content.decode()
    assert change.status_code == 403
    assert Prompt.objects.get(pk=prompt.pk).status == PromptStatus.SENT
