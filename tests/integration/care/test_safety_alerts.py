"""Safety alerts: a PHQ-9 with item 9 above 0 alerts each linked therapist the patient
allowed to be alerted, by e-mail (once, retried on failure, recorded, never with the
answers) and with a flag on the dashboard until they acknowledge it.

The hook is wired here with `settings.JOURNAL_SAFETY_HOOKS`, as backend/settings.py wires
it. E-mail goes to Django's test outbox (`mailoutbox`); the end-to-end test at the bottom
runs a real Celery worker against Redis and PostgreSQL with the file e-mail backend.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import time
import uuid
from pathlib import Path
from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from integration.care import alerts, links
from integration.care.alerts import (
    DELIVER_ALERT_TASK,
    SUBJECT,
    safety_alert_deliver,
    safety_alerts_deliver_due,
)
from integration.models import AccessEvent, CareLink, SafetyAlert, SafetyAlertStatus
from journal.instruments import PHQ9
from journal.measures import services
from journal.models import Measure
from tests.accounts.factories import TOTPDeviceFactory
from tests.integration.care_data import client_of, make_link, make_share
from tests.integration.dashboard.conftest import signed_in_client
from tests.integration.factories import (
    make_patient,
    make_therapist,
    yesterdays_dosing,
)
from tests.integration.workers import Workers
from tests.processes import wait_for
from worker import tasks

HOOK = "integration.care.alerts.safety_alerts_create"
# Item 9 ("thoughts that you would be better off dead...") above 0; total 23, band severe.
ENDORSING = [3, 3, 3, 3, 3, 3, 2, 2, 1]
CALM = [1, 1, 0, 1, 0, 1, 0, 0, 0]
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # 11:00 in Berlin
MEASURES = "/api/v1/measures/"


@pytest.fixture(autouse=True)
def _hook(settings):
    settings.JOURNAL_SAFETY_HOOKS = [HOOK]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "alerts@afterglow.test"


@pytest.fixture
def sent_tasks():
    """The tasks the hook queues after commit, instead of a broker."""
    with mock.patch.object(alerts, "current_app") as app:
        yield app.send_task.call_args_list


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def patient(db):
    return make_patient(email="anna@example.org", display_name="Anna Weber", country="DE")


@pytest.fixture
def therapist(db):
    return make_therapist(
        email="dr.berg@example.org", display_name="Dr Berg", time_zone="Europe/Berlin"
    )


@pytest.fixture
def link(patient, therapist) -> CareLink:
    return make_link(patient, therapist, safety_alerts_enabled=True)


def phq9(patient, answers=ENDORSING, **fields) -> Measure:
    return services.measure_create(
        patient=patient, instrument="phq9", answers=answers, **fields
    ).record


# Creating --------------------------------------------------------------------------------


def test_item_9_alerts_the_consenting_therapist_and_queues_delivery_after_commit(
    patient, therapist, link, sent_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(patient).post(
            MEASURES, {"instrument": "phq9", "answers": ENDORSING}, format="json"
        )

    assert response.status_code == 201
    assert response.json()["safety"]["reason"] == "phq9_item9"
    alert = SafetyAlert.objects.get()
    assert (alert.patient_id, alert.therapist_id, alert.care_link_id) == (
        patient.pk,
        therapist.pk,
        link.pk,
    )
    assert (str(alert.measure_id), alert.reason, alert.status, alert.attempts) == (
        response.json()["id"],
        "phq9_item9",
        SafetyAlertStatus.PENDING,
        0,
    )
    assert [(c.args, c.kwargs) for c in sent_tasks] == [
        ((DELIVER_ALERT_TASK,), {"args": [str(alert.pk)]})
    ]


def test_nothing_is_queued_before_the_measure_commits(
    patient, link, sent_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        phq9(patient)

    assert sent_tasks == []
    assert len(callbacks) == 1


def test_no_alert_without_consent_an_active_link_or_item_9(
    patient, therapist, sent_tasks, django_capture_on_commit_callbacks
):
    make_link(patient, therapist)  # consent off: the default
    ended = make_link(patient, make_therapist(), safety_alerts_enabled=True)
    links.care_link_end(user=patient, link_id=ended.pk)
    make_link(make_patient(), make_therapist(), safety_alerts_enabled=True)  # someone else

    with django_capture_on_commit_callbacks(execute=True):
        phq9(patient)
        phq9(patient, answers=CALM)
        services.measure_create(patient=patient, instrument="gad7", answers=[3] * 7)

    assert not SafetyAlert.objects.exists()
    assert sent_tasks == []


def test_each_consenting_therapist_gets_their_own_alert(patient, therapist, link, sent_tasks):
    second = make_therapist(display_name="Dr Roth")
    make_link(patient, second, safety_alerts_enabled=True)
    make_link(patient, make_therapist())  # not consented

    measure = phq9(patient)

    assert sorted(
        SafetyAlert.objects.filter(measure=measure).values_list("therapist_id", flat=True),
        key=str,
    ) == sorted([therapist.pk, second.pk], key=str)


def test_a_repeated_create_does_not_alert_again(patient, link, sent_tasks):
    measure_id = uuid.uuid4()
    body = {"id": str(measure_id), "instrument": "phq9", "answers": ENDORSING}
    client = client_of(patient)

    first = client.post(MEASURES, body, format="json")
    repeat = client.post(MEASURES, body, format="json")

    assert (first.status_code, repeat.status_code) == (201, 200)
    assert repeat.json()["safety"]["reason"] == "phq9_item9"
    assert SafetyAlert.objects.count() == 1


def test_a_broker_that_is_away_loses_nothing(
    patient, link, django_capture_on_commit_callbacks, mailoutbox
):
    with mock.patch.object(alerts, "current_app") as app:
        app.send_task.side_effect = ConnectionError("broker away")
        with django_capture_on_commit_callbacks(execute=True):
            response = client_of(patient).post(
                MEASURES, {"instrument": "phq9", "answers": ENDORSING}, format="json"
            )

    assert response.status_code == 201  # committed, and answered
    assert safety_alerts_deliver_due(now=timezone.now()) == 1  # the beat sweep sends it
    assert len(mailoutbox) == 1


def test_erasing_the_measures_erases_their_alerts(patient, link, sent_tasks):
    phq9(patient)

    services.measures_erase(user=patient)

    assert not SafetyAlert.objects.exists()


# Delivering ------------------------------------------------------------------------------


def test_the_email_says_who_and_when_and_never_what(
    frozen, patient, therapist, link, sent_tasks, mailoutbox
):
    measure = phq9(patient)
    alert = SafetyAlert.objects.get()

    outcome = safety_alert_deliver(alert_id=alert.pk)

    assert outcome == alerts.Outcome.SENT
    (message,) = mailoutbox
    assert message.subject == SUBJECT == "Afterglow: a patient's check-in needs your attention"
    assert message.to == [therapist.email]
    assert message.from_email == "alerts@afterglow.test"
    body = message.body
    assert "Anna Weber" in body
    assert "Monday 02 March 2026, 11:00 (CET)" in body  # the therapist's time zone
    assert "dashboard" in body
    # The crisis services where the patient lives, not a server-wide country's.
    assert "TelefonSeelsorge: Call 0800 111 0 111" in body
    assert "112" in body
    assert "988" not in body
    # No answer, score, band or questionnaire.
    assert str(measure.total) not in body
    for word in ("PHQ", "GAD", "score", "total", "severe", "item", "better off dead"):
        assert word.lower() not in body.lower(), word
    for item in PHQ9.items:
        assert item.text.lower() not in body.lower()
    alert.refresh_from_db()
    assert (alert.status, alert.attempts, alert.sent_at, alert.last_error) == (
        SafetyAlertStatus.SENT,
        1,
        NOW,
        "",
    )


def test_the_email_links_the_dashboard_when_its_address_is_set(
    settings, patient, link, sent_tasks, mailoutbox
):
    settings.DASHBOARD_PUBLIC_URL = "https://care.afterglow.example/dashboard/"
    phq9(patient)

    safety_alert_deliver(alert_id=SafetyAlert.objects.get().pk)

    assert "https://care.afterglow.example/dashboard/" in mailoutbox[0].body


def test_an_alert_is_sent_once_however_often_it_is_asked(patient, link, sent_tasks, mailoutbox):
    phq9(patient)
    alert = SafetyAlert.objects.get()

    outcomes = [safety_alert_deliver(alert_id=alert.pk) for _ in range(3)]
    swept = safety_alerts_deliver_due(now=timezone.now() + dt.timedelta(hours=1))

    assert outcomes == ["sent", "skipped", "skipped"]
    assert swept == 0
    assert len(mailoutbox) == 1


def test_safety_alerts_ignore_quiet_hours(patient, therapist, link, sent_tasks, mailoutbox):
    # 23:30 in Berlin, inside the patient's quiet hours (21:00-08:00) and the therapist's
    # night: the alert goes out at once all the same.
    with time_machine.travel(dt.datetime(2026, 3, 2, 22, 30, tzinfo=dt.UTC), tick=False):
        phq9(patient)
        assert safety_alerts_deliver_due(now=timezone.now()) == 1

    assert len(mailoutbox) == 1
    assert SafetyAlert.objects.get().sent_at == dt.datetime(2026, 3, 2, 22, 30, tzinfo=dt.UTC)


def test_a_transient_failure_is_retried_with_backoff_and_recorded(
    frozen, patient, link, sent_tasks, mailoutbox
):
    phq9(patient)
    alert = SafetyAlert.objects.get()

    with mock.patch.object(alerts, "send_mail", side_effect=smtplib.SMTPServerDisconnected("gone")):
        assert safety_alert_deliver(alert_id=alert.pk) == alerts.Outcome.RETRY

    alert.refresh_from_db()
    assert (alert.status, alert.attempts, alert.last_error) == (
        SafetyAlertStatus.PENDING,
        1,
        "SMTPServerDisconnected",
    )
    assert alert.next_attempt_at == NOW + dt.timedelta(minutes=1)
    assert safety_alerts_deliver_due(now=NOW + dt.timedelta(seconds=59)) == 0  # not yet
    assert safety_alerts_deliver_due(now=NOW + dt.timedelta(minutes=1)) == 1
    alert.refresh_from_db()
    assert (alert.status, alert.attempts) == (SafetyAlertStatus.SENT, 2)
    assert len(mailoutbox) == 1


def test_it_gives_up_after_the_last_attempt(settings, frozen, patient, link, sent_tasks):
    settings.SAFETY_ALERT_MAX_ATTEMPTS = 3
    phq9(patient)
    alert = SafetyAlert.objects.get()
    now = NOW

    with mock.patch.object(alerts, "send_mail", side_effect=ConnectionRefusedError()) as send:
        for _ in range(5):
            safety_alerts_deliver_due(now=now)
            now += dt.timedelta(hours=1)

    alert.refresh_from_db()
    assert send.call_count == 3
    assert (alert.status, alert.attempts, alert.last_error) == (
        SafetyAlertStatus.FAILED,
        3,
        "ConnectionRefusedError",
    )


def test_the_backoff_doubles_up_to_its_cap(settings):
    settings.SAFETY_ALERT_RETRY_BASE_SECONDS = 60
    settings.SAFETY_ALERT_RETRY_CAP_SECONDS = 300

    assert [alerts._backoff(n).total_seconds() for n in range(1, 6)] == [60, 120, 240, 300, 300]


def test_an_alert_whose_worker_died_while_sending_is_sent_after_its_lease(
    frozen, patient, link, sent_tasks, mailoutbox
):
    phq9(patient)
    alert = SafetyAlert.objects.get()
    SafetyAlert.objects.filter(pk=alert.pk).update(
        status=SafetyAlertStatus.SENDING,
        attempts=1,
        claim_id=uuid.uuid4(),
        lease_expires_at=NOW + dt.timedelta(minutes=2),
    )

    assert safety_alerts_deliver_due(now=NOW + dt.timedelta(minutes=1)) == 0  # still held
    assert safety_alerts_deliver_due(now=NOW + dt.timedelta(minutes=3)) == 1

    alert.refresh_from_db()
    assert (alert.status, alert.attempts) == (SafetyAlertStatus.SENT, 2)
    assert len(mailoutbox) == 1


def test_consent_withdrawn_before_sending_cancels_the_alert(
    patient, therapist, link, sent_tasks, mailoutbox
):
    phq9(patient)
    alert = SafetyAlert.objects.get()
    CareLink.objects.filter(pk=link.pk).update(safety_alerts_enabled=False)

    assert safety_alert_deliver(alert_id=alert.pk) == alerts.Outcome.CANCELLED

    alert.refresh_from_db()
    assert alert.status == SafetyAlertStatus.CANCELLED
    assert mailoutbox == []


def test_an_ended_link_before_sending_cancels_the_alert(patient, link, sent_tasks, mailoutbox):
    phq9(patient)
    links.care_link_end(user=patient, link_id=link.pk)

    assert safety_alerts_deliver_due(now=timezone.now()) == 0

    assert SafetyAlert.objects.get().status == SafetyAlertStatus.CANCELLED
    assert mailoutbox == []


def test_the_worker_tasks_call_the_services_by_their_stable_names(
    patient, link, sent_tasks, mailoutbox
):
    phq9(patient)
    alert = SafetyAlert.objects.get()

    assert tasks.deliver_safety_alert.name == DELIVER_ALERT_TASK
    assert tasks.deliver_safety_alerts_due.name == "afterglow.integration.deliver_safety_alerts_due"
    assert tasks.deliver_safety_alert(str(alert.pk)) == "sent"
    assert tasks.deliver_safety_alert(str(alert.pk)) == "skipped"
    assert tasks.deliver_safety_alerts_due() == 0
    assert len(mailoutbox) == 1


def test_the_sweep_reads_only_what_is_due(patient, link, sent_tasks, django_assert_max_num_queries):
    for _ in range(5):
        phq9(patient)
    SafetyAlert.objects.update(status=SafetyAlertStatus.SENT)

    with django_assert_max_num_queries(2):
        assert safety_alerts_deliver_due(now=timezone.now()) == 0


# The dashboard ---------------------------------------------------------------------------


@pytest.fixture
def dashboard(therapist) -> Client:
    return signed_in_client(therapist, TOTPDeviceFactory.create(user=therapist))


def acknowledge_url(alert) -> str:
    return f"/dashboard/alerts/{alert.pk}/acknowledge/"


def test_the_patients_page_flags_an_open_alert_and_logs_the_read(
    frozen, patient, therapist, link, sent_tasks, dashboard
):
    phq9(patient)
    alert = SafetyAlert.objects.get()

    html = dashboard.get("/dashboard/").content.decode()

    assert "Safety alert: " in html
    assert "2 March 2026, 11:00" in html
    assert acknowledge_url(alert) in html
    assert "csrfmiddlewaretoken" in html
    flag = html.split("Safety alert: ")[1].split("</form>")[0]
    assert not any(word in flag for word in ("PHQ", "Severe", "severe", "score"))
    event = AccessEvent.objects.get(action="safety_alerts.list")
    assert (event.actor_id, event.patient_id, event.object_ids, event.via) == (
        therapist.pk,
        patient.pk,
        [str(alert.pk)],
        "dashboard",
    )


def test_the_patients_own_pages_show_the_flag_too(patient, therapist, link, sent_tasks, dashboard):
    session = yesterdays_dosing(patient, keep_prompts=False)
    share = make_share(link, dosing_session=session, include_measures=True)
    phq9(patient)

    pages = [
        f"/dashboard/shares/{share.pk}/",
        f"/dashboard/shares/{share.pk}/measures/",
        f"/dashboard/patients/{patient.pk}/shares/",
    ]

    for page in pages:
        response = dashboard.get(page)
        assert response.status_code == 200, page
        assert "Safety alert: " in response.content.decode(), page
    assert AccessEvent.objects.filter(action="safety_alerts.list").count() == 3


def test_no_flag_and_no_read_without_an_open_alert(patient, link, dashboard):
    html = dashboard.get("/dashboard/").content.decode()

    assert "Safety alert" not in html
    assert not AccessEvent.objects.filter(action="safety_alerts.list").exists()


def test_other_therapists_and_withdrawn_consent_show_nothing(
    patient, therapist, link, sent_tasks, dashboard
):
    other = make_therapist()
    make_link(patient, other)  # linked, but not consented
    phq9(patient)
    other_dashboard = signed_in_client(other, TOTPDeviceFactory.create(user=other))

    assert "Safety alert" not in other_dashboard.get("/dashboard/").content.decode()
    CareLink.objects.filter(pk=link.pk).update(safety_alerts_enabled=False)
    assert "Safety alert" not in dashboard.get("/dashboard/").content.decode()


def test_acknowledging_takes_the_flag_away_and_goes_back(
    frozen, patient, link, sent_tasks, dashboard
):
    phq9(patient)
    alert = SafetyAlert.objects.get()
    measure_before = Measure.objects.values().get()

    response = dashboard.post(acknowledge_url(alert), {"next": "/dashboard/"})

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    alert.refresh_from_db()
    assert alert.acknowledged_at == NOW
    assert alert.status == SafetyAlertStatus.PENDING  # the e-mail is another matter
    assert Measure.objects.values().get() == measure_before  # no patient data written
    html = dashboard.get("/dashboard/").content.decode()
    assert "Safety alert acknowledged." in html
    assert "Safety alert: " not in html
    again = dashboard.post(acknowledge_url(alert))
    assert again.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_at == NOW


def test_acknowledging_needs_the_alerts_own_therapist_and_the_csrf_token(
    patient, therapist, link, sent_tasks, dashboard
):
    phq9(patient)
    alert = SafetyAlert.objects.get()
    other = make_therapist()
    other_dashboard = signed_in_client(other, TOTPDeviceFactory.create(user=other))
    strict = signed_in_client(therapist, TOTPDeviceFactory.create(user=therapist))
    strict.handler.enforce_csrf_checks = True

    responses = [
        other_dashboard.post(acknowledge_url(alert)),
        other_dashboard.post("/dashboard/alerts/not-an-id/acknowledge/"),
        strict.post(acknowledge_url(alert)),
        dashboard.get(acknowledge_url(alert)),
        Client().post(acknowledge_url(alert)),
    ]

    assert [r.status_code for r in responses] == [404, 404, 403, 405, 302]
    assert responses[-1]["Location"].startswith("/dashboard/sign-in/")
    assert SafetyAlert.objects.get().acknowledged_at is None


def test_next_never_leaves_the_dashboard(patient, link, sent_tasks, dashboard):
    phq9(patient)

    response = dashboard.post(
        acknowledge_url(SafetyAlert.objects.get()), {"next": "https://evil.example/"}
    )

    assert response["Location"] == "/dashboard/"


# End to end: PostgreSQL, Redis and a real worker ------------------------------------------


def read_outbox(directory: Path) -> list[str]:
    """The messages the file e-mail backend wrote (each file holds one connection's)."""
    messages = []
    for path in sorted(directory.glob("*.log")):
        messages += [part for part in path.read_text().split("-" * 79) if "Subject:" in part]
    return messages


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_safety_path_end_to_end_with_a_real_worker(tmp_path, settings):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    patient = make_patient(email="anna@example.org", display_name="Anna Weber")
    therapist = make_therapist(email="dr.berg@example.org", display_name="Dr Berg")
    make_link(patient, therapist, safety_alerts_enabled=True)
    unconsented = make_patient(email="ben@example.org", display_name="Ben Kraus")
    make_link(unconsented, therapist)

    with Workers(database_name=connection.settings_dict["NAME"], directory=tmp_path) as workers:
        workers.env.update(
            DJANGO_SETTINGS_MODULE="tests.integration.alert_worker_settings",
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(outbox),
            DEFAULT_FROM_EMAIL="alerts@afterglow.test",
        )
        (worker,) = workers.start(1)

        # Item 9 above 0: the safety block at once, one alert row, one e-mail.
        response = client_of(patient).post(
            MEASURES, {"instrument": "phq9", "answers": ENDORSING}, format="json"
        )
        assert response.status_code == 201
        assert response.json()["safety"]["reason"] == "phq9_item9"
        alert = SafetyAlert.objects.get()
        wait_for(lambda: read_outbox(outbox), timeout=20, what="the alert e-mail")
        wait_for(
            lambda: SafetyAlert.objects.get().status == SafetyAlertStatus.SENT,
            timeout=10,
            what="the alert marked sent",
        )

        # Consent off: nothing for Ben's therapist.
        refused = client_of(unconsented).post(
            MEASURES, {"instrument": "phq9", "answers": ENDORSING}, format="json"
        )
        assert refused.json()["safety"]["reason"] == "phq9_item9"

        # None twice: the same message again, and the beat sweep, change nothing.
        workers.send(DELIVER_ALERT_TASK, [str(alert.pk)])
        workers.send("afterglow.integration.deliver_safety_alerts_due")
        wait_for(
            lambda: worker.log_tail().count(" succeeded in ") >= 3,
            timeout=20,
            what="the worker to run all three tasks",
        )
        time.sleep(0.5)

    messages = read_outbox(outbox)
    assert len(messages) == 1, worker.log_tail()
    (message,) = messages
    assert f"Subject: {SUBJECT}" in message
    assert "To: dr.berg@example.org" in message
    assert "Anna Weber" in message
    assert "Ben Kraus" not in message
    for word in ("PHQ", "score", "total", "severe", "better off dead"):
        assert word.lower() not in message.lower(), word
    assert SafetyAlert.objects.count() == 1
    alert.refresh_from_db()
    assert (alert.status, alert.attempts) == (SafetyAlertStatus.SENT, 1)
