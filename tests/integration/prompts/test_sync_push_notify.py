"""A change to a patient's prompts asks, after commit, for one silent sync push a few seconds
later (integration/prompts/notify.py); a burst of changes shares it."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.cache import cache

from integration.prompts import notify
from integration.prompts.planning import prompts_sync_for_session
from journal.sessions import services
from tests.integration.factories import make_session

MONDAY = dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.usefixtures("frozen_now")


@pytest.fixture
def sent_tasks():
    cache.clear()
    with mock.patch.object(notify, "current_app") as app:
        yield app.send_task.call_args_list
    cache.clear()


def quiet_session(patient, sent_tasks, capture_on_commit):
    """A session on MONDAY, its own push asked for and forgotten (none waiting)."""
    with capture_on_commit(execute=True):
        session = make_session(patient, MONDAY)
    sent_tasks.clear()
    cache.clear()
    return session


def move(patient, session, start: dt.datetime) -> None:
    services.session_update(
        patient=patient,
        session_id=session.pk,
        data={"scheduled_start": start},
        expected_versions=None,
    )


def test_moving_a_session_asks_once_for_a_sync_push_after_commit(
    patient, sent_tasks, django_capture_on_commit_callbacks
):
    session = quiet_session(patient, sent_tasks, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        move(patient, session, MONDAY + dt.timedelta(days=1))
    assert sent_tasks == []  # nothing before the commit
    for callback in callbacks:
        callback()
    # A second move in the same burst joins the push already waiting.
    with django_capture_on_commit_callbacks(execute=True):
        move(patient, session, MONDAY + dt.timedelta(days=2))

    assert sent_tasks == [
        mock.call(
            "afterglow.integration.push_sync",
            args=[str(patient.pk)],
            countdown=notify.SYNC_PUSH_DELAY_SECONDS,
        )
    ]


def test_a_sync_that_changes_no_prompt_asks_for_nothing(
    patient, sent_tasks, django_capture_on_commit_callbacks
):
    session = quiet_session(patient, sent_tasks, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        prompts_sync_for_session(session=session)  # planned again: the same prompts

    assert sent_tasks == []


def test_without_the_cache_every_change_still_asks(
    patient, sent_tasks, django_capture_on_commit_callbacks
):
    session = quiet_session(patient, sent_tasks, django_capture_on_commit_callbacks)

    with mock.patch("django.core.cache.cache.add", side_effect=ConnectionError("cache down")):
        for days in (1, 2):
            with django_capture_on_commit_callbacks(execute=True):
                move(patient, session, MONDAY + dt.timedelta(days=days))

    assert len(sent_tasks) == 2
