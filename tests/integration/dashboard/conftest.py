"""Fixtures for the dashboard tests: a therapist with an authenticator app, a linked
patient who shared a dosing session (through the journal's and the care layer's services,
so everything is sealed and shared as the app does it), and signed-in clients."""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import User
from integration.care import links, shares
from integration.dashboard.middleware import LAST_ACTIVITY_KEY, SIGNED_IN_AT_KEY
from integration.models import CareLink, Share
from journal.entries import services as entries_services
from journal.models import Entry, TreatmentSession
from journal.sessions import services
from tests.accounts.factories import (
    PASSWORD,
    PatientFactory,
    TherapistFactory,
    TOTPDeviceFactory,
    totp_code,
)
from tests.journal.factories import AFTER_EFFECTS

LOGIN_URL = "/dashboard/sign-in/"
PATIENTS_URL = "/dashboard/"

INTENTION_TEXT = "I want to meet the tightness in my chest with curiosity."
REFLECTION_TEXT = "Floating above a lake; the tightness came back and I could stay with it."
LATER_REFLECTION_TEXT = "Reading my intention again, I did meet it for a moment."
EXERCISE_TEXT = "Warmth in my hands, tension in my jaw that eased."
PRIVATE_TEXT = "Private: the argument with M. on Sunday, not for therapy."

_CSRF_INPUT = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">')


def without_csrf_token(html: str) -> str:
    """A page's HTML without its CSRF token (masked afresh on every render)."""
    return _CSRF_INPUT.sub("", html)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 takes ~0.1 s a hash on purpose; these tests sign in many times."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def therapist_device(db) -> TOTPDevice:
    therapist = TherapistFactory.create(email="dr.berg@example.org", display_name="Dr Berg")
    return TOTPDeviceFactory.create(user=therapist)


@pytest.fixture
def therapist(therapist_device) -> User:
    return therapist_device.user


@pytest.fixture
def patient(db) -> User:
    return PatientFactory.create(email="anna@example.org", display_name="Anna Weber")


def link(patient: User, therapist: User) -> CareLink:
    invitation = links.invitation_create(therapist=therapist)
    return links.care_link_create(patient=patient, code=invitation.code)


@dataclass
class SharedCourse:
    """A dosing session the patient shared for an upcoming integration session."""

    share: Share
    link: CareLink
    dosing: TreatmentSession
    integration: TreatmentSession
    intention: Entry
    reflections: list[Entry]
    exercise: Entry
    private_note: Entry


def share_course(
    patient: User, therapist: User, *, link_to: CareLink | None = None
) -> SharedCourse:
    """Link (unless `link_to` is given), then: an intention for a dosing session, the
    session taking place with its after-effects, two reflections, an exercise answer, a
    private note that stays unshared, and a share of the session."""
    care_link = link_to or link(patient, therapist)
    now = timezone.now()
    dosing = services.session_create(
        patient=patient,
        kind="dosing",
        scheduled_start=now + dt.timedelta(hours=1),
        modality="esketamine_nasal",
        setting="clinic",
    ).record

    def about_dosing(kind: str, title: str, body: str, **fields: Any) -> Entry:
        return entries_services.entry_create(
            patient=patient, kind=kind, session_id=dosing.pk, title=title, body=body, **fields
        ).record

    intention = about_dosing("intention", "Meeting the tightness", INTENTION_TEXT, tags=["body"])
    start = now - dt.timedelta(days=2)
    services.session_update(
        patient=patient,
        session_id=dosing.pk,
        data={
            "scheduled_start": start,
            "actual_start": start,
            "actual_end": start + dt.timedelta(hours=2),
            "status": "completed",
            "after_effects": AFTER_EFFECTS,
            "overall_rating": 7,
        },
        expected_versions=None,
    )
    reflections = [
        about_dosing("reflection", title, body, mood=6, intention_ids=[intention.pk])
        for title, body in (("That evening", REFLECTION_TEXT), ("Next day", LATER_REFLECTION_TEXT))
    ]
    exercise = about_dosing("exercise", "Body scan", EXERCISE_TEXT)
    private_note = entries_services.entry_create(
        patient=patient, kind="note", title="Mine alone", body=PRIVATE_TEXT
    ).record
    integration = services.session_create(
        patient=patient, kind="integration", scheduled_start=now + dt.timedelta(days=2)
    ).record
    share = shares.share_create(
        patient=patient,
        care_link_id=care_link.pk,
        dosing_session_id=dosing.pk,
        integration_session_id=integration.pk,
    )
    return SharedCourse(
        share=share,
        link=care_link,
        dosing=dosing,
        integration=integration,
        intention=intention,
        reflections=reflections,
        exercise=exercise,
        private_note=private_note,
    )


@pytest.fixture
def course(patient, therapist) -> SharedCourse:
    return share_course(patient, therapist)


def sign_in(client: Client, device: TOTPDevice, *, password: str = PASSWORD, **fields):
    """POST the sign-in form with the device's current code (and any other `fields`)."""
    data = {"email": device.user.email, "password": password, "code": totp_code(device)}
    return client.post(LOGIN_URL, {**data, **fields})


def signed_in_client(user: User, device: TOTPDevice | None) -> Client:
    """A client holding the session the sign-in form makes (without spending a code)."""
    client = Client()
    client.force_login(user)
    session = client.session
    if device is not None:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    now = time.time()
    session[SIGNED_IN_AT_KEY] = now
    session[LAST_ACTIVITY_KEY] = now
    session.save()
    return client


@pytest.fixture
def therapist_client(therapist, therapist_device) -> Client:
    return signed_in_client(therapist, therapist_device)
