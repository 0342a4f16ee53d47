"""The terms and privacy notice: which version is current (`settings.TERMS_VERSION`), which
one a user accepted and when, and whether they must accept a newer one.

Accepting records a `TermsAcceptance` row; the current version changes with the setting,
and every user whose last acceptance is of another version is then asked again
(`acceptance_required` on /me/ and in the sign-in answer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from backend.accounts.models import TermsAcceptance, User


def current_terms_version() -> str:
    return str(settings.TERMS_VERSION)


@dataclass(frozen=True)
class TermsState:
    current_version: str
    accepted_version: str | None
    accepted_at: dt.datetime | None

    @property
    def acceptance_required(self) -> bool:
        return self.accepted_version != self.current_version


def terms_state_for_user(*, user: User) -> TermsState:
    """The current version and the user's latest acceptance (one query)."""
    latest = TermsAcceptance.objects.filter(user=user).order_by("-accepted_at", "-id").first()
    return TermsState(
        current_version=current_terms_version(),
        accepted_version=latest.version if latest else None,
        accepted_at=latest.accepted_at if latest else None,
    )


def terms_accept(*, user: User, version: str, field: str = "version") -> TermsAcceptance:
    """Record that the user accepted the current version. A version that is not the
    current one answers 400 on `field`: the app showed older terms and must show the
    current ones. Accepting the same version again keeps the first time."""
    current = current_terms_version()
    if version != current:
        raise ValidationError(
            {field: [f"These are not the current terms: show version {current} and send it."]}
        )
    with transaction.atomic():
        acceptance, _ = TermsAcceptance.objects.get_or_create(
            user=user, version=current, defaults={"accepted_at": timezone.now()}
        )
    return acceptance
