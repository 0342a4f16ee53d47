"""Invitations and care links: a therapist's single-use code, the patient's preview and
confirmation, and either side ending the link."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import time_machine
from django.utils import timezone
from rest_framework.throttling import ScopedRateThrottle

from backend.accounts import services as account_services
from backend.errors import ProblemError
from integration.care import links
from integration.models import CareInvitation, CareLink
from tests.accounts.factories import PASSWORD, PatientFactory, TherapistFactory
from tests.accounts.helpers import assert_problem, without_request_id
from tests.integration.care_data import make_entry, make_link, make_share, signed_in
from tests.integration.factories import make_therapist

pytestmark = pytest.mark.django_db


def invite(therapist_api) -> str:
    response = therapist_api.post("/api/v1/therapist/invitations/")
    assert response.status_code == 201, response.content
    return response.json()["code"]


# Invitations ----------------------------------------------------------------------------


def test_invitation_is_an_8_character_code_stored_only_as_its_hash(therapist_api, therapist):
    before = timezone.now()

    body = therapist_api.post("/api/v1/therapist/invitations/").json()

    code = body["code"]
    assert len(code) == 8
    assert set(code) <= set(links.INVITATION_CODE_ALPHABET)
    assert not set(code) & set("IL1O0")
    invitation = CareInvitation.objects.get(public_id=body["id"])
    assert invitation.therapist == therapist
    assert invitation.code_hash == hashlib.sha256(code.encode()).hexdigest()
    assert code not in str(CareInvitation.objects.values().get(public_id=body["id"]))
    lifetime = invitation.expires_at - before
    assert dt.timedelta(hours=72) <= lifetime < dt.timedelta(hours=72, seconds=5)


def test_therapist_lists_open_invitations_without_codes(therapist_api, patient_api):
    used = invite(therapist_api)
    invite(therapist_api)
    patient_api.post("/api/v1/care-links/", {"code": used, "confirm": True})

    listed = therapist_api.get("/api/v1/therapist/invitations/").json()["results"]

    assert len(listed) == 1
    assert set(listed[0]) == {"id", "created_at", "expires_at"}


def test_a_patient_cannot_create_invitations(patient_api):
    response = patient_api.post("/api/v1/therapist/invitations/")

    assert_problem(response, 403, "permission_denied")
    assert not CareInvitation.objects.exists()


# Preview and redeem ---------------------------------------------------------------------


def test_preview_shows_the_therapists_name_and_changes_nothing(
    therapist_api, patient_api, therapist
):
    code = invite(therapist_api)

    response = patient_api.post("/api/v1/care-links/preview/", {"code": code})

    assert response.status_code == 200
    assert response.json()["therapist_display_name"] == therapist.display_name
    assert set(response.json()) == {"therapist_display_name", "expires_at"}
    assert not CareLink.objects.exists()
    assert CareInvitation.objects.get().redeemed_at is None


def test_redeem_links_patient_and_therapist_and_uses_the_code(
    therapist_api, patient_api, patient, therapist
):
    code = invite(therapist_api)

    response = patient_api.post(
        "/api/v1/care-links/",
        {"code": code.lower()[:4] + "-" + code[4:], "confirm": True, "safety_alerts_enabled": True},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    link = CareLink.objects.get(pk=body["id"])
    assert (link.patient, link.therapist) == (patient, therapist)
    assert link.safety_alerts_enabled is True
    assert body["therapist"] == {"id": str(therapist.id), "display_name": therapist.display_name}
    assert body["is_active"] is True
    assert body["ended_at"] is None
    invitation = CareInvitation.objects.get()
    assert invitation.redeemed_by == patient
    assert invitation.redeemed_at is not None


def test_safety_alerts_are_off_unless_the_patient_says_so(therapist_api, patient_api):
    response = patient_api.post(
        "/api/v1/care-links/", {"code": invite(therapist_api), "confirm": True}
    )

    assert response.json()["safety_alerts_enabled"] is False


def test_redeem_requires_confirmation(therapist_api, patient_api):
    code = invite(therapist_api)

    response = patient_api.post("/api/v1/care-links/", {"code": code, "confirm": False})

    assert "confirm" in assert_problem(response, 400, "validation")["errors"]
    assert not CareLink.objects.exists()


def test_wrong_used_and_expired_codes_get_one_answer(therapist_api, patient_api, other_patient):
    used = invite(therapist_api)
    links.care_link_create(patient=other_patient, code=used)
    expired = invite(therapist_api)
    CareInvitation.objects.filter(redeemed_at__isnull=True).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    bodies = []
    for code in ("ZZZZZZZZ", used, expired):
        for response in (
            patient_api.post("/api/v1/care-links/preview/", {"code": code}),
            patient_api.post("/api/v1/care-links/", {"code": code, "confirm": True}),
        ):
            problem = assert_problem(response, 400, "invalid_invitation_code")
            bodies.append(without_request_id(problem))

    assert all(body == bodies[0] for body in bodies)
    assert CareLink.objects.count() == 1  # only the other patient's


def test_code_expires_after_72_hours(therapist_api, patient_api):
    code = invite(therapist_api)

    with time_machine.travel(timezone.now() + dt.timedelta(hours=72, seconds=1)):
        response = patient_api.post("/api/v1/care-links/", {"code": code, "confirm": True})

    assert_problem(response, 400, "invalid_invitation_code")


def test_already_linked_answers_409_and_leaves_the_code_usable(
    therapist_api, patient_api, patient, therapist
):
    make_link(patient, therapist)
    code = invite(therapist_api)

    preview = patient_api.post("/api/v1/care-links/preview/", {"code": code})
    response = patient_api.post("/api/v1/care-links/", {"code": code, "confirm": True})

    assert_problem(preview, 409, "already_linked")
    assert_problem(response, 409, "already_linked")
    assert CareLink.objects.count() == 1
    assert (
        CareInvitation.objects.get(code_hash=links.invitation_code_hash(code)).redeemed_at is None
    )


def test_relinking_after_an_ended_link_makes_a_new_link(
    therapist_api, patient_api, patient, therapist
):
    old = make_link(patient, therapist)
    links.care_link_end(user=patient, link_id=old.id)

    response = patient_api.post(
        "/api/v1/care-links/", {"code": invite(therapist_api), "confirm": True}
    )

    assert response.status_code == 201
    assert response.json()["id"] != str(old.id)


def test_code_guessing_is_throttled(patient_api, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"otp": "3/min"})
    for _ in range(3):
        patient_api.post("/api/v1/care-links/preview/", {"code": "ZZZZZZZZ"})

    response = patient_api.post("/api/v1/care-links/", {"code": "ZZZZZZZZ", "confirm": True})

    assert_problem(response, 429, "throttled")
    assert patient_api.get("/api/v1/care-links/").status_code == 200  # reading is not


def test_therapists_cannot_redeem_codes(therapist_api, therapist):
    other = signed_in(make_therapist(email="dr.other@example.org"))
    code = invite(therapist_api)

    response = other.post("/api/v1/care-links/", {"code": code, "confirm": True})

    assert_problem(response, 403, "permission_denied")
    assert not CareLink.objects.exists()


# Listing and ending ---------------------------------------------------------------------


def test_patient_lists_their_links_ended_ones_too(patient_api, patient, other_patient, therapist):
    ended = make_link(patient, therapist)
    links.care_link_end(user=patient, link_id=ended.id)
    live = make_link(patient, therapist)
    make_link(other_patient, therapist)

    listed = patient_api.get("/api/v1/care-links/").json()["results"]

    assert [item["id"] for item in listed] == [str(live.id), str(ended.id)]
    assert listed[1]["is_active"] is False
    assert listed[1]["ended_by"] == "patient"


def test_patient_ends_a_link_and_its_shares_are_unreadable_on_the_next_request(
    patient_api, therapist_api, patient, therapist
):
    link = make_link(patient, therapist)
    share = make_share(link, entries=[make_entry(patient)])
    url = f"/api/v1/therapist/shares/{share.id}/"
    assert therapist_api.get(url).status_code == 200

    response = patient_api.delete(f"/api/v1/care-links/{link.id}/")

    assert response.status_code == 204
    link.refresh_from_db()
    assert link.ended_at is not None
    assert link.ended_by == "patient"
    assert_problem(therapist_api.get(url), 404, "not_found")
    assert_problem(
        therapist_api.get(f"/api/v1/therapist/patients/{patient.id}/shares/"), 404, "not_found"
    )
    assert therapist_api.get("/api/v1/therapist/patients/").json()["results"] == []


def test_therapist_ends_a_link(therapist_api, patient, therapist):
    link = make_link(patient, therapist)

    response = therapist_api.delete(f"/api/v1/care-links/{link.id}/")

    assert response.status_code == 204
    link.refresh_from_db()
    assert link.ended_by == "therapist"


def test_ending_an_ended_link_changes_nothing(patient_api, patient, therapist):
    link = make_link(patient, therapist)
    links.care_link_end(user=patient, link_id=link.id)
    link.refresh_from_db()

    response = patient_api.delete(f"/api/v1/care-links/{link.id}/")

    assert response.status_code == 204
    assert CareLink.objects.get(pk=link.pk).ended_at == link.ended_at


def test_nobody_else_can_end_a_link(patient, other_patient, therapist):
    link = make_link(patient, therapist)
    strangers = [
        signed_in(other_patient),
        signed_in(make_therapist(email="dr.other@example.org")),
    ]

    for client in strangers:
        assert_problem(client.delete(f"/api/v1/care-links/{link.id}/"), 404, "not_found")

    unverified = signed_in(therapist, second_factor=False)
    assert_problem(
        unverified.delete(f"/api/v1/care-links/{link.id}/"), 403, "second_factor_required"
    )
    assert CareLink.objects.get(pk=link.pk).ended_at is None


def test_a_head_request_is_refused_as_its_get_is(therapist_api, patient_api, patient, therapist):
    """HEAD runs the GET view: it must meet the GET's permission (the patient's), not the
    one for ending a link, which lets the link's therapist through."""
    link = make_link(patient, therapist)

    assert therapist_api.get(f"/api/v1/care-links/{link.id}/").status_code == 403
    assert therapist_api.head(f"/api/v1/care-links/{link.id}/").status_code == 403
    assert patient_api.head(f"/api/v1/care-links/{link.id}/").status_code == 200


