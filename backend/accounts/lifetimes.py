"""How long a device token lives: the design, and the one function that applies it.

Patients stay signed in while the app is used. Their token expires after
PATIENT_TOKEN_IDLE_DAYS without a request (30 days), and every request moves that back;
there is no fixed end. An app that is opened now and then is never signed out, and one
that was offline for a week finds its token alive.

Therapists read other people's journals, so theirs stays short: THERAPIST_TOKEN_IDLE_HOURS
without a request (12 h), and never past THERAPIST_TOKEN_MAX_DAYS after sign-in (7 days),
used or not. Staff never hold API tokens for long either: they are treated as therapists.

Why sliding expiry rather than short access tokens with a rotating refresh token: both
keep a used app signed in, but rotation adds a second secret, a family of refresh tokens
to store and a race that hurts exactly our users: a phone on a flaky network that sends
its refresh, loses the answer and sends the same refresh again trips reuse detection and
is signed out, with writes still queued. One hashed token per device, revocable from the
devices list, ended by a new password or "sign out everywhere", and dead after a month
unused, bounds a stolen token as well for a journal that a person opens every few days.
The cost: a token copied from a phone works while the thief keeps using it, until the
owner signs it out (the devices list shows its last use).

Renewal writes the new expiry at most once a minute (knox's MIN_REFRESH_INTERVAL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from backend.accounts.models import User


@dataclass(frozen=True)
class TokenLifetime:
    idle: timedelta
    # None: no fixed end while the token is used.
    max_age: timedelta | None


def token_lifetime(user: User) -> TokenLifetime:
    if user.is_patient and not user.is_staff:
        return TokenLifetime(idle=timedelta(days=settings.PATIENT_TOKEN_IDLE_DAYS), max_age=None)
    return TokenLifetime(
        idle=timedelta(hours=settings.THERAPIST_TOKEN_IDLE_HOURS),
        max_age=timedelta(days=settings.THERAPIST_TOKEN_MAX_DAYS),
    )


def token_expiry(*, user: User, created: datetime, now: datetime | None = None) -> datetime:
    """When a token of this user, made at `created`, expires if it is used `now`."""
    lifetime = token_lifetime(user)
    expiry = (now or timezone.now()) + lifetime.idle
    if lifetime.max_age is not None:
        expiry = min(expiry, created + lifetime.max_age)
    return expiry
