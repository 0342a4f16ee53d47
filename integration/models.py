"""The care layer around the journal: exercises, plans, prompts, devices, care links. A
prompt is one plan step made real for one patient and one dosing session: a row, never a
Celery ETA task (the beat dispatcher claims due rows and hands them to delivery)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from backend.public_ids import PublicIdModel
from integration.calendar_feed.models import CalendarFeed  # noqa: F401
from integration.courses.models import *  # noqa: F403 (the course models, in their package)
from journal.instruments import Instrument
from journal.models import Entry, EntryKind, Measure, TreatmentSession


class AnswerKind(models.TextChoices):
    ENTRY = "entry", "A journal entry"
    CHECKIN = "checkin", "A mood check-in"
    MEASURE = "measure", "A standard measure"


class Exercise(models.Model):
    """A catalog item: something to write, a checklist, a practice, a check-in."""

    id = models.BigAutoField(primary_key=True)
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120)
    instructions = models.TextField()
    estimated_minutes = models.PositiveSmallIntegerField()
    answer_kind = models.CharField(max_length=16, choices=AnswerKind.choices)
    # The kind of entry an answer creates (for entry and check-in answers).
    entry_kind = models.CharField(max_length=16, choices=EntryKind.choices, blank=True)
    # The questionnaire an answer records (for measure answers only).
    instrument = models.CharField(max_length=8, choices=Instrument.choices, blank=True)
    # Safety-relevant prompts (the after-session check-in) may arrive in the quiet period
    # right after a dosing session; nothing else does.
    is_safety_relevant = models.BooleanField(default=False)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(answer_kind="measure") & ~Q(instrument=""))
                | (~Q(answer_kind="measure") & Q(instrument="")),
                name="exercise_instrument_for_measures_only",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class IntegrationPlan(models.Model):
    """Ordered steps around each dosing session."""

    id = models.BigAutoField(primary_key=True)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField()
    is_default = models.BooleanField(default=False)
    # Demonstration plans use minute-scale offsets (make run); never a patient's default.
    is_demo = models.BooleanField(default=False)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="plan_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class PlanStep(PublicIdModel):
    """An exercise at an offset from a dosing session's start (negative: before it)."""

    id = models.BigAutoField(primary_key=True)
    plan = models.ForeignKey(IntegrationPlan, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    exercise = models.ForeignKey(Exercise, on_delete=models.PROTECT, related_name="+")
    offset = models.DurationField()
    # After this long past its due time, an unanswered prompt expires.
    answer_window = models.DurationField(default=dt.timedelta(hours=24))
    # Only for a dosing session that starts a course (no other live dosing session in the
    # `integration.prompts.planning.COURSE_GAP` before it): the measures taken before a course.
    is_course_start_only = models.BooleanField(default=False)

    class Meta:
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "position"], name="planstep_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.plan.slug}#{self.position} {self.exercise.slug} at {self.offset}"


class PatientTimeline(models.Model):
    """A patient's plan choice and how prompts may reach them."""

    patient = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="timeline",
    )
    plan = models.ForeignKey(IntegrationPlan, on_delete=models.PROTECT, related_name="+")
    disabled_steps = models.ManyToManyField(PlanStep, blank=True, related_name="+")
    quiet_start = models.TimeField(default=dt.time(21, 0))
    quiet_end = models.TimeField(default=dt.time(8, 0))
    max_prompts_per_day = models.PositiveSmallIntegerField(default=3)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"timeline of {self.patient_id}"


class PromptStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    OPENED = "opened", "Opened"
    COMPLETED = "completed", "Completed"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class PromptDelivery(models.TextChoices):
    """How a sent prompt reached its patient. Kept apart from `status`, which goes on to
    `opened` and `completed`: how the prompt arrived stays readable after that."""

    PUSH = "push", "Push notification"
    INBOX = "inbox", "Inbox only (no device took a push)"


# What a patient can act on from the inbox: sent or on its way, opened (and, by
# `answerable`, scheduled prompts already due: the inbox shows them before their push).
ANSWERABLE_STATUSES = (PromptStatus.SENDING, PromptStatus.SENT, PromptStatus.OPENED)


def answerable(now: dt.datetime) -> Q:
    """Prompts the patient can see and act on now: the inbox, and the count on the app's
    badge."""
    return Q(status__in=ANSWERABLE_STATUSES) | Q(status=PromptStatus.SCHEDULED, due_at__lte=now)


