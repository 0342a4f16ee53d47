"""The people a fuzz run signs in as: two patients with a little of everything (sessions
with their prompts, entries, measures), each linked to one therapist and sharing with them;
all hold real device tokens (the therapist's TOTP-checked). The second patient is the one
whose records the first must never reach (tests/fuzz/test_nasty_inputs.py).

Made through the services the API calls, so every row is sealed and scored as in production.
Used by the in-process run (tests/fuzz/test_schemathesis.py) and the long run
(tests/fuzz/run_fuzz.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import DeviceToken, Role, User
from integration.care import links, shares
from journal.entries import services as entries_services
from journal.measures import services
from journal.sessions import services as sessions_services

# The fuzz user's password: no generated request can know it, so DELETE /api/v1/me/ (which
# asks for it again) never erases the account under test.
PASSWORD = "fuzz-" + uuid.uuid4().hex


@dataclass(frozen=True)
class FuzzUsers:
    patient: User
    therapist: User
    other_patient: User
    patient_token: str
    therapist_token: str
    other_patient_token: str

    def token_for(self, role: str) -> str:
        return {"patient": self.patient_token, "therapist": self.therapist_token}[role]


def issue_token(user: User, *, second_factor: bool, name: str = "fuzz") -> str:
    token: str
    _, token = DeviceToken.objects.create(
        user=user, device_name=name, is_second_factor_verified=second_factor
    )
    return token


def _user(email: str, role: str) -> User:
    return User.objects.create_user(
        email, PASSWORD, display_name=email.split("@")[0], role=role, time_zone="Europe/Berlin"
    )


def _journal(patient: User) -> list[uuid.UUID]:
    """A dosing session (with its prompts), an integration session, entries and measures."""
    now = timezone.now()
    dosing = sessions_services.session_create(
        patient=patient,
        kind="dosing",
        scheduled_start=now + dt.timedelta(days=2),
        modality="esketamine_nasal",
        setting="clinic",
        note="session note",
    ).record
    integration = sessions_services.session_create(
        patient=patient, kind="integration", scheduled_start=now + dt.timedelta(days=3)
    ).record
    entries = [
        entries_services.entry_create(
            patient=patient, kind="note", title=f"title {index}", body=f"body {index}", tags=["a"]
        ).record
        for index in range(2)
    ]
    services.measure_create(patient=patient, instrument="phq9", answers=[1] * 9)
    services.measure_create(patient=patient, instrument="gad7", answers=[1] * 7)
    return [dosing.id, integration.id, *(entry.id for entry in entries)]


def seed(*, label: str = "fuzz") -> FuzzUsers:
    """Create the users, their data, a care link and a live share; return them with tokens."""
    suffix = uuid.uuid4().hex[:8]
    patient = _user(f"{label}-patient-{suffix}@example.org", Role.PATIENT)
    other_patient = _user(f"{label}-other-{suffix}@example.org", Role.PATIENT)
    therapist = _user(f"{label}-therapist-{suffix}@example.org", Role.THERAPIST)
    TOTPDevice.objects.create(user=therapist, name="Authenticator app", confirmed=True)

    for owner in (patient, other_patient):
        dosing_id, integration_id, *entry_ids = _journal(owner)
        code = links.invitation_create(therapist=therapist).code
        link = links.care_link_create(patient=owner, code=code)
        shares.share_create(
            patient=owner,
            care_link_id=link.id,
            entry_ids=entry_ids,
            dosing_session_id=dosing_id,
            integration_session_id=integration_id,
            include_measures=True,
        )
    return FuzzUsers(
        patient=patient,
        therapist=therapist,
        other_patient=other_patient,
        patient_token=issue_token(patient, second_factor=False),
        therapist_token=issue_token(therapist, second_factor=True),
        other_patient_token=issue_token(other_patient, second_factor=False),
    )
