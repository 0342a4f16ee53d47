"""Prompts in the sync feed under concurrent writes: threads with their own PostgreSQL
connections move sessions (re-planning their prompts), answer prompts from the inbox,
deliver them and sweep expired ones, all for one patient, while a reader pages through
the feed. Nothing may be lost, repeated or deadlocked."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection
from django.utils import timezone

from integration.delivery import outcomes
from integration.delivery.dispatch import prompts_claim_due
from integration.models import (
    Exercise,
    IntegrationPlan,
    PatientTimeline,
    Prompt,
    PromptStatus,
)
from integration.prompts import inbox
from integration.prompts.planning import prompts_expire_overdue
from journal.sessions import services
from tests.conftest import client_for
from tests.integration.factories import make_patient, make_plan, make_session

URL = "/api/v1/sync/"
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def make_own_plan() -> IntegrationPlan:
    """A plan of six entry steps around each dosing session, made here (the test's
    transaction is real, so it relies on no catalog rows)."""
    tag = uuid.uuid4().hex[:8]
    exercise = Exercise.objects.create(
        slug=f"reflect-{tag}",
        title="Reflect",
        instructions="Write a little.",
        estimated_minutes=5,
        answer_kind="entry",
        entry_kind="reflection",
        is_safety_relevant=True,  # neither the post-dosing quiet period nor the cap moves it
    )
    return make_plan(
        f"plan-{tag}",
        [
            (exercise.slug, dt.timedelta(hours=hours), dt.timedelta(hours=20))
            for hours in (-48, -24, 3, 26, 50, 74)
        ],
    )


def run(errors: list[BaseException], work: Callable[[], None]) -> threading.Thread:
    def target() -> None:
        try:
            work()
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_paging_while_prompts_change_loses_and_repeats_nothing() -> None:
    # Given a patient with three dosing sessions a week apart, 18 prompts,
    patient = make_patient(email="busy@example.org")
    PatientTimeline.objects.create(
        patient=patient, plan=make_own_plan(), quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 1)
    )
    start = (timezone.now() + 10 * D).replace(hour=9, minute=0, second=0, microsecond=0)
    sessions = [make_session(patient, start + week * 7 * D) for week in range(3)]
    assert Prompt.objects.filter(patient=patient).count() == 18
    later = start + 40 * D
    errors: list[BaseException] = []

    def move(session_id: uuid.UUID, week: int) -> Callable[[], None]:
        def work() -> None:
            for turn in range(1, 9):
                services.session_update(
                    patient=patient,
                    session_id=session_id,
                    data={"scheduled_start": start + week * 7 * D + (turn % 3) * H},
                    expected_versions=None,
                )

        return work

    def answer() -> None:
        for prompt in Prompt.objects.filter(session=sessions[0]).order_by("due_at"):
            try:
                inbox.prompt_open(patient=patient, prompt_id=prompt.pk, now=later)
                inbox.prompt_skip(patient=patient, prompt_id=prompt.pk, now=later)
            except inbox.PromptConflictError:
                pass  # the dispatcher or the sweep took it first

    def deliver() -> None:
        for _ in range(6):
            claims = prompts_claim_due(now=later, batch_size=2, lease=H)
            if not claims:
                return
            found = {p.pk: p for p in Prompt.objects.filter(pk__in=[pk for pk, _ in claims])}
            for prompt_id, claim_id in claims:
                sent = outcomes.prompt_outcome(found[prompt_id], [], max_attempts=5, now=later)
                outcomes.outcomes_write([sent], token=claim_id, now=later)

    def sweep() -> None:
        for day in range(5):
            prompts_expire_overdue(now=start + day * D)
            time.sleep(0.01)

    # When writers run while the patient's app pages through the feed, 4 changes a page,
    client = client_for(patient)
    seen: list[dict] = []
    cursor: str | None = None

    def page() -> bool:
        nonlocal cursor
        params: dict = {"limit": 4} | ({"since": cursor} if cursor else {})
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        body = response.json()
        seen.extend(body["changes"])
        cursor = body["cursor"]
        return bool(body["has_more"])

    threads = [
        run(errors, move(sessions[1].pk, 1)),
        run(errors, move(sessions[2].pk, 2)),
        run(errors, answer),
        run(errors, deliver),
        run(errors, sweep),
    ]
    while any(thread.is_alive() for thread in threads):
        page()
    for thread in threads:
        thread.join(30)
    while page():
        pass

    # then no writer failed (no deadlock among counter and row locks),
    assert not errors, errors
    # no version came twice and the feed only went forward,
    versions = [(change["id"], change["change"]) for change in seen]
    assert len(versions) == len(set(versions))
    numbers = [change["change"] for change in seen]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)
    # and the last version of each prompt the app received is the prompt as it is now.
    last = {change["id"]: change for change in seen if change["type"] == "prompt"}
    prompts = list(Prompt.objects.filter(patient=patient))
    assert set(last) == {str(prompt.pk) for prompt in prompts}
    for prompt in prompts:
        change = last[str(prompt.pk)]
        status = PromptStatus.SCHEDULED if prompt.status == "sending" else prompt.status
        assert change["change"] == prompt.change, prompt
        assert change["data"]["status"] == status
        assert change["data"]["due_at"] == prompt.due_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The writers did change things, in several ways.
    statuses = Counter(prompt.status for prompt in prompts)
    assert len(statuses) >= 3, statuses
    assert sum(1 for change in seen if change["type"] == "prompt") > 18
