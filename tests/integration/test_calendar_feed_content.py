"""What the calendar feed holds, checked as a calendar app reads it: valid RFC 5545 (two
independent parsers), sessions at the right UTC instant across a daylight-saving change,
stable UIDs that follow a moved session, cancelled items marked cancelled, the plan's
preparation reminders as alarms, discreet titles by default, never journal text, and a
fixed number of queries however many sessions there are."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import ics
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from integration.calendar_feed.ical import SEQUENCE_EPOCH
from integration.models import AccessEvent, Prompt, PromptStatus
from journal.sessions import services as session_services
from tests.integration.calendar_feed_data import (
    FEED_PATH,
    events,
    read,
    rfc5545_violations,
    sequence,
    turn_on,
    utc,
)
from tests.integration.care_data import make_entry
from tests.integration.factories import make_session, plan, prompts_of, set_timeline

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def session_uid(session) -> str:
    return f"session-{session.id}@calendar.afterglow"


def prompt_uid(prompt) -> str:
    return f"prompt-{prompt.id}@calendar.afterglow"


@pytest.fixture
def feed(patient_client, frozen_now) -> str:
    """The patient's feed, turned on: its path."""
    return turn_on(patient_client)


def move(session, to: dt.datetime):
    return session_services.session_update(
        patient=session.patient,
        session_id=session.id,
        data={"scheduled_start": to},
        expected_versions=None,
    )


def test_the_feed_keeps_the_rules_of_rfc_5545(feed, patient, frozen_now):
    for day in (3, 10, 17):
        make_session(patient, frozen_now.replace(day=day, hour=8), note="a note " * 30)
    make_session(patient, frozen_now.replace(day=5), kind="integration")

    document = read(feed)

    assert rfc5545_violations(document) == []
    found = events(document)
    assert len(found) >= 4 + 3  # the sessions and some of their prompts
    alarms = [
        len(event.walk("VALARM")) for uid, event in found.items() if uid.startswith("session-")
    ]
    assert sorted(alarms)[0] == 0  # the integration session has none
    assert all(count > 0 for count in sorted(alarms)[1:])  # each dosing session has some


def test_the_checker_finds_what_breaks_the_rules():
    broken = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20260301T"
        b"080000Z\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1H\r\nEND:VALARM\r\n"
        b"END:VEVENT\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20260301T080000Z\r\nDTSTART:2026"
        b"0301T080000Z\r\nSUMMARY:" + b"x" * 80 + b"\r\nEND:VEVENT\r\nEND:VCALENDAR\n"
    )

    found = "\n".join(rfc5545_violations(broken))

    for rule in (
        "end with CRLF",
        "PRODID",
        "without DTSTAMP",
        "DESCRIPTION",
        "UIDs repeat",
        "octets",
    ):
        assert rule in found


def test_a_second_parser_reads_the_same_events(feed, patient, frozen_now):
    make_session(patient, frozen_now.replace(day=3, hour=8))
    make_session(patient, frozen_now.replace(day=6, hour=8), status="cancelled")

    document = read(feed)

    parsed = ics.Calendar(document.decode("utf-8"))
    assert {event.uid for event in parsed.events} == set(events(document))
    by_uid = {event.uid: event for event in parsed.events}
    for uid, event in events(document).items():
        assert by_uid[uid].begin.datetime == utc(event, "DTSTART")
        assert by_uid[uid].end.datetime == utc(event, "DTEND")


def test_sessions_at_nine_in_berlin_on_both_sides_of_the_change(feed, patient):
    # Europe/Berlin moves from CET (UTC+1) to CEST (UTC+2) on 29 March 2026.
    before = make_session(patient, dt.datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN))
    after = make_session(patient, dt.datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN))

    found = events(read(feed))

    assert utc(found[session_uid(before)], "DTSTART") == dt.datetime(
        2026, 3, 27, 8, 0, tzinfo=dt.UTC
    )
    assert utc(found[session_uid(after)], "DTSTART") == dt.datetime(
        2026, 3, 30, 7, 0, tzinfo=dt.UTC
    )
    for session in (before, after):
        local = utc(found[session_uid(session)], "DTSTART").astimezone(BERLIN)
        assert (local.hour, local.minute) == (9, 0)
    assert b"DTSTART:20260327T080000Z" in read(feed)