# Erasure --------------------------------------------------------------------------------


def test_an_erased_patients_links_end_by_the_system(therapist_api, therapist) -> None:
    patient = PatientFactory.create()
    link = make_link(patient, therapist)
    share = make_share(link, entries=[make_entry(patient)])

    account_services.user_erase(user=patient, password=PASSWORD)

    link.refresh_from_db()
    assert (link.ended_by, link.ended_at is not None) == ("system", True)
    # The therapist no longer lists an account that is no more, nor reads under it.
    assert therapist_api.get("/api/v1/therapist/patients/").json()["results"] == []
    assert_problem(therapist_api.get(f"/api/v1/therapist/shares/{share.id}/"), 404, "not_found")


def test_an_erased_therapists_links_end_and_their_codes_stop_working(patient_api, patient) -> None:
    therapist = TherapistFactory.create()
    link = make_link(patient, therapist)
    unused_code = links.invitation_create(therapist=therapist).code

    account_services.user_erase(user=therapist, password=PASSWORD)

    (shown,) = patient_api.get("/api/v1/care-links/").json()["results"]
    assert (shown["id"], shown["is_active"], shown["ended_by"]) == (str(link.id), False, "system")
    assert_problem(patient_api.get(f"/api/v1/care-links/{link.id}/"), 410, "care_link_ended")
    # A code handed out before the erasure links to nobody.
    with pytest.raises(ProblemError):
        links.invitation_preview(patient=patient, code=unused_code)
