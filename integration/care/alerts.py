"""Safety alerts: a linked therapist, whom the patient allowed to be alerted, learns by
e-mail and on the dashboard that a check-in needs their attention.

How an alert travels:

1. journal's `measure_create` calls `safety_alerts_create(measure=...)` (a
   `settings.JOURNAL_SAFETY_HOOKS` entry) inside the transaction that stores a PHQ-9 whose
   item 9 is above 0. It writes one `SafetyAlert` per care link that may receive one
   (`integration.care.access.safety_alert_links_for_patient`: live, consented, to an active
   therapist), unique per (measure, link), so the alert is never lost while the measure is
   kept, nor kept when the measure is rolled back.
2. Once that transaction has committed, the alert's id goes to the task
   `afterglow.integration.deliver_safety_alert` (by its stable name: nothing here imports
   `worker`). Safety alerts are exempt from quiet hours, so they are sent at once, day or
   night; nothing else is.
3. `safety_alert_deliver` takes the alert (compare-and-swap pending -> sending, under a
   claim id and a lease), sends the e-mail through Django's e-mail backend and moves it
   sending -> sent. A transient error (SMTP or network) puts it back to pending with the
   attempt recorded and a backoff; after the last attempt it is failed. A patient who
   withdrew consent (or a link that ended) before it went out cancels it.
4. The beat sweep `safety_alerts_deliver_due` does the same for every alert still due: a
   retry whose backoff has passed, one whose message was lost (the broker was away at
   commit), one whose worker died while sending (its lease passed). So a lost message
   loses nothing.

Delivered once: each send is preceded by a compare-and-swap that only one worker wins. The
one window left is a worker dying between the mail server's acceptance and the commit of
`sent` (one small UPDATE): after the lease, that alert is sent again. A second e-mail
about the same alert is the lesser harm.

The e-mail names the patient (by display name) and the time, and asks the therapist to
open the dashboard; it holds no answer, score or instrument: mail crosses servers we do
not control. Erasing the patient's account deletes their measures and with them these
rows (the reason alone is health data).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import uuid
import zoneinfo
from collections.abc import Sequence
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from backend.accounts.models import User
from integration.care import access
from integration.models import SafetyAlert, SafetyAlertReason, SafetyAlertStatus
from journal.crisis import country_lines
from journal.models import Measure
from journal.safety import crisis_resources

logger = logging.getLogger("integration.alerts")  # named before the split: log filters use it

# Stored in broker messages: never rename (see worker/tasks.py).
DELIVER_ALERT_TASK = "afterglow.integration.deliver_safety_alert"

DEFAULT_MAX_ATTEMPTS = 5
# A failed attempt waits base * 2**(attempt - 1), at most the cap: 1, 2, 4, 8 minutes
# with the defaults (settings SAFETY_ALERT_RETRY_BASE_SECONDS and ..._CAP_SECONDS).
DEFAULT_RETRY_BASE_SECONDS = 60
DEFAULT_RETRY_CAP_SECONDS = 15 * 60
# Longer than an SMTP conversation can take (set EMAIL_TIMEOUT below it).
DEFAULT_LEASE_SECONDS = 120
DEFAULT_SWEEP_BATCH_SIZE = 100

# Transient: the mail server refused or failed for now, or could not be reached
# (smtplib's errors are OSErrors too; both are named for the reader).
TRANSIENT_ERRORS = (smtplib.SMTPException, OSError)

SUBJECT = "Afterglow: a patient's check-in needs your attention"


class Outcome:
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # not this run's to send (already sent, taken, or not yet due)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _max_attempts() -> int:
    return _setting("SAFETY_ALERT_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)


# Creating ---------------------------------------------------------------------------------


def safety_alerts_create(*, measure: Measure) -> list[SafetyAlert]:
    """A `JOURNAL_SAFETY_HOOKS` hook: alert every linked therapist the patient allowed to
    be alerted that this measure asks for a safety response. Runs inside the transaction
    that stores the measure; the alerts are queued for delivery once it commits."""
    links = list(access.safety_alert_links_for_patient(patient_id=measure.patient_id))
    if not links:
        return []
    now = timezone.now()
    alerts = SafetyAlert.objects.bulk_create(
        SafetyAlert(
            patient_id=measure.patient_id,
            therapist_id=link.therapist_id,
            care_link=link,
            consent_id=link.safety_alerts_consent_id,
            measure=measure,
            reason=SafetyAlertReason.PHQ9_ITEM9,
            created_at=now,
            next_attempt_at=now,
        )
        for link in links
    )
    transaction.on_commit(partial(_enqueue, [str(alert.pk) for alert in alerts]))
    return alerts


def _enqueue(alert_ids: Sequence[str]) -> None:
    for alert_id in alert_ids:
        try:
            current_app.send_task(DELIVER_ALERT_TASK, args=[alert_id])
        except Exception as error:  # the broker's errors vary by transport
            # Committed already: the beat sweep sends it within a minute.
            logger.warning(
                "safety alert not queued; the sweep will send it",
                extra={"alert_id": alert_id, "error": type(error).__name__},
            )


# Delivering -------------------------------------------------------------------------------


def _claimable(now: dt.datetime, max_attempts: int) -> Q:
    """Alerts to send now: new ones (whatever the clocks of the web server that wrote them
    and the worker say), pending ones whose next attempt is due, and sending ones whose
    worker's lease has passed (it died), while attempts are left."""
    return (
        Q(status=SafetyAlertStatus.PENDING, attempts=0)
        | Q(status=SafetyAlertStatus.PENDING, next_attempt_at__lte=now)
        | Q(status=SafetyAlertStatus.SENDING, lease_expires_at__lt=now)
    ) & Q(attempts__lt=max_attempts)


