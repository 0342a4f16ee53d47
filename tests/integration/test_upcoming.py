"""GET /api/v1/me/upcoming/: the patient's dosing sessions, their preparation reminders and
the prompts still scheduled, in one time-ordered list of cursor pages.

The clock stands at Monday 2026-03-02 10:00 UTC (11:00 in Berlin); patients live in
Berlin unless a test says otherwise, with quiet hours 21:00-08:00.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integration.models import Prompt, PromptStatus
from journal.sessions import services
from tests.conftest import client_for
from tests.integration.conftest import NOW
from tests.integration.factories import make_patient, make_session, plan, set_timeline

pytestmark = pytest.mark.usefixtures("frozen_now")

URL = "/api/v1/me/upcoming/"
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
D = dt.timedelta(days=1)
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def every_item(client, **params) -> list[dict]:
    answer = client.get(URL, {"limit": 200, **params})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["next"] is None
    return answer.json()["results"]


def keyed(items: list[dict]) -> dict[tuple, dict]:
    """Items by what they are (kind, and id, or session and slug for a reminder)."""
    return {
        (item["kind"], item.get("id") or f"{item['session']}:{item['slug']}"): item
        for item in items
    }


def esketamine(patient) -> None:
    set_timeline(patient, plan=plan("esketamine-course"))


# The default range ----------------------------------------------------------------------


def test_the_next_fourteen_days_by_default_in_time_order(patient, patient_client) -> None:
    esketamine(patient)
    soon = make_session(patient, NOW + 3 * D)
    later = make_session(patient, NOW + 20 * D)

    items = every_item(patient_client)

    times = [utc(item["at"]) for item in items]
    assert times == sorted(times)
    assert all(NOW <= moment < NOW + 14 * D for moment in times)
    sessions = {item["session"] for item in items}
    assert sessions == {str(soon.pk)}, "the session in 20 days is outside the range"
    kinds = {item["kind"] for item in items}
    assert kinds == {"session", "reminder", "prompt"}
    assert str(later.pk) not in {item.get("id") for item in items}


def test_each_kind_says_what_it_is(patient, patient_client) -> None:
    esketamine(patient)
    start = dt.datetime(2026, 3, 5, 9, 0, tzinfo=dt.UTC)  # Thursday 10:00 in Berlin
    session = make_session(patient, start)

    items = keyed(every_item(patient_client))

    assert items[("session", str(session.pk))] == {
        "kind": "session",
        "at": "2026-03-05T09:00:00Z",
        "local": {
            "wall_time": "2026-03-05T10:00:00",
            "time_zone": "Europe/Berlin",
            "utc_offset": "+01:00",
        },
        "session": str(session.pk),
        "id": str(session.pk),
        "modality": "esketamine_nasal",
        "status": "scheduled",
    }
    no_food = items[("reminder", f"{session.pk}:no-food")]
    assert (no_food["at"], no_food["local"]["wall_time"]) == (
        "2026-03-05T07:00:00Z",
        "2026-03-05T08:00:00",
    )
    assert no_food["title"] == "Stop eating now"
    assert "2 hours" in no_food["detail"]
    assert no_food["ends_at"] is None
    monitoring = items[("reminder", f"{session.pk}:monitoring")]
    assert (monitoring["at"], monitoring["ends_at"]) == (
        "2026-03-05T09:00:00Z",
        "2026-03-05T11:00:00Z",
    )
    prompt = Prompt.objects.select_related("exercise").get(
        session=session, exercise__slug="next-day-reflection"
    )
    item = items[("prompt", str(prompt.pk))]
    assert item["exercise"] == {
        "slug": "next-day-reflection",
        "title": prompt.exercise.title,
        "estimated_minutes": prompt.exercise.estimated_minutes,
    }
    assert item["session"] == str(session.pk)
    assert item["at"] == z(prompt.due_at) == "2026-03-06T09:00:00Z"
    assert item["answer_until"] == z(prompt.expires_at)
    assert item["answer_until_local"]["time_zone"] == "Europe/Berlin"
    assert item["moved"] is None


# Paging -----------------------------------------------------------------------------------


def test_cursor_pages_give_every_item_once_and_lead_back(patient, patient_client) -> None:
    esketamine(patient)
    for days in (2, 5, 9):
        make_session(patient, NOW + days * D)
    everything = every_item(patient_client)
    assert len(everything) > 10

    pages, url = [], f"{URL}?limit=4"
    while url:
        answer = patient_client.get(url)
        assert answer.status_code == 200
        pages.append(answer.json())
        url = answer.json()["next"]

    walked = [item for page in pages for item in page["results"]]
    assert walked == everything
    assert all(len(page["results"]) == 4 for page in pages[:-1])
    assert pages[0]["previous"] is None
    back = patient_client.get(pages[1]["previous"]).json()
    assert back["results"] == pages[0]["results"]
    assert back["previous"] is None


def test_previous_links_walk_back_to_the_first_page(patient, patient_client) -> None:
    esketamine(patient)
    for days in (2, 6):
        make_session(patient, NOW + days * D)
    everything = every_item(patient_client)
    url = f"{URL}?limit=5"
    while url:
        last = patient_client.get(url).json()
        url = last["next"]

    walked = list(last["results"])
    url = last["previous"]
    while url:
        page = patient_client.get(url).json()
        assert len(page["results"]) == 5
        walked = page["results"] + walked
        url = page["previous"]

    assert walked == everything


def test_links_keep_the_range_of_the_first_page(patient, patient_client) -> None:
    esketamine(patient)
    make_session(patient, NOW + 2 * D)

    first = patient_client.get(URL, {"limit": 2}).json()

    query = parse_qs(urlsplit(first["next"]).query)
    assert utc(query["start"][0]) == NOW
    assert utc(query["end"][0]) == NOW + 14 * D


def test_a_cursor_is_a_position_not_an_offset(patient, patient_client) -> None:
    """Items added before the cursor shift nothing: the next page starts right after the
    last item seen."""
    esketamine(patient)
    make_session(patient, NOW + 4 * D)
    first = patient_client.get(URL, {"limit": 3}).json()
    last_seen = first["results"][-1]

    make_session(patient, NOW + 1 * D + 5 * H)  # items of its own before the cursor
    fresh = every_item(patient_client)
    rest, url = [], first["next"]
    while url:
        page = patient_client.get(url).json()
        rest += page["results"]
        url = page["next"]

    seen = fresh.index(last_seen) + 1
    assert seen > 3, "new items came before the cursor"
    assert rest == fresh[seen:]


# Zones and daylight-saving changes ----------------------------------------------------------


def test_berlin_across_the_march_change(patient, patient_client) -> None:
    """Clocks go forward on Sunday 2026-03-29 (02:00 CET -> 03:00 CEST). A session on
    Monday 30th at 09:00 local is 07:00 UTC; its reminders a day before are 24 hours
    earlier in UTC, which is 09:00 local again (after the change), while a reminder on
    Friday 27th is still on CET."""
    esketamine(patient)
    start = dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC)
    session = make_session(patient, start)

    items = keyed(
        every_item(patient_client, start="2026-03-26T00:00:00Z", end="2026-04-03T00:00:00Z")
    )

    assert items[("session", str(session.pk))]["local"] == {
        "wall_time": "2026-03-30T09:00:00",
        "time_zone": "Europe/Berlin",
        "utc_offset": "+02:00",
    }
    ride = items[("reminder", f"{session.pk}:ride-home")]
    assert ride["at"] == "2026-03-29T07:00:00Z"
    assert ride["local"]["wall_time"] == "2026-03-29T09:00:00"
    assert ride["local"]["utc_offset"] == "+02:00"
    intention = Prompt.objects.get(session=session, exercise__slug="set-intention")
    assert (
        keyed(every_item(patient_client, start="2026-03-26T00:00:00Z", end="2026-04-03T00:00:00Z"))[
            ("prompt", str(intention.pk))
        ]["local"]["wall_time"]
        == "2026-03-29T09:00:00"
    )


def test_berlin_across_the_october_change(patient, patient_client) -> None:
    """Clocks go back on Sunday 2026-10-25 (03:00 CEST -> 02:00 CET). A session on Monday
    26th at 09:00 CET is 08:00 UTC; the reminders on Sunday are on CET already, and the
    default plan's intention 72 hours before (Friday 23rd) is on CEST."""
    start = dt.datetime(2026, 10, 26, 8, 0, tzinfo=dt.UTC)
    session = make_session(patient, start)

    items = keyed(
        every_item(patient_client, start="2026-10-20T00:00:00Z", end="2026-10-28T00:00:00Z")
    )

    assert items[("session", str(session.pk))]["local"]["wall_time"] == "2026-10-26T09:00:00"
    assert items[("session", str(session.pk))]["local"]["utc_offset"] == "+01:00"
    support = items[("reminder", f"{session.pk}:support-person")]
    assert (support["at"], support["local"]["wall_time"], support["local"]["utc_offset"]) == (
        "2026-10-25T08:00:00Z",
        "2026-10-25T09:00:00",
        "+01:00",
    )
    intention = Prompt.objects.get(session=session, exercise__slug="set-intention")
    item = items[("prompt", str(intention.pk))]
    assert (item["at"], item["local"]["wall_time"], item["local"]["utc_offset"]) == (
        "2026-10-23T08:00:00Z",
        "2026-10-23T10:00:00",
        "+02:00",
    )


