"""A change to what a session's event carries is a new revision of it (RFC 5545: a higher
SEQUENCE, a new DTSTAMP), its alarms and title included, which change with no change to
the session's row; and a read with nothing changed is still the same bytes (304)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from rest_framework.test import APIClient

from integration.ahead.models import PlanReminder
from tests.integration.calendar_feed_data import FEED_PATH, events, read, sequence, utc
from tests.integration.calendar_feed_data import turn_on as feed_on
from tests.integration.factories import make_session, plan, prompts_of, set_timeline

pytestmark = pytest.mark.django_db

LATER = dt.timedelta(hours=1)


def session_uid(session) -> str:
    return f"session-{session.id}@calendar.afterglow"


def triggers(event) -> list[dt.timedelta]:
    return [alarm.decoded("TRIGGER") for alarm in event.walk("VALARM")]


@pytest.fixture
def feed(patient_client, frozen_now) -> str:
    return feed_on(patient_client)


@pytest.fixture
def dosing(patient, frozen_now):
    set_timeline(patient, plan=plan("esketamine-course"))
    return make_session(patient, frozen_now.replace(day=5, hour=8))


def test_switching_plan_is_a_new_revision_of_the_sessions_alarms(
    feed, dosing, patient_client, frozen_now
):
    first = APIClient().get(feed)
    before = events(first.content)[session_uid(dosing)]

    with time_machine.travel(frozen_now + LATER, tick=False):
        switched = patient_client.patch("/api/v1/me/plan/", {"plan": "kap-default"}, format="json")
        assert switched.status_code == 200, switched.content
        changed = APIClient().get(feed, HTTP_IF_NONE_MATCH=first["ETag"])
    after = events(changed.content)[session_uid(dosing)]

    assert triggers(after) != triggers(before)  # the alarms did change
    assert changed.status_code == 200
    assert sequence(after) > sequence(before)
    assert utc(after, "DTSTAMP") > utc(before, "DTSTAMP")
    assert utc(after, "LAST-MODIFIED") == utc(after, "DTSTAMP")


def test_an_edited_reminder_is_a_new_revision_and_then_nothing_moves(feed, dosing, frozen_now):
    before = events(read(feed))[session_uid(dosing)]

    with time_machine.travel(frozen_now + LATER, tick=False):
        reminder = PlanReminder.objects.filter(plan__slug="esketamine-course").earliest("pk")
        reminder.offset -= dt.timedelta(hours=1)
        reminder.save()
        response = APIClient().get(feed)
    after = events(response.content)[session_uid(dosing)]
    with time_machine.travel(frozen_now + 2 * LATER, tick=False):
        again = APIClient().get(feed, HTTP_IF_NONE_MATCH=response["ETag"])
        once_more = read(feed)

    assert sequence(after) == sequence(before) + 1
    assert utc(after, "DTSTAMP") == frozen_now.replace(microsecond=0) + LATER
    # Nothing changed since: 304, the same bytes, the same SEQUENCE.
    assert again.status_code == 304
    assert once_more == response.content
    assert sequence(events(once_more)[session_uid(dosing)]) == sequence(after)


def test_a_removed_reminder_is_a_new_revision(feed, dosing, frozen_now):
    before = events(read(feed))[session_uid(dosing)]

    PlanReminder.objects.filter(plan__slug="esketamine-course").latest("offset").delete()
    after = events(read(feed))[session_uid(dosing)]

    assert len(after.walk("VALARM")) == len(before.walk("VALARM")) - 1
    assert sequence(after) > sequence(before)


def test_a_session_change_still_raises_the_sequence_after_alarm_revisions(
    feed, dosing, patient_client, frozen_now
):
    from journal.sessions import services as session_services

    first = sequence(events(read(feed))[session_uid(dosing)])
    patient_client.patch("/api/v1/me/plan/", {"plan": "kap-default"}, format="json")
    revised = sequence(events(read(feed))[session_uid(dosing)])
    session_services.session_update(
        patient=dosing.patient,
        session_id=dosing.id,
        data={"scheduled_start": dosing.scheduled_start + LATER},
        expected_versions=None,
    )
    moved = sequence(events(read(feed))[session_uid(dosing)])

    assert first < revised < moved


def test_plain_titles_are_a_new_revision_of_every_event(feed, dosing, patient_client, frozen_now):
    before = events(read(feed))

    with time_machine.travel(frozen_now + LATER, tick=False):
        patient_client.patch(FEED_PATH, {"plain_titles": True}, format="json")
        after = events(read(feed))

    prompt_uids = [f"prompt-{p.id}@calendar.afterglow" for p in prompts_of(dosing).values()]
    for uid in [session_uid(dosing), *prompt_uids]:
        assert str(after[uid]["SUMMARY"]) != str(before[uid]["SUMMARY"])
        assert sequence(after[uid]) > sequence(before[uid]), uid
        assert utc(after[uid], "DTSTAMP") > utc(before[uid], "DTSTAMP"), uid