def test_a_moved_session_keeps_its_uid_and_moves_by_exactly_the_move(feed, patient, frozen_now):
    session = make_session(patient, frozen_now.replace(day=5, hour=8))
    prompt_ids = {prompt.id for prompt in prompts_of(session).values()}
    first = events(read(feed))
    shift = dt.timedelta(days=2, hours=1)

    with time_machine.travel(frozen_now + dt.timedelta(minutes=5), tick=False):
        move(session, session.scheduled_start + shift)
        second = events(read(feed))

    old, new = first[session_uid(session)], second[session_uid(session)]
    assert utc(new, "DTSTART") - utc(old, "DTSTART") == shift
    assert utc(new, "DTEND") - utc(old, "DTEND") == shift
    assert sequence(new) > sequence(old)
    assert utc(new, "LAST-MODIFIED") > utc(old, "LAST-MODIFIED")
    assert utc(new, "DTSTAMP") == utc(new, "LAST-MODIFIED")
    assert [alarm.decoded("TRIGGER") for alarm in new.walk("VALARM")] == [
        alarm.decoded("TRIGGER") for alarm in old.walk("VALARM")
    ]
    for prompt in Prompt.objects.filter(id__in=prompt_ids):
        before, after = first[prompt_uid(prompt)], second[prompt_uid(prompt)]
        assert utc(after, "DTSTART") == prompt.due_at
        assert sequence(after) > sequence(before)
    assert set(second) == set(first)


def test_a_cancelled_session_and_its_prompts_stay_marked_cancelled(feed, patient, frozen_now):
    session = make_session(patient, frozen_now.replace(day=5, hour=8))
    kept = make_session(patient, frozen_now.replace(day=12, hour=8))

    session_services.session_update(
        patient=patient,
        session_id=session.id,
        data={"status": "cancelled"},
        expected_versions=None,
    )
    found = events(read(feed))

    event = found[session_uid(session)]
    assert str(event["STATUS"]) == "CANCELLED"
    assert sequence(event) == 1
    assert event.walk("VALARM") == []  # a cancelled session reminds of nothing
    prompts = Prompt.objects.filter(session=session)
    assert prompts.exists()
    assert all(prompt.status == PromptStatus.CANCELLED for prompt in prompts)
    for prompt in prompts:
        assert str(found[prompt_uid(prompt)]["STATUS"]) == "CANCELLED"
    assert str(found[session_uid(kept)]["STATUS"]) == "CONFIRMED"


def test_a_deleted_session_leaves_the_feed_with_its_prompts(feed, patient, frozen_now):
    session = make_session(patient, frozen_now.replace(day=5, hour=8))
    prompt_ids = [prompt.id for prompt in prompts_of(session).values()]

    session_services.session_delete(patient=patient, session_id=session.id, expected_versions=None)
    found = events(read(feed))

    assert session_uid(session) not in found
    assert not any(f"prompt-{prompt_id}@calendar.afterglow" in found for prompt_id in prompt_ids)


def test_the_plans_preparation_reminders_are_alarms_before_the_session(feed, patient, frozen_now):
    set_timeline(patient, plan=plan("esketamine-course"))
    session = make_session(patient, frozen_now.replace(day=5, hour=8))

    event = events(read(feed))[session_uid(session)]

    alarms = event.walk("VALARM")
    triggers = [alarm.decoded("TRIGGER") for alarm in alarms]
    # A ride home and a support person a day before (one alarm), no food 2 h before, no
    # drinks 30 min before, monitoring from the start, no driving after.
    assert triggers == [
        dt.timedelta(days=-1),
        dt.timedelta(hours=-2),
        dt.timedelta(minutes=-30),
        dt.timedelta(0),
        dt.timedelta(hours=2),
    ]
    assert {str(alarm["ACTION"]) for alarm in alarms} == {"DISPLAY"}
    assert {str(alarm["DESCRIPTION"]) for alarm in alarms} == {"Afterglow reminder"}
    assert len({str(alarm["UID"]) for alarm in alarms}) == len(alarms)