def _backoff(attempts: int) -> dt.timedelta:
    base = _setting("SAFETY_ALERT_RETRY_BASE_SECONDS", DEFAULT_RETRY_BASE_SECONDS)
    cap = _setting("SAFETY_ALERT_RETRY_CAP_SECONDS", DEFAULT_RETRY_CAP_SECONDS)
    return dt.timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def _local_time(instant: dt.datetime, user: User) -> str:
    try:
        zone = zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = instant.astimezone(zone)
    return f"{local:%A %d %B %Y, %H:%M} ({local.tzname()})"


def _crisis_lines(patient: User) -> list[str]:
    """The crisis services of the patient's country (the clinic's line first), or the
    plain fallback when their country has no checked list."""
    lines = [
        f"- {resource['name']}: {resource['instructions']}"
        for resource in crisis_resources(country=patient.country)
    ]
    if not country_lines(patient.country):
        lines.append("- Their local emergency number.")
    return lines


def safety_alert_message(alert: SafetyAlert) -> tuple[str, str]:
    """The e-mail's subject and body: who, when, where to look, and the crisis lines.
    Never an answer, a score or the questionnaire's name. Reads `alert.patient` and
    `alert.therapist`: select them with the alert."""
    patient, therapist = alert.patient.display_name, alert.therapist
    dashboard = str(getattr(settings, "DASHBOARD_PUBLIC_URL", "") or "")
    where = f" at {dashboard}" if dashboard else ""
    lines = [
        f"Hello {therapist.display_name},",
        "",
        f"{patient} recorded a safety-relevant answer in a check-in in Afterglow on "
        f"{_local_time(alert.created_at, therapist)}. They allowed Afterglow to alert you "
        "when this happens.",
        "",
        f"Please open your Afterglow dashboard{where} and consider reaching out to them. "
        "This e-mail does not contain their answers.",
        "",
        "Afterglow is a journal, not a crisis service: nobody reads it in real time, and "
        "this alert does not replace your clinic's own safety procedures. If you believe "
        "they are in immediate danger, follow those procedures. Crisis services where "
        f"{patient} lives:",
        *_crisis_lines(alert.patient),
        "",
        f"You receive this because {patient} linked their Afterglow journal to you and "
        "turned safety alerts on. They can turn them off at any time.",
    ]
    return SUBJECT, "\n".join(lines)


def _finish(alert_id: uuid.UUID, token: uuid.UUID, **changes: Any) -> bool:
    """Compare-and-swap the alert this run holds out of `sending`."""
    updated = SafetyAlert.objects.filter(
        pk=alert_id, status=SafetyAlertStatus.SENDING, claim_id=token
    ).update(claim_id=None, lease_expires_at=None, **changes)
    return updated == 1


