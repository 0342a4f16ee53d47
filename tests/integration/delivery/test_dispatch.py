"""Claiming due prompts, handing them to the delivery task, and delivering them
(integration/delivery.py), in process against PostgreSQL. Real worker processes are in
test_worker_delivery.py."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integration.delivery import dispatch
from integration.delivery.dispatch import (
    prompts_claim_due,
    prompts_deliver,
    prompts_dispatch,
)
from integration.delivery.outcomes import outcomes_write, retry_delay
from integration.models import DeliveryAttempt, Device, Prompt, PromptStatus
from integration.prompts import notify
from integration.providers.base import GENERIC_BODY, GENERIC_TITLE
from tests.integration import counting_provider
from tests.integration.counting_provider import delivered_counts, read_log
from tests.integration.delivery_data import insert_prompts, make_device, make_prompts
from worker import tasks

LEASE = timedelta(minutes=2)


@pytest.fixture
def sent_tasks():
    """The delivery tasks prompts_dispatch sends, instead of a broker."""
    with mock.patch.object(dispatch, "current_app") as app:
        yield app.send_task.call_args_list


def claim(*, now=None, batch_size=200, lease=LEASE):
    return prompts_claim_due(now=now or timezone.now(), batch_size=batch_size, lease=lease)


def lease_end(prompt: Prompt) -> datetime:
    prompt.refresh_from_db()
    assert prompt.lease_expires_at is not None
    return prompt.lease_expires_at


def deliver_claimed(**kwargs) -> list[tuple[uuid.UUID, uuid.UUID]]:
    claims = claim(**kwargs)
    prompts_deliver(claims=[(str(p), str(c)) for p, c in claims])
    return claims


# Claiming


@pytest.mark.django_db
def test_claim_takes_due_scheduled_prompts_oldest_first_and_marks_them_sending():
    now = timezone.now()
    prompts = make_prompts(5, patients=1)
    for minutes, prompt in enumerate(prompts):
        prompt.due_at = now - timedelta(minutes=10 - minutes)
    Prompt.objects.bulk_update(prompts, ["due_at"])

    claims = claim(now=now, batch_size=3)

    assert [prompt_id for prompt_id, _ in claims] == [p.id for p in prompts[:3]]
    claimed = Prompt.objects.filter(pk__in=[p.id for p in prompts[:3]])
    assert {p.status for p in claimed} == {PromptStatus.SENDING}
    assert {p.claim_id for p in claimed} == {claims[0][1]}
    assert {p.lease_expires_at for p in claimed} == {now + LEASE}
    assert {p.sending_at for p in claimed} == {now}
    assert {p.attempts for p in claimed} == {1}
    assert Prompt.objects.filter(status=PromptStatus.SCHEDULED).count() == 2


@pytest.mark.django_db
def test_claim_leaves_future_finished_and_live_sending_prompts_alone():
    now = timezone.now()
    future = make_prompts(1, due_at=now + timedelta(seconds=1))[0]
    sent = make_prompts(1)[0]
    Prompt.objects.filter(pk=sent.pk).update(status=PromptStatus.SENT)
    live = make_prompts(1)[0]
    Prompt.objects.filter(pk=live.pk).update(
        status=PromptStatus.SENDING, claim_id=uuid.uuid4(), lease_expires_at=now
    )

    assert claim(now=now) == []
    assert Prompt.objects.get(pk=future.pk).status == PromptStatus.SCHEDULED


@pytest.mark.django_db
def test_claim_takes_back_sending_prompts_whose_lease_passed():
    now = timezone.now()
    prompt = make_prompts(1)[0]
    first = claim(now=now)

    again = claim(now=now + LEASE + timedelta(seconds=1))

    assert [p for p, _ in again] == [prompt.id]
    assert again[0][1] != first[0][1]
    prompt.refresh_from_db()
    assert prompt.claim_id == again[0][1]
    assert prompt.attempts == 2


@pytest.mark.django_db
def test_claim_without_skip_locked_swaps_row_by_row(monkeypatch):
    # SQLite (make run) has no SKIP LOCKED; the same claims come from per-row swaps.
    monkeypatch.setattr(connection.features, "has_select_for_update_skip_locked", False)
    now = timezone.now()
    due = make_prompts(3)
    make_prompts(1, due_at=now + timedelta(hours=1))
    lapsed = make_prompts(1)[0]
    Prompt.objects.filter(pk=lapsed.pk).update(
        status=PromptStatus.SENDING,
        claim_id=uuid.uuid4(),
        lease_expires_at=now - timedelta(seconds=1),
        attempts=1,
    )

    claims = claim(now=now, batch_size=10)

    assert {p for p, _ in claims} == {p.id for p in [*due, lapsed]}
    assert Prompt.objects.get(pk=lapsed.pk).attempts == 2
    assert claim(now=now) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_take_disjoint_prompts():
    prompts = make_prompts(600, patients=6)
    barrier = threading.Barrier(4)
    taken: list[list[uuid.UUID]] = [[] for _ in range(4)]

    def dispatcher(index: int) -> None:
        try:
            barrier.wait()
            while claims := claim(batch_size=25):
                taken[index].extend(p for p, _ in claims)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatcher, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [p for ids in taken for p in ids]
    assert len(everything) == len(set(everything)) == 600
    assert set(everything) == {p.id for p in prompts}
    # Every dispatcher got some: they really ran side by side.
    assert all(taken)


@pytest.mark.django_db
def test_claim_reads_only_the_due_part_of_the_partial_index():
    now = timezone.now()
    patient = make_prompts(1)[0].patient
    insert_prompts(count=20_000, patients=[patient], due_from=now, spacing=timedelta(seconds=10))
    insert_prompts(
        count=300,
        patients=[patient],
        due_from=now - timedelta(hours=1),
        spacing=timedelta(seconds=1),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE integration_prompt")

    with CaptureQueriesContext(connection) as queries:
        claims = claim(now=now, batch_size=200)
    assert len(claims) == 200

    due_select = next(
        q["sql"] for q in queries if "SKIP LOCKED" in q["sql"] and "'scheduled'" in q["sql"]
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + due_select)
        plan = cursor.fetchone()[0][0]["Plan"]

    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    scans = [n for n in nodes(plan) if n.get("Relation Name") == "integration_prompt"]
    assert [n["Node Type"] for n in scans] == ["Index Scan"]
    assert scans[0]["Index Name"] == "prompt_due_scheduled"
    # It stops at the batch: rows read are those due, never the 20,000 scheduled later.
    assert scans[0]["Actual Rows"] <= 301


# Dispatching


@pytest.mark.django_db
@pytest.mark.parametrize("batch_size", [10, 200])
def test_dispatch_costs_the_same_queries_whatever_the_batch_size(
    batch_size, django_assert_max_num_queries, django_capture_on_commit_callbacks, sent_tasks
):
    make_prompts(batch_size, patients=5)

    with (
        django_assert_max_num_queries(5),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert prompts_dispatch(batch_size=batch_size, max_batches=1) == batch_size
    assert len(sent_tasks) == 1


@pytest.mark.django_db
def test_dispatch_hands_each_batch_over_by_name_with_ids_only_after_commit(
    django_capture_on_commit_callbacks, sent_tasks
):
    prompts = make_prompts(25, patients=5)

    with django_capture_on_commit_callbacks() as callbacks:
        assert prompts_dispatch(batch_size=10) == 25
        assert sent_tasks == []  # nothing leaves before the claim commits
    for callback in callbacks:
        callback()

    assert [c.args[0] for c in sent_tasks] == ["afterglow.integration.deliver_prompts"] * 3
    batches = [c.kwargs["args"][0] for c in sent_tasks]
    assert [len(batch) for batch in batches] == [10, 10, 5]
    by_id = {str(p.pk): p for p in Prompt.objects.all()}
    for prompt_id, claim_id in (pair for batch in batches for pair in batch):
        # Two ids, nothing else: no text, no token, no patient.
        assert str(uuid.UUID(prompt_id)) == prompt_id
        assert str(by_id[prompt_id].claim_id) == claim_id
    assert set(by_id) == {str(p.pk) for p in prompts}


@pytest.mark.django_db
def test_dispatch_sends_nothing_when_its_transaction_rolls_back(
    django_capture_on_commit_callbacks, sent_tasks
):
    make_prompts(3)

    def dispatch_then_fail() -> None:
        with transaction.atomic():
            prompts_dispatch()
            raise RuntimeError

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        dispatch_then_fail()

    assert sent_tasks == []
    assert Prompt.objects.filter(status=PromptStatus.SCHEDULED).count() == 3


@pytest.mark.django_db
def test_dispatch_stops_after_max_batches(django_capture_on_commit_callbacks, sent_tasks):
    make_prompts(30)

    with django_capture_on_commit_callbacks(execute=True):
        assert prompts_dispatch(batch_size=10, max_batches=2) == 20

    assert Prompt.objects.filter(status=PromptStatus.SCHEDULED).count() == 10


# Delivering


@pytest.mark.django_db
def test_deliver_pushes_a_generic_message_to_every_active_device_and_marks_sent(push_log):
    prompt = make_prompts(1, patients=1, tokens=("ok", "ok-2"))[0]
    retired = make_device(prompt.patient, "old")
    Device.objects.filter(pk=retired.pk).update(is_active=False)

    deliver_claimed()

    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.SENT
    assert prompt.delivered_via == "push"
    assert prompt.sent_at is not None
    assert prompt.lease_expires_at is None
    assert prompt.last_error == ""
    assert delivered_counts(push_log) == {str(prompt.pk): 2}
    assert retired.pk not in {push.device_id for push in read_log(push_log)}
    assert {(m.prompt_id, m.title, m.body) for m in counting_provider.MESSAGES} == {
        (str(prompt.pk), GENERIC_TITLE, GENERIC_BODY)
    }
    attempts = DeliveryAttempt.objects.filter(prompt=prompt)
    assert sorted(a.outcome for a in attempts) == ["delivered", "delivered"]
    assert {a.provider for a in attempts} == {"counting"}


@pytest.mark.django_db
def test_a_push_carries_the_patients_inbox_count_as_its_badge(push_log):
    first, second = make_prompts(2, patients=1)
    later = make_prompts(1, patients=1, due_at=timezone.now() + timedelta(hours=2))[0]
    Prompt.objects.filter(pk=later.pk).update(patient=first.patient)  # not due: not counted
    opened = make_prompts(1, patients=1, tokens=())[0]
    Prompt.objects.filter(pk=opened.pk).update(patient=first.patient, status=PromptStatus.OPENED)
    done = make_prompts(1, patients=1, tokens=())[0]
    Prompt.objects.filter(pk=done.pk).update(patient=first.patient, status=PromptStatus.COMPLETED)

    deliver_claimed()

    # The two being pushed and the opened one.
    assert {(m.prompt_id, m.badge, m.kind) for m in counting_provider.MESSAGES} == {
        (str(first.pk), 3, "prompt"),
        (str(second.pk), 3, "prompt"),
    }


@pytest.mark.django_db
def test_a_prompt_the_batch_expires_is_not_counted_in_the_badge(push_log):
    # A prompt claimed past its answer window (a retry that waited too long) is expired by
    # the batch that pushes the patient's next one: the patient cannot act on it.
    due, late = make_prompts(2, patients=1)
    Prompt.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    deliver_claimed()

    assert Prompt.objects.get(pk=late.pk).status == PromptStatus.EXPIRED
    assert {(m.prompt_id, m.badge) for m in counting_provider.MESSAGES} == {(str(due.pk), 1)}


@pytest.mark.django_db
def test_deliver_loads_the_batchs_devices_in_one_query(push_log):
    make_prompts(20, patients=10, tokens=("ok", "ok-2"))
    claims = claim()

    with CaptureQueriesContext(connection) as queries:
        prompts_deliver(claims=[(str(p), str(c)) for p, c in claims])

    device_reads = [
        q for q in queries if q["sql"].startswith("SELECT") and "integration_device" in q["sql"]
    ]
    assert len(device_reads) == 1
    assert sum(delivered_counts(push_log).values()) == 40


def mixed_batch(size: int) -> None:
    """`size` prompts of every kind of outcome: delivered, retried, dead token, no device,
    expired."""
    make_prompts(size - 4 * (size // 5), patients=5, tokens=("ok", "ok-2"))
    make_prompts(size // 5, patients=2, tokens=("transient",))
    make_prompts(size // 5, patients=2, tokens=("unregistered", "failed"))
    make_prompts(size // 5, patients=2, tokens=())
    make_prompts(size // 5, patients=2, expires_in=timedelta(seconds=30))


@pytest.mark.django_db
@pytest.mark.parametrize("size", [10, 200])
def test_deliver_writes_a_batch_in_the_same_statements_whatever_its_size(push_log, settings, size):
    settings.PROMPT_RECORD_INTERVAL_SECONDS = 60  # one write, when the batch has answered
    mixed_batch(size)
    claims = claim(batch_size=size)
    assert len(claims) == size

    with CaptureQueriesContext(connection) as queries:
        prompts_deliver(claims=[(str(p), str(c)) for p, c in claims])

    statements = [q["sql"].split()[0] for q in queries]
    # Take the claims (lock, update), read the devices and the inbox counts (the badges),
    # then one write: lock the patients' change counters, lock the prompts, advance the
    # counters (one statement), update the prompts, log the attempts, retire the dead
    # devices; and the savepoints around both.
    assert Counter(statements) == {
        "SAVEPOINT": 2,
        "RELEASE": 2,
        "SELECT": 5,
        "UPDATE": 4,
        "INSERT": 1,
    }
    statuses = Counter(Prompt.objects.values_list("status", "delivered_via"))
    assert statuses == {
        (PromptStatus.SENT, "push"): size - 4 * (size // 5),
        (PromptStatus.SENDING, ""): size // 5,
        (PromptStatus.SENT, "inbox"): 2 * (size // 5),
        (PromptStatus.EXPIRED, ""): size // 5,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("by_hand", [True, False], ids=["hand-written", "orm"])
def test_both_ways_of_writing_outcomes_write_the_same(push_log, monkeypatch, by_hand):
    # The ORM's row-by-row path is what SQLite (make run) takes.
    monkeypatch.setattr("integration.delivery.outcomes.sql.is_available", lambda: by_hand)
    mixed_batch(10)
    snoozed_before = make_prompts(1, tokens=("transient",))[0]
    sent_earlier = timezone.now() - timedelta(days=1)
    Prompt.objects.filter(pk=snoozed_before.pk).update(sent_at=sent_earlier)

    deliver_claimed()

    rows = Counter(
        Prompt.objects.exclude(pk=snoozed_before.pk).values_list(
            "status", "delivered_via", "last_error", "attempts", "claim_id"
        )
    )
    assert rows == {
        (PromptStatus.SENT, "push", "", 1, None): 2,
        (PromptStatus.SENDING, "", "push_transient", 1, None): 2,
        (PromptStatus.SENT, "inbox", "push_failed", 1, None): 2,
        (PromptStatus.SENT, "inbox", "", 1, None): 2,
        (PromptStatus.EXPIRED, "", "", 1, None): 2,
    }
    # A retry keeps what the prompt had (a snoozed prompt was sent once before).
    snoozed_before.refresh_from_db()
    assert (snoozed_before.status, snoozed_before.sent_at) == (PromptStatus.SENDING, sent_earlier)


@pytest.mark.django_db
def test_a_slow_push_does_not_hold_back_the_record_of_the_rest(push_log, settings):
    settings.PROMPT_RECORD_INTERVAL_SECONDS = 0.1
    quick = make_prompts(6, patients=3)
    slow = make_prompts(1, patients=1, tokens=("slow:1",))[0]
    written: list[set[uuid.UUID]] = []
    write = outcomes_write

    def write_and_note(finished, **kwargs):
        written.append({item.prompt.id for item in finished})
        return write(finished, **kwargs)

    with mock.patch.object(dispatch, "outcomes_write", write_and_note):
        deliver_claimed()

    # The quick ones are recorded a record interval after they answered, long before the
    # slow one answers; it is written on its own.
    assert written == [{p.id for p in quick}, {slow.id}]
    assert set(Prompt.objects.values_list("status", flat=True)) == {PromptStatus.SENT}


@pytest.mark.django_db
def test_deliver_run_twice_with_one_message_pushes_once(push_log):
    # acks_late: a message comes back when a worker dies; running it again is a no-op.
    make_prompts(5, patients=2)
    claims = [(str(p), str(c)) for p, c in claim()]

    prompts_deliver(claims=claims)
    prompts_deliver(claims=claims)

    assert set(delivered_counts(push_log).values()) == {1}
    assert len(delivered_counts(push_log)) == 5
    assert DeliveryAttempt.objects.count() == 5


@pytest.mark.django_db
def test_deliver_skips_a_claim_taken_back_by_a_later_dispatch(push_log):
    prompt = make_prompts(1)[0]
    now = timezone.now()
    stale = claim(now=now)
    fresh = claim(now=now + LEASE + timedelta(seconds=1))

    prompts_deliver(claims=[(str(p), str(c)) for p, c in stale])
    assert read_log(push_log) == []
    assert Prompt.objects.get(pk=prompt.pk).status == PromptStatus.SENDING

    prompts_deliver(claims=[(str(p), str(c)) for p, c in fresh])
    assert delivered_counts(push_log) == {str(prompt.pk): 1}


@pytest.mark.django_db
def test_deliver_without_a_device_leaves_the_prompt_in_the_inbox(push_log):
    prompt = make_prompts(1, tokens=())[0]

    deliver_claimed()

    prompt.refresh_from_db()
    assert (prompt.status, prompt.delivered_via, prompt.last_error) == (
        PromptStatus.SENT,
        "inbox",
        "",
    )
    assert read_log(push_log) == []
    attempt = DeliveryAttempt.objects.get(prompt=prompt)
    assert (attempt.outcome, attempt.device, attempt.provider) == ("no_device", None, "inbox")


@pytest.mark.django_db
def test_deliver_retires_a_device_reported_unregistered(push_log):
    prompts = make_prompts(2, patients=1, tokens=("unregistered", "ok"))
    dead = Device.objects.get(token="unregistered")

    deliver_claimed()

    dead.refresh_from_db()
    assert dead.is_active is False
    assert dead.retired_at is not None
    assert dead.retired_reason == "unregistered"
    # The batch's pushes go out together: once for each prompt, and never again.
    dead_pushes = [push.outcome for push in read_log(push_log) if push.device_id == str(dead.pk)]
    assert dead_pushes == ["unregistered", "unregistered"]
    assert {(p.status, p.delivered_via) for p in Prompt.objects.all()} == {
        (PromptStatus.SENT, "push")
    }
    assert delivered_counts(push_log) == {str(p.pk): 1 for p in prompts}

    later = make_prompts(1, patients=1, tokens=())[0]
    Prompt.objects.filter(pk=later.pk).update(patient=dead.user)
    deliver_claimed()
    assert len([push for push in read_log(push_log) if push.device_id == str(dead.pk)]) == 2


@pytest.mark.django_db
def test_deliver_to_only_dead_devices_marks_sent_with_push_failed(push_log):
    prompt = make_prompts(1, tokens=("unregistered", "failed"))[0]

    deliver_claimed()

    prompt.refresh_from_db()
    assert (prompt.status, prompt.last_error, prompt.delivered_via) == (
        PromptStatus.SENT,
        "push_failed",
        "inbox",
    )


@pytest.mark.django_db
def test_deliver_retries_a_transient_failure_with_backoff_then_delivers(push_log):
    prompt = make_prompts(1, tokens=("transient:2",))[0]
    due_at = prompt.due_at

    before = timezone.now()
    deliver_claimed()
    prompt.refresh_from_db()
    # Released, still `sending` (the inbox shows it), its lease lapsing when the retry is due.
    assert (prompt.status, prompt.claim_id, prompt.last_error) == (
        PromptStatus.SENDING,
        None,
        "push_transient",
    )
    assert prompt.due_at == due_at
    assert timedelta(seconds=60) <= lease_end(prompt) - before < timedelta(seconds=62)

    # Not before its time...
    assert claim(now=lease_end(prompt)) == []
    before = timezone.now()
    deliver_claimed(now=lease_end(prompt) + timedelta(seconds=1))
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.SENDING
    assert timedelta(seconds=120) <= lease_end(prompt) - before < timedelta(seconds=122)

    deliver_claimed(now=lease_end(prompt) + timedelta(seconds=1))
    prompt.refresh_from_db()
    assert (prompt.status, prompt.attempts, prompt.last_error) == (PromptStatus.SENT, 3, "")
    assert prompt.lease_expires_at is None
    assert [p.outcome for p in read_log(push_log)] == ["transient", "transient", "delivered"]


@pytest.mark.django_db
def test_deliver_waits_at_least_what_retry_after_asks(push_log):
    prompt = make_prompts(1, tokens=("retry-after:600",))[0]

    before = timezone.now()
    deliver_claimed()

    assert timedelta(seconds=600) <= lease_end(prompt) - before < timedelta(seconds=602)


@pytest.mark.django_db
def test_a_push_turned_away_by_a_paused_provider_waits_its_time_and_is_no_attempt(push_log):
    prompt = make_prompts(1, tokens=("turned-away:30",))[0]

    before = timezone.now()
    deliver_claimed()

    prompt.refresh_from_db()
    assert (prompt.status, prompt.attempts, prompt.last_error) == (
        PromptStatus.SENDING,
        0,
        "push_transient",
    )
    assert timedelta(seconds=30) <= lease_end(prompt) - before < timedelta(seconds=32)
    assert not DeliveryAttempt.objects.filter(prompt=prompt).exists()


def delivered_hours_apart(token: str, rounds: int) -> Prompt:
    """A prompt to one device answering as `token` says, after `rounds` deliveries an hour
    apart (each past any lease or retry delay)."""
    prompt = make_prompts(1, tokens=(token,))[0]
    for _ in range(rounds):
        deliver_claimed(now=timezone.now() + timedelta(hours=1))
    prompt.refresh_from_db()
    return prompt


@pytest.mark.django_db
def test_a_push_turned_away_never_uses_up_the_attempts(push_log, settings):
    settings.PROMPT_MAX_ATTEMPTS = 2

    prompt = delivered_hours_apart("turned-away:1", rounds=4)

    assert (prompt.status, prompt.attempts) == (PromptStatus.SENDING, 0)


@pytest.mark.django_db
def test_deliver_gives_up_pushing_after_the_last_attempt(push_log, settings):
    settings.PROMPT_MAX_ATTEMPTS = 3

    prompt = delivered_hours_apart("transient", rounds=3)

    assert (prompt.status, prompt.attempts, prompt.last_error) == (
        PromptStatus.SENT,
        3,
        "push_failed",
    )
    assert len(read_log(push_log)) == 3


@pytest.mark.django_db
def test_deliver_counts_a_provider_exception_as_transient(push_log):
    prompt = make_prompts(1, tokens=("raise",))[0]

    deliver_claimed()

    prompt.refresh_from_db()
    assert (prompt.status, prompt.last_error) == (PromptStatus.SENDING, "push_transient")
    assert DeliveryAttempt.objects.get(prompt=prompt).outcome == "transient"


@pytest.mark.django_db
def test_deliver_expires_a_prompt_too_late_to_matter_instead_of_pushing(push_log):
    prompt = make_prompts(1, expires_in=timedelta(seconds=30))[0]  # due a minute ago

    deliver_claimed()

    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.EXPIRED
    assert prompt.expired_at is not None
    assert read_log(push_log) == []


@pytest.mark.django_db
def test_deliver_stops_pushing_a_prompt_whose_workers_keep_dying(push_log, settings):
    settings.PROMPT_MAX_ATTEMPTS = 2
    prompt = make_prompts(1)[0]
    now = timezone.now()
    for lapse in range(3):  # three claims whose worker never finished
        claims = claim(now=now + lapse * (LEASE + timedelta(seconds=1)))

    prompts_deliver(claims=[(str(p), str(c)) for p, c in claims])

    prompt.refresh_from_db()
    assert (prompt.status, prompt.last_error, prompt.delivered_via) == (
        PromptStatus.SENT,
        "push_failed",
        "inbox",
    )
    assert read_log(push_log) == []


def test_retry_delay_doubles_up_to_the_cap_and_honours_retry_after():
    assert [retry_delay(attempts=n).total_seconds() for n in range(1, 8)] == [
        60,
        120,
        240,
        480,
        960,
        1800,
        1800,
    ]
    assert retry_delay(attempts=1, retry_after=300) == timedelta(seconds=300)
    assert retry_delay(attempts=1, retry_after=10**9) == timedelta(hours=6)
    assert retry_delay(attempts=30_000) == timedelta(minutes=30)


# The tasks, called directly


@pytest.mark.django_db
def test_deliver_task_takes_the_json_shape_of_its_message(push_log):
    prompt = make_prompts(1)[0]
    claims = [[str(p), str(c)] for p, c in claim()]

    tasks.deliver_prompts(claims)

    assert Prompt.objects.get(pk=prompt.pk).status == PromptStatus.SENT


@pytest.mark.django_db
def test_dispatch_task_claims_due_prompts(django_capture_on_commit_callbacks, sent_tasks):
    make_prompts(3)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.dispatch_prompts() == 3

    assert len(sent_tasks) == 1


@pytest.mark.django_db
def test_expire_task_expires_overdue_prompts():
    overdue = make_prompts(1, expires_in=timedelta(seconds=30))[0]  # due a minute ago
    current = make_prompts(1)[0]

    assert tasks.expire_prompts() == 1

    assert Prompt.objects.get(pk=overdue.pk).status == PromptStatus.EXPIRED
    assert Prompt.objects.get(pk=current.pk).status == PromptStatus.SCHEDULED


def test_tasks_keep_their_stable_names():
    assert tasks.dispatch_prompts.name == "afterglow.integration.dispatch"
    assert tasks.deliver_prompts.name == "afterglow.integration.deliver_prompts"
    assert tasks.expire_prompts.name == "afterglow.integration.expire_prompts"
    assert tasks.deliver_prompts.name == dispatch.DELIVER_TASK
    assert tasks.push_sync.name == "afterglow.integration.push_sync" == notify.PUSH_SYNC_TASK


@pytest.mark.django_db(transaction=True)
def test_two_runs_of_one_message_at_the_same_time_push_each_prompt_once(push_log, monkeypatch):
    # Redis hands a message out again after its visibility timeout even while the first
    # run is still going: the takeover lets only one of the two runs hold each prompt.
    monkeypatch.setenv(counting_provider.DELAY_VARIABLE, "0.01")
    make_prompts(20, patients=4)
    claims = [(str(p), str(c)) for p, c in claim()]
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            prompts_deliver(claims=claims)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(delivered_counts(push_log).values()) == {1: 20}
    assert DeliveryAttempt.objects.count() == 20


@pytest.mark.django_db(transaction=True)
def test_a_batch_in_flight_renews_its_claims_so_no_dispatch_takes_them(
    push_log, settings, monkeypatch
):
    # Pushes take longer than the whole lease; a dispatch looks for lapsed leases meanwhile.
    settings.PROMPT_LEASE_SECONDS = 0.3
    monkeypatch.setenv(counting_provider.DELAY_VARIABLE, "0.8")
    prompts = make_prompts(5, patients=1)
    claims = [(str(p), str(c)) for p, c in claim()]
    taken: list[tuple[uuid.UUID, uuid.UUID]] = []

    def dispatch_meanwhile() -> None:
        try:
            time.sleep(0.5)
            taken.extend(claim(now=timezone.now()))
        finally:
            connections.close_all()

    dispatcher = threading.Thread(target=dispatch_meanwhile)
    dispatcher.start()
    prompts_deliver(claims=claims)
    dispatcher.join()

    assert taken == []
    assert delivered_counts(push_log) == {str(p.pk): 1 for p in prompts}
    assert set(Prompt.objects.values_list("status", flat=True)) == {PromptStatus.SENT}


@pytest.mark.django_db
def test_a_batch_leaves_prompts_taken_back_meanwhile_to_their_new_claim(
    push_log, settings, monkeypatch, caplog
):
    settings.PROMPT_LEASE_SECONDS = 0.001  # renewed at once, and lapsed by then
    monkeypatch.setenv(counting_provider.DELAY_VARIABLE, "0.05")
    prompts = make_prompts(5, patients=1)
    claims = [(str(p), str(c)) for p, c in claim()]
    renew = dispatch._claims_renew
    taken_back: list[tuple[uuid.UUID, uuid.UUID]] = []

    def lose_them_first(*args, **kwargs):
        if not taken_back:  # a dispatch takes back whatever it finds lapsed
            taken_back.extend(claim(now=timezone.now() + timedelta(seconds=1)))
        return renew(*args, **kwargs)

    monkeypatch.setattr(dispatch, "_claims_renew", lose_them_first)
    prompts_deliver(claims=claims)

    assert len(taken_back) == 5
    new_claim = taken_back[0][1]
    # Pushed (they were in flight), logged, but the prompts belong to the new claim.
    assert len(read_log(push_log)) == 5
    assert DeliveryAttempt.objects.count() == 5
    assert {
        (p.status, p.claim_id) for p in Prompt.objects.filter(pk__in=[p.pk for p in prompts])
    } == {(PromptStatus.SENDING, new_claim)}
    assert "claim taken back during delivery" in caplog.text


@pytest.mark.django_db
def test_a_renewed_lease_keeps_the_batch(push_log, settings):
    settings.PROMPT_LEASE_SECONDS = 0.001
    make_prompts(5, patients=1)

    deliver_claimed()

    assert Counter(delivered_counts(push_log).values()) == {1: 5}
    assert set(Prompt.objects.values_list("status", flat=True)) == {PromptStatus.SENT}


@pytest.mark.django_db
def test_a_prompt_the_patient_opened_meanwhile_stays_opened(push_log, monkeypatch):
    # The inbox lets a patient open a prompt that is still `sending`.
    prompt = make_prompts(1)[0]
    write = outcomes_write

    def open_it_before_the_write(*args, **kwargs):
        Prompt.objects.filter(pk=prompt.pk).update(status=PromptStatus.OPENED)
        return write(*args, **kwargs)

    monkeypatch.setattr(dispatch, "outcomes_write", open_it_before_the_write)
    deliver_claimed()

    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.OPENED
    assert DeliveryAttempt.objects.get(prompt=prompt).outcome == "delivered"


@pytest.mark.django_db
def test_a_prompt_deleted_during_delivery_is_left_alone(push_log, monkeypatch):
    prompts = make_prompts(2, patients=1)
    write = outcomes_write

    def erase_before_the_write(*args, **kwargs):
        Prompt.objects.filter(pk__in=[p.pk for p in prompts]).delete()
        return write(*args, **kwargs)

    monkeypatch.setattr(dispatch, "outcomes_write", erase_before_the_write)
    deliver_claimed()

    assert not Prompt.objects.filter(pk__in=[p.pk for p in prompts]).exists()
    assert DeliveryAttempt.objects.count() == 0
