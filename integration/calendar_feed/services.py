"""Turning the patient's calendar feed on, rotating its URL, turning it off, and its
title setting. Each write locks the patient's one row, so two requests at once never leave
two live URLs: one turns the feed on, the other finds it on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from backend.accounts.models import User
from backend.errors import ProblemError
from backend.problem_codes import ProblemCode
from integration.calendar_feed import selectors
from integration.calendar_feed.ical import feed_document, session_digests, session_extras
from integration.calendar_feed.models import CalendarFeed
from integration.calendar_feed.revisions import revise
from integration.calendar_feed.tokens import token_digest, token_new
from integration.care.access import AccessAction, access_record


@dataclass(frozen=True)
class FeedSecret:
    """A feed with the secret of its new URL: the only time the secret exists outside the
    calendar app that subscribes to it."""

    feed: CalendarFeed
    token: str


def _locked_feed(patient: User) -> CalendarFeed:
    CalendarFeed.objects.get_or_create(patient=patient)
    return CalendarFeed.objects.select_for_update().get(patient=patient)


def _new_secret(feed: CalendarFeed) -> FeedSecret:
    token = token_new()
    now = timezone.now()
    feed.token_hash = token_digest(token)
    feed.token_created_at = now
    feed.last_read_at = None  # of the URL now in force: none yet
    feed.updated_at = now
    feed.save(update_fields=["token_hash", "token_created_at", "last_read_at", "updated_at"])
    return FeedSecret(feed=feed, token=token)


def calendar_feed_enable(*, patient: User) -> FeedSecret:
    """Turn the feed on: a new secret URL, returned once. A feed that is already on is
    left as it is (409 `calendar_feed_enabled`): its URL is not shown again, and a second
    one is never made beside it. To get a new URL, rotate."""
    with transaction.atomic():
        feed = _locked_feed(patient)
        if feed.is_enabled:
            raise ProblemError(
                409,
                ProblemCode.CALENDAR_FEED_ENABLED,
                "Your calendar feed is on already. Its address is shown only once: to get a "
                "new one (the old one stops working), use POST /api/v1/me/calendar/rotate/.",
            )
        return _new_secret(feed)


def calendar_feed_rotate(*, patient: User) -> FeedSecret:
    """A new secret URL in place of the current one, which answers 404 from the commit on.
    The feed must be on (409 `calendar_feed_disabled` otherwise: turn it on instead)."""
    with transaction.atomic():
        feed = _locked_feed(patient)
        if not feed.is_enabled:
            raise ProblemError(
                409,
                ProblemCode.CALENDAR_FEED_DISABLED,
                "Your calendar feed is off: turn it on with POST /api/v1/me/calendar/.",
            )
        return _new_secret(feed)


def calendar_feed_disable(*, patient: User) -> CalendarFeed:
    """Turn the feed off: its URL answers 404 from the commit on, as an unknown one. The
    title setting stays for the next time. Turning off a feed that is off changes nothing."""
    with transaction.atomic():
        feed = _locked_feed(patient)
        if feed.is_enabled:
            feed.token_hash = None
            feed.token_created_at = None
            feed.last_read_at = None
            feed.updated_at = timezone.now()
            feed.save(
                update_fields=["token_hash", "token_created_at", "last_read_at", "updated_at"]
            )
        return feed


def calendar_feed_update(*, patient: User, plain_titles: bool | None = None) -> CalendarFeed:
    """Change the feed's settings (on or off): `plain_titles` shows what each event is
    ("Esketamine dosing session", an exercise's title) instead of "Appointment" and
    "Afterglow reminder". Journal text never appears, either way."""
    with transaction.atomic():
        feed = _locked_feed(patient)
        if plain_titles is not None and plain_titles != feed.plain_titles:
            feed.plain_titles = plain_titles
            feed.updated_at = timezone.now()
            feed.save(update_fields=["plain_titles", "updated_at"])
        return feed


READ_ACTION = AccessAction.CALENDAR_FEED_READ


def calendar_feed_read(*, token: str, request: HttpRequest | Request | None) -> bytes:
    """The iCalendar document of the live feed whose URL carries `token`; NotFound for
    any other (one answer for unknown, rotated, turned off). In one transaction with the
    read: the feed's `last_read_at` and the patient's access event (`calendar_feed.read`,
    via `calendar`, the actor the patient: whoever holds the URL reads as them); if the
    event cannot be written, nothing is read (503 `audit_unavailable`). A session whose
    alarms or title changed since the last read gets a new revision (`revisions.py`),
    stored with the read."""
    with transaction.atomic():
        feed = selectors.calendar_feed_for_token(token=token)
        if feed is None:
            raise NotFound()
        now = timezone.now()
        content = selectors.calendar_feed_content(feed=feed, now=now)
        extras = session_extras(content)
        state, revisions = revise(feed.event_revisions, session_digests(extras), now=now)
        document = feed_document(content, revisions, extras)
        changes: dict[str, object] = {"last_read_at": now}
        if state != feed.event_revisions:
            changes["event_revisions"] = state
        CalendarFeed.objects.filter(pk=feed.pk, token_hash=feed.token_hash).update(**changes)
        access_record(
            actor=feed.patient,
            patient=feed.patient,
            action=READ_ACTION,
            via="calendar",
            request=request,
            object_type="calendar_feed",
        )
    return document


def calendar_feed_erase(*, user: User) -> int:
    """ACCOUNT_ERASURE_HOOKS: the feed goes with the account (its URL with it)."""
    deleted, _ = CalendarFeed.objects.filter(patient=user).delete()
    return deleted


def calendar_feed_disable_for_sign_out(
    *, user: User, token_digests: Sequence[str], every_sign_in: bool
) -> int:
    """ACCOUNT_SIGN_OUT_HOOKS: when every sign-in of the account ends (sign out
    everywhere, a password reset, deactivation), the feed URL, a credential of its own that
    reads the patient's schedule, ends with them: whoever took over the account must not
    keep a URL. Signing one device out leaves it. Returns 1 if a live feed was turned
    off."""
    if not every_sign_in:
        return 0
    return CalendarFeed.objects.filter(patient=user, token_hash__isnull=False).update(
        token_hash=None, token_created_at=None, last_read_at=None, updated_at=timezone.now()
    )