def test_new_york_across_the_march_change(db) -> None:
    """New York goes from EST (-05:00) to EDT (-04:00) on Sunday 2026-03-08."""
    patient = make_patient(email="nyc@example.org", time_zone="America/New_York")
    esketamine(patient)
    before = make_session(patient, dt.datetime(2026, 3, 6, 14, 0, tzinfo=dt.UTC))
    after = make_session(patient, dt.datetime(2026, 3, 9, 13, 0, tzinfo=dt.UTC))

    items = keyed(every_item(client_for(patient)))

    assert items[("session", str(before.pk))]["local"] == {
        "wall_time": "2026-03-06T09:00:00",
        "time_zone": "America/New_York",
        "utc_offset": "-05:00",
    }
    assert items[("session", str(after.pk))]["local"]["wall_time"] == "2026-03-09T09:00:00"
    assert items[("session", str(after.pk))]["local"]["utc_offset"] == "-04:00"
    no_food = items[("reminder", f"{after.pk}:no-food")]
    assert (no_food["at"], no_food["local"]["wall_time"]) == (
        "2026-03-09T11:00:00Z",
        "2026-03-09T07:00:00",
    )


def test_one_instant_two_zones(db) -> None:
    """Two patients with sessions at the same instant see the same `at` and their own
    wall clocks."""
    berlin = make_patient(email="berlin@example.org")
    new_york = make_patient(email="ny@example.org", time_zone="America/New_York")
    start = NOW + 3 * D
    make_session(berlin, start)
    make_session(new_york, start)

    (mine,) = [i for i in every_item(client_for(berlin)) if i["kind"] == "session"]
    (theirs,) = [i for i in every_item(client_for(new_york)) if i["kind"] == "session"]

    assert mine["at"] == theirs["at"] == z(start)
    assert (mine["local"]["wall_time"], theirs["local"]["wall_time"]) == (
        "2026-03-05T11:00:00",
        "2026-03-05T05:00:00",
    )