class Prompt(models.Model):
    """One plan step made real for one dosing session, with its delivery state.

    `status` moves scheduled -> sending -> sent -> opened -> completed (or skipped, expired,
    cancelled); each transition sets its own timestamp. Transitions are compare-and-swap
    updates (`filter(status=old).update(status=new)`), so two workers cannot both win.
    `change`: the patient's change number of the last change the app syncs
    (`integration.prompts.sync`; not the dispatcher's claims, leases and attempts).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompts"
    )
    session = models.ForeignKey(TreatmentSession, on_delete=models.CASCADE, related_name="+")
    step = models.ForeignKey(PlanStep, on_delete=models.PROTECT, related_name="+")
    exercise = models.ForeignKey(Exercise, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=PromptStatus.choices, default=PromptStatus.SCHEDULED
    )
    # The step's time from the session's start; then the time it is actually due, after
    # the patient's quiet hours, the post-dosing quiet period and the daily cap moved it.
    nominal_at = models.DateTimeField()
    due_at = models.DateTimeField()
    # What moved it from `nominal_at` when it was planned (PromptMove values; [] if nothing).
    moved_by = models.JSONField(default=list, blank=True, db_default=[])
    expires_at = models.DateTimeField()
    # Delivery claim: set when the dispatcher takes the prompt; a claim whose lease has
    # passed (its worker died) is taken back by the next dispatch.
    claim_id = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=64, blank=True)
    # Set with `sent`: "push" when a device took the push, "inbox" when none could (no
    # device, dead tokens, permanent errors, retries used up); empty before.
    # (A database default too: rows inserted by hand, as the benchmarks do, need none.)
    delivered_via = models.CharField(
        max_length=8, choices=PromptDelivery.choices, blank=True, db_default=""
    )
    entry = models.ForeignKey(
        Entry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The questionnaire that answered a measure prompt.
    measure = models.ForeignKey(
        Measure, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    skipped_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # An answer that arrived after the prompt closed (expired, cancelled, skipped, or
    # answered on another device): the text is kept and linked here, the status stays.
    answered_late_at = models.DateTimeField(null=True, blank=True)
    change = models.BigIntegerField(db_default=0)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "step"], name="prompt_unique_session_step"),
        ]
        indexes = [
            # The dispatcher's claim reads only due, scheduled rows: a partial index keeps its
            # cost proportional to what is due, not to everything scheduled later.
            models.Index(
                fields=["due_at"],
                condition=Q(status="scheduled"),
                name="prompt_due_scheduled",
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="sending"),
                name="prompt_lease_sending",
            ),
            models.Index(fields=["patient", "due_at"], name="prompt_patient_due"),
            models.Index(fields=["patient", "change"], name="prompt_patient_change"),
        ]

    def __str__(self) -> str:
        return f"prompt {self.id} ({self.status})"


class Platform(models.TextChoices):
    IOS = "ios", "iOS (APNs)"
    ANDROID = "android", "Android (FCM)"
    WEB = "web", "Web Push"


class PushPermission(models.TextChoices):
    GRANTED = "granted", "Granted (notifications may be shown)"
    REFUSED = "refused", "Refused (no push: the app reminds by itself)"
    UNKNOWN = "unknown", "Not known (not asked yet, or not said)"


class Device(models.Model):
    """A push destination of a patient. A token the provider reports unregistered is
    retired, not deleted, so a re-registration is visible in the history."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_devices"
    )
    platform = models.CharField(max_length=8, choices=Platform.choices)
    # FCM registration token, APNs device token (hex), or a Web Push subscription as JSON.
    token = models.TextField()
    token_hash = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.CharField(max_length=64, blank=True)
    push_permission = models.CharField(max_length=8, choices=PushPermission, default="unknown")
    # The sign-in (device token) this registration was made under: one device. Signing it
    # out retires this registration in the same transaction (ACCOUNT_SIGN_OUT_HOOKS).
    sign_in = models.ForeignKey(
        "accounts.DeviceToken",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="push_devices",
    )

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["token_hash"], condition=Q(is_active=True), name="device_unique_token"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform} device {self.id}"


