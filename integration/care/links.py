"""Invitations and care links: a therapist invites with a short code; the patient redeems it
and so makes the link; either side ends it. What a linked therapist may read is decided in
`integration.care.access` only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound

from backend.accounts.models import Role, User
from backend.errors import ProblemError
from backend.problem_codes import ProblemCode
from integration.care import access
from integration.models import (
    CareInvitation,
    CareLink,
    CareLinkEndedBy,
    SafetyAlertConsent,
)

# Care links and shares ------------------------------------------------------------------
#
# A therapist invites with a short code; the patient redeems it and so makes the link. The
# patient then shares chosen entries and/or one dosing session with a linked therapist
# until an expiry. What a therapist may read is decided in `integration.care.access` only.

# Unambiguous characters (no I/L/1, O/0, U/V confusion when read aloud or typed from paper).
INVITATION_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
INVITATION_CODE_LENGTH = 8
INVITATION_TTL = dt.timedelta(hours=72)
SHARE_DEFAULT_DURATION = dt.timedelta(days=7)
SHARE_MAX_DURATION = dt.timedelta(days=90)
SHARE_MAX_ENTRIES = 200

INVALID_INVITATION_DETAIL = (
    "This code cannot be used. Check it, or ask your therapist for a new one."
)


def _invitation_code_normalized(code: str) -> str:
    return "".join(character for character in code.upper() if character.isalnum())


def invitation_code_hash(code: str) -> str:
    return hashlib.sha256(_invitation_code_normalized(code).encode()).hexdigest()


@dataclass(frozen=True)
class NewInvitation:
    invitation: CareInvitation
    code: str  # shown once; only its hash is stored


def invitation_create(*, therapist: User, now: dt.datetime | None = None) -> NewInvitation:
    """A single-use code, valid for 72 hours, for one patient to link to this therapist."""
    now = now or timezone.now()
    for _ in range(5):
        code = "".join(
            secrets.choice(INVITATION_CODE_ALPHABET) for _ in range(INVITATION_CODE_LENGTH)
        )
        try:
            with transaction.atomic():
                invitation = CareInvitation.objects.create(
                    therapist=therapist,
                    code_hash=invitation_code_hash(code),
                    created_at=now,
                    expires_at=now + INVITATION_TTL,
                )
        except IntegrityError:
            continue  # the same code is open already (30^8 codes: about never)
        return NewInvitation(invitation=invitation, code=code)
    raise ProblemError(503, ProblemCode.UNAVAILABLE, "No invitation code could be made. Try again.")


def _invalid_invitation() -> ProblemError:
    # One answer for a wrong, used or expired code: a guesser learns nothing.
    return ProblemError(400, ProblemCode.INVALID_INVITATION_CODE, INVALID_INVITATION_DETAIL)


def _already_linked() -> ProblemError:
    return ProblemError(
        409, ProblemCode.ALREADY_LINKED, "You are already linked to this therapist."
    )


def _usable_invitations(now: dt.datetime) -> QuerySet[CareInvitation]:
    return CareInvitation.objects.filter(
        redeemed_at__isnull=True,
        expires_at__gt=now,
        therapist__role=Role.THERAPIST,
        therapist__is_active=True,
    )


def invitation_preview(*, patient: User, code: str) -> CareInvitation:
    """The invitation behind a code, to show the patient whose it is before they confirm;
    400 for any unusable code, 409 when they are linked to that therapist already."""
    invitation = (
        _usable_invitations(timezone.now())
        .select_related("therapist")
        .filter(code_hash=invitation_code_hash(code))
        .first()
    )
    if invitation is None:
        raise _invalid_invitation()
    if access.live_link_between(patient=patient, therapist_id=invitation.therapist_id).exists():
        raise _already_linked()
    return invitation


def current_consent_version() -> str:
    """The version of the consent text to safety alerts the app must show to ask for it."""
    return str(settings.SAFETY_ALERT_CONSENT_VERSION)


def _consent_version_checked(consent_version: str | None) -> str:
    """The version consent is given under: the current one. A client that showed another
    text (an older app) is told which one to show (409), so the record never names a text
    the patient did not see. Omitted, it means the client showed the current text."""
    current = current_consent_version()
    if consent_version is not None and consent_version != current:
        raise ProblemError(
            409,
            ProblemCode.CONSENT_VERSION_OUTDATED,
            "The consent text has changed: show the current one and send its version.",
            extra={"current_consent_version": current},
        )
    return current


def _consent_record(link: CareLink, *, is_given: bool, version: str, now: dt.datetime) -> None:
    """Record a decision and put it in force on the link (the caller holds the link)."""
    consent = SafetyAlertConsent.objects.create(
        care_link=link, is_given=is_given, consent_version=version, recorded_at=now
    )
    link.safety_alerts_enabled = is_given
    link.safety_alerts_consent = consent
    link.save(update_fields=["safety_alerts_enabled", "safety_alerts_consent"])


def care_link_create(
    *,
    patient: User,
    code: str,
    safety_alerts_enabled: bool = False,
    consent_version: str | None = None,
) -> CareLink:
    """Redeem an invitation: the patient and the therapist are linked, and the code is
    used up; the patient's choice about safety alerts is the link's first consent record.
    400 for an unusable code, 409 when already linked (the code stays usable) or when
    consent is given under an outdated text."""
    now = timezone.now()
    version = (
        _consent_version_checked(consent_version)
        if safety_alerts_enabled
        else current_consent_version()
    )
    with transaction.atomic():
        invitation = (
            _usable_invitations(now)
            .select_for_update(of=("self",))
            .select_related("therapist")
            .filter(code_hash=invitation_code_hash(code))
            .first()
        )
        if invitation is None:
            raise _invalid_invitation()
        try:
            with transaction.atomic():
                link = CareLink.objects.create(
                    patient=patient,
                    therapist=invitation.therapist,
                    invitation=invitation,
                    created_at=now,
                )
        except IntegrityError:
            raise _already_linked() from None  # a live link of this pair exists
        _consent_record(link, is_given=safety_alerts_enabled, version=version, now=now)
        invitation.redeemed_at = now
        invitation.redeemed_by = patient
        invitation.save(update_fields=["redeemed_at", "redeemed_by"])
    return link


def care_link_end(*, user: User, link_id: uuid.UUID) -> CareLink:
    """Either side ends the link; every share under it stops being readable at once (the
    access check requires a live link). Ending an ended link changes nothing."""
    with transaction.atomic():
        link = access.care_links_of(user=user).select_for_update().filter(pk=link_id).first()
        if link is None:
            raise NotFound()
        if link.ended_at is None:
            link.ended_at = timezone.now()
            link.ended_by = (
                CareLinkEndedBy.PATIENT if user.is_patient else CareLinkEndedBy.THERAPIST
            )
            link.save(update_fields=["ended_at", "ended_by"])
    return link


def care_links_erase(*, user: User) -> int:
    """ACCOUNT_ERASURE_HOOKS: an erased account's live care links end, by the system, so
    the other side sees the link ended (`ended_by`: system) rather than live with an account
    that is no more, and every share under them stops being readable (as when a side ends
    a link); a therapist's invitations not yet redeemed stop working. Returns how many
    links ended."""
    now = timezone.now()
    ended = (
        access.care_links_of(user=user)
        .filter(ended_at__isnull=True)
        .update(ended_at=now, ended_by=CareLinkEndedBy.SYSTEM)
    )
    if not user.is_patient:
        CareInvitation.objects.filter(
            therapist=user, redeemed_at__isnull=True, expires_at__gt=now
        ).update(expires_at=now)
    return ended


def care_link_consent_set(
    *,
    patient: User,
    link_id: uuid.UUID,
    safety_alerts_enabled: bool,
    consent_version: str | None = None,
) -> CareLink:
    """The patient gives or withdraws consent to safety alerts on one of their live links.
    It takes effect with the transaction: the next measure alerts, or does not, by it
    (alerts made under an earlier decision are no longer shown or sent). Withdrawing is
    never refused; giving consent needs the current consent text (409 otherwise). A
    request that changes nothing (the same decision under the same text) records nothing.
    404 for a link that is not theirs; 410 `care_link_ended` for an ended one (gone, as
    its GET answers)."""
    with transaction.atomic():
        link = (
            # Locks the link alone (the consent in force is a nullable join): concurrent
            # changes of one link are recorded one after the other.
            CareLink.objects.select_for_update(of=("self",))
            .select_related("safety_alerts_consent")
            .filter(patient=patient, pk=link_id)
            .first()
        )
        if link is None:
            raise NotFound()
        if link.ended_at is not None:
            raise ProblemError(
                410,
                ProblemCode.CARE_LINK_ENDED,
                "This care link has ended; its consent cannot change.",
            )
        # Checked once the link is known to be theirs and live (404 and 410 come first).
        version = (
            _consent_version_checked(consent_version)
            if safety_alerts_enabled
            else current_consent_version()
        )
        in_force = link.safety_alerts_consent
        unchanged = (
            in_force is not None
            and in_force.is_given == safety_alerts_enabled
            and in_force.consent_version == version
        )
        if not unchanged:
            _consent_record(
                link, is_given=safety_alerts_enabled, version=version, now=timezone.now()
            )
    return link