# Moved prompts ----------------------------------------------------------------------------


def test_a_prompt_moved_by_quiet_hours_says_so_and_from_when(patient, patient_client) -> None:
    """A session at 07:00 local: the intention a day before would be due at 07:00, inside
    quiet hours (21:00-08:00); it is due at 08:00 and says it was moved from 07:00."""
    esketamine(patient)
    session = make_session(patient, dt.datetime(2026, 3, 5, 6, 0, tzinfo=dt.UTC))
    intention = Prompt.objects.get(session=session, exercise__slug="set-intention")
    reflection = Prompt.objects.get(session=session, exercise__slug="next-day-reflection")

    items = keyed(every_item(patient_client))

    moved = items[("prompt", str(intention.pk))]
    assert moved["at"] == "2026-03-04T07:00:00Z"
    assert moved["local"]["wall_time"] == "2026-03-04T08:00:00"
    assert moved["moved"] == {
        "from_at": "2026-03-04T06:00:00Z",
        "from_local": {
            "wall_time": "2026-03-04T07:00:00",
            "time_zone": "Europe/Berlin",
            "utc_offset": "+01:00",
        },
        "reasons": ["quiet_hours"],
    }
    # The next day's 07:00 reflection is in quiet hours too; the post-dose check-in 3 h
    # after is not moved at all.
    assert items[("prompt", str(reflection.pk))]["moved"]["reasons"] == ["quiet_hours"]
    checkin = Prompt.objects.get(session=session, exercise__slug="after-session-checkin")
    assert items[("prompt", str(checkin.pk))]["moved"] is None


