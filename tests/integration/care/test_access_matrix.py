# ruff: noqa: E501  (the matrix is one row per line, so it reads as a table)
"""The authorization matrix: every actor against every route that reaches patient data,
checked against one table of expected status codes.

Each request is signed in with a real DeviceToken and runs in a savepoint that is rolled
back, so one actor's write (a delete, a revocation) never changes what the next one meets.
Every 2xx by a therapist on a route that reads patient data leaves exactly one access
event; every other request leaves none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from integration.care import shares
from integration.models import AccessEvent
from tests.integration.care_data import expire, make_entry, make_link, make_share, signed_in
from tests.integration.factories import make_patient, make_prompt, make_session, make_therapist

pytestmark = pytest.mark.django_db

ACTORS = (
    "anonymous",
    "patient",  # the owner of the data
    "other_patient",
    "therapist",  # linked to the patient, with an active share
    "therapist_revoked",  # linked to the patient, their share revoked
    "therapist_expired",  # linked to the patient, their share expired
    "therapist_other_patient",  # linked to another patient, with a share of theirs
    "therapist_unlinked",
    "therapist_without_totp",  # "therapist", signed in without the second factor
    "staff",  # an is_staff (and superuser) account, patient role
)

# An expected cell is a status, or (status, access events) where it differs from the rule.
Cell = int | tuple[int, int]

WRITES = ("POST", "PUT", "PATCH", "DELETE")
ALL_405: tuple[Cell, ...] = (405,) * len(ACTORS)
THERAPIST_READ_PATHS = (
    "/therapist/patients/",
    "/therapist/patients/{patient}/shares/",
    "/therapist/patients/{patient}/share-history/",
    "/therapist/shares/{share}/",
    "/therapist/shares/{revoked_share}/",
    "/therapist/shares/{expired_share}/",
    "/therapist/shares/{other_share}/",
    "/therapist/shares/{share}/measures/",
    "/therapist/shares/{revoked_share}/measures/",
    "/therapist/shares/{expired_share}/measures/",
    "/therapist/shares/{other_share}/measures/",
)

JSON_SESSION = {"kind": "preparation", "scheduled_start": "2031-01-06T10:00:00Z"}
JSON_ENTRY = {"kind": "note", "title": "t", "body": "b"}

# method, path under /api/v1, reads patient data (audited), body, expected per actor:
#  anon  pat  other  ther  revok  expir  other-p  unlink  no-totp  staff
TABLE: list[tuple[str, str, bool, dict[str, Any] | None, tuple[Cell, ...]]] = [
    # The journal: the patient's own; therapists never, whatever they were shared.
    ("GET", "/sessions/", False, None, (401, 200, 200, 403, 403, 403, 403, 403, 403, 200)),
    ("POST", "/sessions/", False, JSON_SESSION, (401, 201, 201, 403, 403, 403, 403, 403, 403, 201)),
    ("GET", "/sessions/{session}/", False, None, (401, 200, 404, 403, 403, 403, 403, 403, 403, 404)),
    ("PATCH", "/sessions/{upcoming}/", False, {"note": "n"}, (401, 200, 404, 403, 403, 403, 403, 403, 403, 404)),
    ("DELETE", "/sessions/{upcoming}/", False, None, (401, 204, 404, 403, 403, 403, 403, 403, 403, 404)),
    ("GET", "/sessions/{session}/journal/", False, None, (401, 200, 404, 403, 403, 403, 403, 403, 403, 404)),
    ("GET", "/entries/", False, None, (401, 200, 200, 403, 403, 403, 403, 403, 403, 200)),
    ("POST", "/entries/", False, JSON_ENTRY, (401, 201, 201, 403, 403, 403, 403, 403, 403, 201)),
    ("GET", "/entries/{entry}/", False, None, (401, 200, 404, 403, 403, 403, 403, 403, 403, 404)),
    ("PATCH", "/entries/{entry}/", False, {"body": "x"}, (401, 200, 404, 403, 403, 403, 403, 403, 403, 404)),
    ("DELETE", "/entries/{entry}/", False, None, (401, 204, 404, 403, 403, 403, 403, 403, 403, 404)),
    ("GET", "/sync/", False, None, (401, 200, 200, 403, 403, 403, 403, 403, 403, 200)),
    ("GET", "/me/export/", False, None, (401, 200, 200, 403, 403, 403, 403, 403, 403, 200)),
    ("GET", "/prompts/", False, None, (401, 200, 200, 403, 403, 403, 403, 403, 403, 200)),
    ("GET", "/prompts/{prompt}/", False, None, (401, 200, 404, 403, 403, 403, 403, 403, 403, 404)),
    # Care links, shares and the access log: the patient's; a link's therapist may end it.
    ("GET", "/care-links/", False, None, (401, 200, 200, 403, 403, 403, 403, 403, 403, 200)),
    ("GET", "/care-links/{link}/", False, None, (401, 200, 404, 403, 403, 403, 403, 403, 403, 404)),
    ("PATCH", "/care-links/{link}/", False, {"safety_alerts_enabled": False}, (401, 200, 404, 403, 403, 403, 403, 403, 403, 404)),
    ("DELETE", "/care-links/{link}/", False, None, (401, 204, 404, 204, 404, 404, 404, 404, 403, 404)),
    ("GET", "/shares/", False, None, (401, 200, 200, 403, 403, 403, 403, 403, 403, 200)),
    ("GET", "/shares/{share}/", False, None, (401, 200, 404, 403, 403, 403, 403, 403, 403, 404)),
    ("DELETE", "/shares/{share}/", False, None, (401, 204, 404, 403, 403, 403, 403, 403, 403, 404)),
    ("GET", "/me/access-events/", False, None, (401, 200, 200, 403, 403, 403, 403, 403, 403, 200)),
    # The therapist API: verified therapists only, each to what is theirs to read now.
    # (An unlinked therapist's list of patients is empty: nobody's data is read.)
    ("GET", "/therapist/patients/", True, None, (401, 403, 403, 200, 200, 200, 200, (200, 0), 403, 403)),
    ("GET", "/therapist/patients/{patient}/shares/", True, None, (401, 403, 403, 200, 200, 200, 404, 404, 403, 403)),
    ("GET", "/therapist/patients/{patient}/share-history/", True, None, (401, 403, 403, 200, 200, 200, 404, 404, 403, 403)),
    ("GET", "/therapist/shares/{share}/", True, None, (401, 403, 403, 200, 404, 404, 404, 404, 403, 403)),
    ("GET", "/therapist/shares/{revoked_share}/", True, None, (401, 403, 403, 404, 404, 404, 404, 404, 403, 403)),
    ("GET", "/therapist/shares/{expired_share}/", True, None, (401, 403, 403, 404, 404, 404, 404, 404, 403, 403)),
    ("GET", "/therapist/shares/{other_share}/", True, None, (401, 403, 403, 404, 404, 404, 200, 404, 403, 403)),
    ("GET", "/therapist/shares/{share}/measures/", True, None, (401, 403, 403, 200, 404, 404, 404, 404, 403, 403)),
    ("GET", "/therapist/shares/{revoked_share}/measures/", True, None, (401, 403, 403, 404, 404, 404, 404, 404, 403, 403)),
    ("GET", "/therapist/shares/{expired_share}/measures/", True, None, (401, 403, 403, 404, 404, 404, 404, 404, 403, 403)),
    ("GET", "/therapist/shares/{other_share}/measures/", True, None, (401, 403, 403, 404, 404, 404, 200, 404, 403, 403)),
    ("GET", "/therapist/invitations/", False, None, (401, 403, 403, 200, 200, 200, 200, 200, 403, 403)),
    ("POST", "/therapist/invitations/", False, None, (401, 403, 403, 201, 201, 201, 201, 201, 403, 403)),
    # No write method anywhere else under /therapist/, whoever asks.
    *[(method, path, False, {"x": 1}, ALL_405) for path in THERAPIST_READ_PATHS for method in WRITES],
    *[(method, "/therapist/invitations/", False, None, ALL_405) for method in ("PUT", "PATCH", "DELETE")],
]  # fmt: skip


@dataclass
class World:
    ids: dict[str, str]
    clients: dict[str, APIClient]
    versions: dict[str, int]


@pytest.fixture
def world(db) -> World:
    now = timezone.now()
    patient = make_patient(email="anna@example.org")
    other_patient = make_patient(email="ben@example.org")
    therapists = {
        name: make_therapist(email=f"{name}@example.org")
        for name in ACTORS
        if name.startswith("therapist") and name != "therapist_without_totp"
    }
    staff = make_patient(email="staff@example.org", is_staff=True, is_superuser=True)

    session = make_session(patient, now - dt.timedelta(days=1), keep_prompts=False)
    upcoming = make_session(patient, now + dt.timedelta(days=2), kind="integration")
    entry = make_entry(patient, kind="reflection", session_id=session.id)
    prompt = make_prompt(patient, session, due_at=now - dt.timedelta(hours=1))

    link = make_link(patient, therapists["therapist"])
    # Every share includes the measures: a refusal below is for the share's state.
    share = make_share(link, entries=[entry], dosing_session=session, include_measures=True)
    revoked = make_share(
        make_link(patient, therapists["therapist_revoked"]),
        entries=[entry],
        include_measures=True,
    )
    shares.share_revoke(patient=patient, share_id=revoked.id)
    expired = expire(
        make_share(
            make_link(patient, therapists["therapist_expired"]),
            entries=[entry],
            include_measures=True,
        )
    )
    other_share = make_share(
        make_link(other_patient, therapists["therapist_other_patient"]),
        entries=[make_entry(other_patient)],
        include_measures=True,
    )

    clients = {name: signed_in(user) for name, user in therapists.items()}
    clients.update(
        anonymous=APIClient(),
        patient=signed_in(patient),
        other_patient=signed_in(other_patient),
        therapist_without_totp=signed_in(therapists["therapist"], second_factor=False),
        staff=signed_in(staff),
    )
    ids = {
        "patient": patient.id,
        "session": session.id,
        "upcoming": upcoming.id,
        "entry": entry.id,
        "prompt": prompt.id,
        "link": link.id,
        "share": share.id,
        "revoked_share": revoked.id,
        "expired_share": expired.id,
        "other_share": other_share.id,
    }
    return World(
        ids={name: str(value) for name, value in ids.items()},
        clients=clients,
        versions={"upcoming": upcoming.version, "entry": entry.version},
    )


def _if_match(path: str, world: World) -> dict[str, str]:
    for name in ("upcoming", "entry"):
        if "{" + name + "}" in path:
            return {"HTTP_IF_MATCH": f'"{world.versions[name]}"'}
    return {}


def _row_id(row: tuple[str, str, bool, Any, Any]) -> str:
    return f"{row[0]} {row[1]}"


def _is_success(status: int) -> bool:
    return 200 <= status < 300


@pytest.mark.parametrize(
    ("method", "path", "audited", "body", "expected"), TABLE, ids=[_row_id(row) for row in TABLE]
)
def test_access_matrix(world, method, path, audited, body, expected):
    url = "/api/v1" + path.format(**world.ids)
    mismatches = []
    unexpected_successes = []
    for actor, cell in zip(ACTORS, expected, strict=True):
        status, events = cell if isinstance(cell, tuple) else (cell, None)
        if events is None:
            is_therapist = actor.startswith("therapist")
            events = 1 if audited and is_therapist and _is_success(status) else 0
        before = AccessEvent.objects.count()
        with transaction.atomic():
            response = getattr(world.clients[actor], method.lower())(
                url, body, format="json", **_if_match(path, world)
            )
            written = AccessEvent.objects.count() - before
            transaction.set_rollback(True)  # the next actor meets the same world
        if response.status_code != status or written != events:
            mismatches.append((actor, response.status_code, status, written, events))
        if _is_success(response.status_code) and not _is_success(status):
            unexpected_successes.append(actor)
        if response.status_code >= 400:
            assert response["Content-Type"] == "application/problem+json", (actor, url)

    assert unexpected_successes == []
    assert mismatches == [], "(actor, got, expected, events written, events expected)"


def test_the_table_covers_every_therapist_route_and_method():
    covered = {(method, path) for method, path, *_ in TABLE}
    for path in THERAPIST_READ_PATHS:
        assert {(method, path) for method in ("GET", *WRITES)} <= covered