class DeliveryOutcome(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    TRANSIENT = "transient", "Transient failure (retried)"
    UNREGISTERED = "unregistered", "Token unregistered (device retired)"
    FAILED = "failed", "Permanent failure"
    NO_DEVICE = "no_device", "No device (inbox only)"


class DeliveryAttempt(models.Model):
    """One try at one device for one prompt: the delivery log a support person reads."""

    id = models.BigAutoField(primary_key=True)
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="attempt_log")
    device = models.ForeignKey(
        Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    provider = models.CharField(max_length=16)
    outcome = models.CharField(max_length=16, choices=DeliveryOutcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    attempted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["attempted_at"]
        indexes = [models.Index(fields=["prompt"], name="attempt_prompt")]

    def __str__(self) -> str:
        return f"attempt {self.id} {self.outcome}"


class CareInvitation(PublicIdModel):
    """A therapist's single-use invitation: a short code the patient types in. Only a hash
    of the code is stored."""

    id = models.BigAutoField(primary_key=True)
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_invitations"
    )
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation {self.id} of {self.therapist_id}"


class CareLinkEndedBy(models.TextChoices):
    PATIENT = "patient", "Patient"
    THERAPIST = "therapist", "Therapist"
    SYSTEM = "system", "System (account erased)"


class CareLink(models.Model):
    """A patient <-> therapist relation the patient accepted. Ending it ends every share
    under it at once (the access check requires a live link)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_links"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="patient_links"
    )
    invitation = models.ForeignKey(
        CareInvitation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The patient's consent to safety alerts reaching this therapist (off by default), as
    # recorded by `safety_alerts_consent`, the decision in force (its history: the link's
    # `safety_alert_consents`). Both change together, in integration.care.links only.
    safety_alerts_enabled = models.BooleanField(default=False)
    safety_alerts_consent = models.ForeignKey(
        "SafetyAlertConsent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=16, choices=CareLinkEndedBy.choices, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "therapist"],
                condition=Q(ended_at__isnull=True),
                name="carelink_one_live_per_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"care link {self.id}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class SafetyAlertConsent(models.Model):
    """One decision of the patient about safety alerts on one care link: given or
    withdrawn, when, and under which version of the consent text
    (`settings.SAFETY_ALERT_CONSENT_VERSION`; blank for decisions made before versions
    were recorded). Never changed: a new decision is a new row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    care_link = models.ForeignKey(
        CareLink, on_delete=models.CASCADE, related_name="safety_alert_consents"
    )
    is_given = models.BooleanField()
    consent_version = models.CharField(max_length=32, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return f"safety alert consent {self.id} ({'given' if self.is_given else 'withdrawn'})"


class Share(models.Model):
    """What a patient lets a linked therapist read, until it expires or is revoked.

    A share names chosen entries, and/or one dosing session: then everything attached to
    that session is included, entries added later too; and/or the patient's measures.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    care_link = models.ForeignKey(CareLink, on_delete=models.CASCADE, related_name="shares")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    dosing_session = models.ForeignKey(
        TreatmentSession, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    integration_session = models.ForeignKey(
        TreatmentSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    entries = models.ManyToManyField(Entry, through="SharedEntry", blank=True, related_name="+")
    # The patient's PHQ-9 and GAD-7 scores (totals, bands, times, all of them, later ones
    # too) with the start times of their dosing sessions: the therapist's charts.
    include_measures = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["therapist", "patient"], name="share_therapist_patient")]

    def __str__(self) -> str:
        return f"share {self.id}"


class SharedEntry(models.Model):
    """An entry chosen for a share, with the version it had then (a later edit is shown
    as edited)."""

    id = models.BigAutoField(primary_key=True)
    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="shared_entries")
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="+")
    version_at_share = models.PositiveIntegerField()
    shared_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["share", "entry"], name="sharedentry_unique"),
        ]

    def __str__(self) -> str:
        return f"entry {self.entry_id} in share {self.share_id}"


class AccessEventQuerySet(models.QuerySet["AccessEvent"]):
    def update(self, **kwargs: object) -> int:
        raise PermissionError("Access events cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Access events cannot be deleted.")


class AccessEvent(PublicIdModel):
    """One read of patient data by someone other than the patient. Append-only: the
    application cannot change or delete one, and on PostgreSQL a trigger refuses UPDATE
    and DELETE on the table."""

    id = models.BigAutoField(primary_key=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_events"
    )
    share = models.ForeignKey(
        Share, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32, blank=True)
    object_ids = models.JSONField(default=list)
    request_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=16)  # "api" or "dashboard"
    created_at = models.DateTimeField(default=timezone.now)

    objects = AccessEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-created_at"], name="access_patient_time")]

    def __str__(self) -> str:
        return f"access event {self.id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise PermissionError("Access events cannot be changed.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("Access events cannot be deleted.")


class SafetyAlertReason(models.TextChoices):
    PHQ9_ITEM9 = "phq9_item9", "PHQ-9 item 9 above 0"


class SafetyAlertStatus(models.TextChoices):
    PENDING = "pending", "Pending (waiting for its next attempt)"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up after the last attempt)"
    CANCELLED = "cancelled", "Cancelled (consent withdrawn or link ended before sending)"


class SafetyAlert(models.Model):
    """An e-mail to a linked therapist, who the patient allowed to be alerted, that a
    measure asked for a safety response; and a flag on the therapist's dashboard until
    they acknowledge it. One per (measure, care link).

    `status` moves pending -> sending -> sent (or back to pending with a later
    `next_attempt_at` after a transient failure, to failed after the last attempt, or to
    cancelled), each move a compare-and-swap. The e-mail says that an answer needs
    attention, never what it was. Deleting the measure (account erasure) deletes its
    alerts: the reason is itself health data.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="safety_alerts"
    )
    care_link = models.ForeignKey(CareLink, on_delete=models.CASCADE, related_name="safety_alerts")
    # The consent it was made under: it is shown and sent only while that one is in force.
    consent = models.ForeignKey(
        SafetyAlertConsent, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=SafetyAlertReason.choices)
    status = models.CharField(
        max_length=16, choices=SafetyAlertStatus.choices, default=SafetyAlertStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # The class of the last error (never its message, which can quote an address).
    last_error = models.CharField(max_length=64, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claim_id = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["measure", "care_link"], name="safetyalert_one_per_measure_link"
            ),
        ]
        indexes = [
            # The sweep reads only alerts that still have to go out.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="safetyalert_due",
            ),
            models.Index(
                fields=["therapist", "patient"],
                condition=Q(acknowledged_at__isnull=True),
                name="safetyalert_unacknowledged",
            ),
        ]

    def __str__(self) -> str:
        return f"safety alert {self.id} ({self.status})"


from integration.ahead.models import *  # noqa: E402, F403