def test_a_prompt_moved_by_the_post_dosing_period_says_so(patient, patient_client) -> None:
    """Twice a week: Monday's breathing practice (72 h after) falls on Thursday's session,
    in its quiet period (6 h): it is due when that period ends."""
    esketamine(patient)
    monday = make_session(patient, dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC))
    make_session(patient, dt.datetime(2026, 3, 12, 9, 0, tzinfo=dt.UTC))
    breathing = Prompt.objects.get(session=monday, exercise__slug="breathing-practice")

    item = keyed(every_item(patient_client))[("prompt", str(breathing.pk))]

    assert item["at"] == "2026-03-12T15:00:00Z"
    assert item["moved"]["from_at"] == "2026-03-12T09:00:00Z"
    assert item["moved"]["reasons"] == ["post_dosing"]


def test_a_snoozed_prompt_says_it_was_snoozed(patient, patient_client) -> None:
    esketamine(patient)
    session = make_session(patient, NOW + 2 * D)
    intention = Prompt.objects.get(session=session, exercise__slug="set-intention")
    Prompt.objects.filter(pk=intention.pk).update(
        due_at=intention.due_at + 2 * H, snoozed_until=intention.due_at + 2 * H
    )

    item = keyed(every_item(patient_client))[("prompt", str(intention.pk))]

    assert item["moved"]["reasons"] == ["snoozed"]
    assert item["moved"]["from_at"] == z(intention.nominal_at)


# Sessions that move or are cancelled --------------------------------------------------------


def moved_from_day_five(patient, client, to: dt.datetime) -> tuple:
    """An esketamine timeline with a dosing session five days ahead, moved to `to`: the
    session, and the items of the next thirty days by key before and after the move."""
    esketamine(patient)
    session = make_session(patient, NOW + 5 * D)
    window = {"start": z(NOW), "end": z(NOW + 30 * D)}
    before = keyed(every_item(client, **window))

    services.session_update(
        patient=patient,
        session_id=session.pk,
        data={"scheduled_start": to},
        expected_versions=None,
    )
    return session, before, keyed(every_item(client, **window))


def test_a_moved_session_moves_its_items_by_exactly_the_move(patient, patient_client) -> None:
    """Two days later (no zone change in between): every wall time stays, so every item,
    prompts moved by quiet hours included, moves by exactly the move."""
    session, before, after = moved_from_day_five(patient, patient_client, NOW + 7 * D)

    assert set(after) == set(before)
    moves = {key: utc(after[key]["at"]) - utc(item["at"]) for key, item in before.items()}
    assert set(moves.values()) == {2 * D}
    prompts = Prompt.objects.filter(session=session, status=PromptStatus.SCHEDULED).count()
    assert len(moves) == 1 + 6 + prompts  # the session, its six reminders, its prompts


def test_an_odd_move_moves_the_session_and_reminders_exactly(patient, patient_client) -> None:
    _, before, after = moved_from_day_five(patient, patient_client, NOW + 5 * D + 97 * M)

    fixed = [key for key in before if key[0] in {"session", "reminder"}]
    assert len(fixed) == 7
    assert {utc(after[key]["at"]) - utc(before[key]["at"]) for key in fixed} == {97 * M}


def test_a_cancelled_sessions_items_vanish(patient, patient_client) -> None:
    esketamine(patient)
    kept = make_session(patient, NOW + 2 * D)
    cancelled = make_session(patient, NOW + 6 * D)
    assert str(cancelled.pk) in {item["session"] for item in every_item(patient_client)}

    services.session_update(
        patient=patient,
        session_id=cancelled.pk,
        data={"status": "cancelled"},
        expected_versions=None,
    )
    items = every_item(patient_client)

    assert {item["session"] for item in items} == {str(kept.pk)}
    assert not Prompt.objects.filter(session=cancelled, status=PromptStatus.SCHEDULED).exists()


def test_a_deleted_sessions_items_vanish(patient, patient_client) -> None:
    session = make_session(patient, NOW + 2 * D)
    services.session_delete(patient=patient, session_id=session.pk, expected_versions=None)

    assert every_item(patient_client) == []


def test_other_kinds_of_session_are_not_listed(patient, patient_client) -> None:
    make_session(patient, NOW + 2 * D, kind="integration")
    make_session(patient, NOW + 3 * D, kind="preparation")

    assert every_item(patient_client) == []