def safety_alert_deliver(*, alert_id: uuid.UUID | str, now: dt.datetime | None = None) -> str:
    """Send one alert's e-mail if it is due and nobody else holds it; returns the outcome
    (`Outcome`). Safe to call twice with the same id, at once or later: only one call wins
    the compare-and-swap that precedes the send."""
    now = now or timezone.now()
    max_attempts = _max_attempts()
    lease = dt.timedelta(seconds=_setting("SAFETY_ALERT_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))
    token = uuid.uuid4()
    claimed = (
        SafetyAlert.objects.filter(pk=alert_id)
        .filter(_claimable(now, max_attempts))
        .update(
            status=SafetyAlertStatus.SENDING,
            claim_id=token,
            lease_expires_at=now + lease,
            sending_at=now,
            attempts=F("attempts") + 1,
        )
    )
    if claimed != 1:
        return Outcome.SKIPPED
    alert = SafetyAlert.objects.select_related("patient", "therapist").get(pk=alert_id)
    if not access.safety_alert_may_be_sent(alert):
        # Consent withdrawn or the link ended before the e-mail went out.
        _finish(alert.pk, token, status=SafetyAlertStatus.CANCELLED, cancelled_at=now)
        logger.info("safety alert cancelled", extra={"alert_id": str(alert.pk)})
        return Outcome.CANCELLED
    subject, body = safety_alert_message(alert)
    try:
        send_mail(subject, body, None, [alert.therapist.email])
    except TRANSIENT_ERRORS as error:
        return _failed(alert, token, error, now, max_attempts)
    _finish(alert.pk, token, status=SafetyAlertStatus.SENT, sent_at=timezone.now(), last_error="")
    logger.info("safety alert sent", extra={"alert_id": str(alert.pk), "attempts": alert.attempts})
    return Outcome.SENT


def _failed(
    alert: SafetyAlert, token: uuid.UUID, error: Exception, now: dt.datetime, max_attempts: int
) -> str:
    error_name = type(error).__name__[:64]
    if alert.attempts >= max_attempts:
        _finish(alert.pk, token, status=SafetyAlertStatus.FAILED, last_error=error_name)
        # An alert that cannot reach the therapist is an operational emergency.
        logger.error(
            "safety alert failed: no attempts left",
            extra={"alert_id": str(alert.pk), "attempts": alert.attempts, "error": error_name},
        )
        return Outcome.FAILED
    _finish(
        alert.pk,
        token,
        status=SafetyAlertStatus.PENDING,
        next_attempt_at=now + _backoff(alert.attempts),
        last_error=error_name,
    )
    logger.warning(
        "safety alert not sent; will retry",
        extra={"alert_id": str(alert.pk), "attempts": alert.attempts, "error": error_name},
    )
    return Outcome.RETRY


def safety_alerts_deliver_due(*, now: dt.datetime, batch_size: int | None = None) -> int:
    """The beat sweep: send every alert that is due (a retry whose backoff has passed, a
    lost message, a dead worker's), oldest first; returns how many were sent. Alerts whose
    last attempt died with its worker are marked failed. Any number may run at once."""
    max_attempts = _max_attempts()
    SafetyAlert.objects.filter(
        status=SafetyAlertStatus.SENDING, lease_expires_at__lt=now, attempts__gte=max_attempts
    ).update(status=SafetyAlertStatus.FAILED, claim_id=None, last_error="lease_expired")
    size = batch_size or _setting("SAFETY_ALERT_SWEEP_BATCH_SIZE", DEFAULT_SWEEP_BATCH_SIZE)
    due = list(
        SafetyAlert.objects.filter(_claimable(now, max_attempts))
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:size]
    )
    outcomes = [safety_alert_deliver(alert_id=alert_id, now=now) for alert_id in due]
    return outcomes.count(Outcome.SENT)


# The dashboard's one write ----------------------------------------------------------------


def safety_alert_acknowledge(*, therapist: User, alert_id: uuid.UUID | str) -> SafetyAlert:
    """The therapist has seen the alert: it leaves their dashboard. Writes nothing of the
    patient's; acknowledging again changes nothing. NotFound for an alert they may not
    see (another's, an ended link, withdrawn consent), as for one that does not exist."""
    with transaction.atomic():
        alert = access.therapist_safety_alert(therapist=therapist, alert_id=alert_id)
        SafetyAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now()
        )
        alert.refresh_from_db()
    return alert
