"""The calendar feed's one row per patient. Imported at the end of integration/models.py,
so the model belongs to the integration app and its migrations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

__all__ = ["CalendarFeed"]


class CalendarFeed(models.Model):
    """A patient's calendar feed: its settings, and the SHA-256 of the secret in its URL
    while it is on. The secret itself is never stored: it is shown once, when the URL is
    made. Turning the feed off or rotating it replaces the digest, so the old URL finds
    nothing at once, exactly as an unknown one. One row per patient: there is never more
    than one live URL."""

    patient = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="calendar_feed",
    )
    # Hex SHA-256 of the URL's secret while the feed is on; null while it is off.
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # Off by default: a calendar is often visible to others ("Appointment" instead).
    plain_titles = models.BooleanField(default=False)
    # When the current URL was made (turned on or rotated); null while off.
    token_created_at = models.DateTimeField(null=True, blank=True)
    # The last read of the current URL (a calendar app fetching it); null until then.
    last_read_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # Per session, the digest of its event's alarms and title as last served, how often
    # they changed and when (`revisions.py`): {session id: [digest, count, time]}.
    event_revisions = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(token_hash__isnull=True, token_created_at__isnull=True)
                | Q(token_hash__isnull=False, token_created_at__isnull=False),
                name="calendarfeed_token_with_time",
            ),
        ]

    def __str__(self) -> str:
        return f"calendar feed of {self.patient_id}"

    @property
    def is_enabled(self) -> bool:
        return self.token_hash is not None