# Who sees what ------------------------------------------------------------------------------


def test_other_patients_items_are_never_visible(patient, patient_client, other_patient) -> None:
    mine = make_session(patient, NOW + 2 * D)
    theirs = make_session(other_patient, NOW + 3 * D)

    items = every_item(patient_client)

    assert {item["session"] for item in items} == {str(mine.pk)}
    their_prompts = {
        str(pk) for pk in Prompt.objects.filter(session=theirs).values_list("pk", flat=True)
    }
    assert their_prompts
    assert not their_prompts & {item.get("id") for item in items}


def test_therapists_and_strangers_are_refused(therapist_client, api_client) -> None:
    assert therapist_client.get(URL).status_code == 403
    assert api_client.get(URL).status_code == 401


# Bad parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-03-02T10:00:00"}, "start"),  # no offset: ambiguous
        ({"end": "2026-03-09"}, "end"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-03-10T00:00:00Z", "end": "2026-03-09T00:00:00Z"}, "end"),
        ({"start": "2026-03-10T00:00:00Z", "end": "2026-03-10T00:00:00Z"}, "end"),
        ({"start": "2026-03-01T00:00:00Z", "end": "2026-05-03T00:00:00Z"}, "end"),
        ({"end": "2026-03-01T00:00:00Z"}, "end"),  # before now, the default start
        ({"start": "1999-12-31T00:00:00Z"}, "start"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),  # base64 of "not a cursor"
        ({"cursor": "WyIyMDI2LTAzLTAyVDEwOjAwOjAwIiwgMCwgIngiLCAwXQ=="}, "cursor"),  # naive
        ({"kind": "prompt"}, "query"),  # not a parameter of this operation
    ],
)
def test_bad_parameters_answer_400_problems(patient_client, params, field) -> None:
    answer = patient_client.get(URL, params)

    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("application/problem+json")
    body = answer.json()
    assert set(body) >= PROBLEM_KEYS
    assert field in body["errors"]


def test_sixty_two_days_is_the_widest_range(patient_client) -> None:
    answer = patient_client.get(
        URL, {"start": "2026-03-01T00:00:00+01:00", "end": "2026-05-02T00:00:00+01:00"}
    )
    assert answer.status_code == 200


# Query count ------------------------------------------------------------------------------


def _queries_for(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL, {"limit": 200}).status_code == 200
    return len(captured)


def test_query_count_does_not_grow_with_the_items(db, django_assert_num_queries) -> None:
    few = make_patient(email="few@example.org")
    esketamine(few)
    make_session(few, NOW + 2 * D)
    many = make_patient(email="many@example.org")
    esketamine(many)
    for days in range(2, 14, 2):
        make_session(many, NOW + days * D)
    baseline = _queries_for(client_for(few))

    with django_assert_num_queries(baseline):
        answer = client_for(many).get(URL, {"limit": 200})

    assert len(answer.json()["results"]) > 3 * len(every_item(client_for(few)))
    assert baseline <= 4


def test_an_empty_view_reads_little(patient, patient_client) -> None:
    assert _queries_for(patient_client) <= 3


# No journal text --------------------------------------------------------------------------


def test_no_journal_text_reaches_the_view(patient, patient_client) -> None:
    """The session's private note, an intention's title, body and tags, and an answer to a
    prompt are journal text: none of it is in the upcoming view."""
    esketamine(patient)
    canary = "canary-7d1f3e-upcoming"
    session = patient_client.post(
        "/api/v1/sessions/",
        {
            "kind": "dosing",
            "modality": "esketamine_nasal",
            "setting": "clinic",
            "scheduled_start": z(NOW + 3 * D),
            "note": f"note {canary}",
        },
        format="json",
    ).json()
    written = patient_client.post(
        "/api/v1/entries/",
        {
            "kind": "intention",
            "session": session["id"],
            "title": f"title {canary}",
            "body": f"body {canary}",
            "tags": [canary],
        },
        format="json",
    )
    assert written.status_code == 201, written.json()
    assert canary in patient_client.get(f"/api/v1/entries/{written.json()['id']}/").content.decode()

    answer = patient_client.get(URL, {"limit": 200})

    assert answer.status_code == 200
    assert session["id"] in answer.content.decode()
    assert canary not in answer.content.decode()