def test_plain_titles_say_what_each_item_is(feed, patient, patient_client, frozen_now):
    set_timeline(patient, plan=plan("esketamine-course"))
    session = make_session(patient, frozen_now.replace(day=5, hour=8))
    preparation = make_session(patient, frozen_now.replace(day=4, hour=8), kind="preparation")
    discreet = events(read(feed))

    patient_client.patch(FEED_PATH, {"plain_titles": True}, format="json")
    plain = events(read(feed))

    assert str(discreet[session_uid(session)]["SUMMARY"]) == "Appointment"
    assert str(discreet[session_uid(preparation)]["SUMMARY"]) == "Appointment"
    assert str(plain[session_uid(session)]["SUMMARY"]) == "Esketamine dosing session"
    assert str(plain[session_uid(preparation)]["SUMMARY"]) == "Preparation session"
    for prompt in prompts_of(session).values():
        assert str(discreet[prompt_uid(prompt)]["SUMMARY"]) == "Afterglow reminder"
        assert str(plain[prompt_uid(prompt)]["SUMMARY"]) == prompt.exercise.title
    descriptions = [str(a["DESCRIPTION"]) for a in plain[session_uid(session)].walk("VALARM")]
    assert any("ride home" in text.lower() for text in descriptions)


def test_no_journal_text_reaches_the_feed_even_with_plain_titles(
    feed, patient, patient_client, frozen_now
):
    canaries = {
        "note": "CANARY-sessionnote-4f1d0c",
        "title": "CANARY-entrytitle-9a2b7e",
        "body": "CANARY-entrybody-3c8e11",
    }
    session = make_session(patient, frozen_now.replace(day=5, hour=8), note=canaries["note"])
    make_entry(
        patient,
        kind="intention",
        session_id=session.id,
        title=canaries["title"],
        body=canaries["body"],
    )
    patient_client.patch(FEED_PATH, {"plain_titles": True}, format="json")

    documents = [read(feed)]
    patient_client.patch(FEED_PATH, {"plain_titles": False}, format="json")
    documents.append(read(feed))

    for document in documents:
        unfolded = document.replace(b"\r\n ", b"")
        for canary in canaries.values():
            assert canary.encode() not in unfolded
        assert b"CANARY" not in unfolded
    # Nor, with discreet titles, what kind of care it is.
    discreet = documents[1].replace(b"\r\n ", b"").lower()
    for word in (b"ketamine", b"dosing", b"phq", b"gad-7", b"integration"):
        assert word not in discreet


def test_items_far_in_the_past_leave_the_feed(feed, patient, frozen_now):
    old = make_session(patient, frozen_now - dt.timedelta(days=120), keep_prompts=False)
    recent = make_session(patient, frozen_now - dt.timedelta(days=20), keep_prompts=False)

    found = events(read(feed))

    assert session_uid(old) not in found
    assert session_uid(recent) in found


def test_the_query_count_does_not_grow_with_the_sessions(feed, patient, frozen_now):
    def queries_for_a_read() -> int:
        with CaptureQueriesContext(connection) as queries:
            read(feed)
        return len(queries.captured_queries)

    make_session(patient, frozen_now.replace(day=3, hour=8))
    one = queries_for_a_read()
    for day in range(4, 16):
        make_session(patient, frozen_now.replace(day=day, hour=8))
    make_session(patient, frozen_now.replace(day=20), kind="integration")

    assert queries_for_a_read() == one
    assert len(events(read(feed))) > 13 * 2


def test_the_feed_is_the_same_bytes_while_nothing_changes(feed, patient, frozen_now):
    make_session(patient, frozen_now.replace(day=5, hour=8))

    assert read(feed) == read(feed)


def test_a_prompt_sequence_counts_from_the_epoch(feed, patient, frozen_now):
    session = make_session(patient, frozen_now.replace(day=5, hour=8))
    prompt = next(iter(prompts_of(session).values()))

    event = events(read(feed))[prompt_uid(prompt)]

    assert sequence(event) == int((utc(event, "LAST-MODIFIED") - SEQUENCE_EPOCH).total_seconds())


def test_the_feed_answers_any_accept_header(feed, patient):
    response = APIClient().get(feed, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "no-store"  # no cache keeps a copy


def test_an_unchanged_feed_answers_304_to_its_etag(feed, patient, frozen_now):
    session = make_session(patient, frozen_now.replace(day=5, hour=8))
    first = APIClient().get(feed)
    etag = first["ETag"]

    unchanged = APIClient().get(feed, HTTP_IF_NONE_MATCH=etag)
    move(session, session.scheduled_start + dt.timedelta(hours=1))
    changed = APIClient().get(feed, HTTP_IF_NONE_MATCH=etag)

    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged["ETag"] == etag
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert AccessEvent.objects.filter(action="calendar_feed.read").count() == 3
