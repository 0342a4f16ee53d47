"""Shares: what a patient lets a linked therapist read, how long, and what it exposes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.api import api_datetime
from integration.care import access, links
from integration.care import selectors as care_selectors
from integration.care import shares as care_shares
from integration.models import Share, SharedEntry
from integration.therapist import selectors
from journal.entries import services
from journal.models import Entry
from journal.sessions import services as sessions_services
from tests.accounts.helpers import assert_problem, without_request_id
from tests.integration.care_data import (
    edit_entry,
    expire,
    make_entry,
    make_link,
    make_share,
    signed_in,
)
from tests.integration.factories import make_session, make_therapist, yesterdays_dosing

pytestmark = pytest.mark.django_db


@pytest.fixture
def dosing(patient):
    return yesterdays_dosing(patient)


@pytest.fixture
def integration(patient):
    return make_session(patient, timezone.now() + dt.timedelta(days=2), kind="integration")


def post_share(client, **body):
    return client.post("/api/v1/shares/", body, format="json")


def close_to(value: str, expected: dt.datetime) -> bool:
    return abs(dt.datetime.fromisoformat(value) - expected) < dt.timedelta(seconds=5)


# Creating -------------------------------------------------------------------------------


def test_share_chosen_entries_for_seven_days_by_default(patient_api, patient, therapist, link):
    entries = [make_entry(patient), make_entry(patient, kind="reflection")]
    edit_entry(entries[0], title="changed before sharing")

    response = post_share(patient_api, care_link=str(link.id), entries=[str(e.id) for e in entries])

    assert response.status_code == 201, response.content
    body = response.json()
    share = Share.objects.get(pk=body["id"])
    assert share.therapist == therapist
    assert body["state"] == "active"
    assert body["entry_count"] == 2
    assert close_to(body["expires_at"], timezone.now() + dt.timedelta(days=7))
    versions = dict(SharedEntry.objects.values_list("entry_id", "version_at_share"))
    assert versions == {entries[0].id: 2, entries[1].id: 1}


def test_share_for_an_integration_session_lasts_until_a_week_after_it(
    patient_api, link, dosing, integration
):
    response = post_share(
        patient_api,
        care_link=str(link.id),
        dosing_session=str(dosing.id),
        integration_session=str(integration.id),
    )

    assert response.status_code == 201, response.content
    assert response.json()["expires_at"] == (
        api_datetime(integration.scheduled_start + dt.timedelta(days=7))
    )


def test_explicit_expiry_of_at_most_90_days(patient_api, link, dosing):
    late = timezone.now() + dt.timedelta(days=90, minutes=1)
    fine = timezone.now() + dt.timedelta(days=89)

    refused = post_share(
        patient_api,
        care_link=str(link.id),
        dosing_session=str(dosing.id),
        expires_at=late.isoformat(),
    )
    past = post_share(
        patient_api,
        care_link=str(link.id),
        dosing_session=str(dosing.id),
        expires_at=(timezone.now() - dt.timedelta(minutes=1)).isoformat(),
    )
    accepted = post_share(
        patient_api,
        care_link=str(link.id),
        dosing_session=str(dosing.id),
        expires_at=fine.isoformat(),
    )

    assert "expires_at" in assert_problem(refused, 400, "validation")["errors"]
    assert "expires_at" in assert_problem(past, 400, "validation")["errors"]
    assert accepted.status_code == 201
    assert Share.objects.count() == 1


def test_default_expiry_never_passes_90_days(patient_api, patient, link):
    far = make_session(patient, timezone.now() + dt.timedelta(days=88), kind="integration")

    response = post_share(
        patient_api,
        care_link=str(link.id),
        entries=[str(make_entry(patient).id)],
        integration_session=str(far.id),
    )

    assert close_to(response.json()["expires_at"], timezone.now() + dt.timedelta(days=90))


def test_a_share_names_entries_or_a_dosing_session(patient_api, link):
    response = post_share(patient_api, care_link=str(link.id), entries=[])

    assert "entries" in assert_problem(response, 400, "validation")["errors"]
    assert not Share.objects.exists()


def test_another_patients_ids_answer_like_ids_that_do_not_exist(
    patient_api, patient, other_patient, therapist, link
):
    theirs_entry = make_entry(other_patient)
    theirs_session = yesterdays_dosing(other_patient)
    theirs_link = make_link(other_patient, therapist)
    missing = "00000000-0000-4000-8000-000000000000"

    answers: dict[str, list[dict]] = {}
    for name, theirs in (
        ("entries", theirs_entry.id),
        ("dosing_session", theirs_session.id),
        ("integration_session", theirs_session.id),
        ("care_link", theirs_link.id),
    ):
        for value in (str(theirs), missing):
            body = {"care_link": str(link.id), "entries": [str(make_entry(patient).id)]}
            body[name] = [value] if name == "entries" else value
            problem = assert_problem(post_share(patient_api, **body), 400, "validation")
            assert list(problem["errors"]) == [name]
            answers.setdefault(name, []).append(without_request_id(problem))

    assert all(first == second for first, second in answers.values())
    assert not Share.objects.exists()


def test_sessions_must_be_of_the_right_kind_and_time(
    patient_api, patient, link, dosing, integration
):
    past_integration = make_session(
        patient, timezone.now() - dt.timedelta(hours=1), kind="integration"
    )
    entry = str(make_entry(patient).id)

    wrong_dosing = post_share(
        patient_api, care_link=str(link.id), dosing_session=str(integration.id)
    )
    wrong_integration = post_share(
        patient_api, care_link=str(link.id), entries=[entry], integration_session=str(dosing.id)
    )
    past = post_share(
        patient_api,
        care_link=str(link.id),
        entries=[entry],
        integration_session=str(past_integration.id),
    )

    assert "dosing_session" in assert_problem(wrong_dosing, 400, "validation")["errors"]
    assert "integration_session" in assert_problem(wrong_integration, 400, "validation")["errors"]
    assert "integration_session" in assert_problem(past, 400, "validation")["errors"]
    assert not Share.objects.exists()


def test_deleted_entries_and_ended_links_cannot_be_shared(patient_api, patient, link):
    entry = make_entry(patient)
    services.entry_delete(patient=patient, entry_id=entry.id, expected_versions=None)
    gone = post_share(patient_api, care_link=str(link.id), entries=[str(entry.id)])
    links.care_link_end(user=patient, link_id=link.id)
    ended = post_share(patient_api, care_link=str(link.id), entries=[str(make_entry(patient).id)])

    assert "entries" in assert_problem(gone, 400, "validation")["errors"]
    assert "care_link" in assert_problem(ended, 400, "validation")["errors"]
    assert not Share.objects.exists()


def test_only_patients_share(link, therapist):
    response = post_share(signed_in(therapist), care_link=str(link.id), entries=[])

    assert_problem(response, 403, "permission_denied")


# Listing and what a share exposes -------------------------------------------------------


def test_patient_lists_shares_with_their_state(
    patient_api, patient, other_patient, therapist, link
):
    entry = make_entry(patient)
    active = make_share(link, entries=[entry])
    expired = expire(make_share(link, entries=[entry]))
    revoked = make_share(link, entries=[entry])
    care_shares.share_revoke(patient=patient, share_id=revoked.id)
    make_share(make_link(other_patient, therapist), entries=[make_entry(other_patient)])

    listed = {
        item["id"]: item["state"] for item in patient_api.get("/api/v1/shares/").json()["results"]
    }

    assert listed == {
        str(active.id): "active",
        str(expired.id): "expired",
        str(revoked.id): "revoked",
    }


def test_shares_of_an_ended_link_show_as_ended(patient_api, patient, link):
    share = make_share(link, entries=[make_entry(patient)])
    links.care_link_end(user=patient, link_id=link.id)

    detail = patient_api.get(f"/api/v1/shares/{share.id}/").json()

    assert detail["state"] == "ended"


def test_a_share_shows_exactly_what_it_exposes(patient_api, patient, link, dosing):
    chosen = make_entry(patient, title="chosen")
    make_entry(patient, title="not shared")
    attached = make_entry(patient, kind="reflection", session_id=dosing.id, title="attached")
    deleted = make_entry(patient, kind="reflection", session_id=dosing.id)
    share = make_share(link, entries=[chosen], dosing_session=dosing)
    later = make_entry(patient, kind="exercise", session_id=dosing.id, title="added later")
    services.entry_delete(patient=patient, entry_id=deleted.id, expected_versions=None)

    body = patient_api.get(f"/api/v1/shares/{share.id}/").json()

    exposed = body["exposes"]
    assert [(item["id"], item["title"], item["shared_via"]) for item in exposed["entries"]] == [
        (str(chosen.id), "chosen", "entry"),
        (str(attached.id), "attached", "session"),
        (str(later.id), "added later", "session"),
    ]
    assert exposed["dosing_session_record"] is True
    assert exposed["prompt_count"] > 0
    assert body["entry_count"] == 3
    therapist_view = selectors.share_content_for_therapist(
        therapist=link.therapist, share_id=share.id, request=None, via="api"
    )
    assert [entry.id for entry in therapist_view.entries] == [chosen.id, attached.id, later.id]


def test_a_deleted_dosing_session_exposes_nothing_attached_to_it(
    patient_api, patient, link, dosing
):
    make_entry(patient, kind="reflection", session_id=dosing.id)
    share = make_share(link, dosing_session=dosing)
    sessions_services.session_delete(patient=patient, session_id=dosing.id, expected_versions=None)

    body = patient_api.get(f"/api/v1/shares/{share.id}/").json()

    assert body["exposes"] == {
        "entries": [],
        "dosing_session_record": False,
        "prompt_count": 0,
        "measures": False,
    }
    assert body["dosing_session"] is None


def test_entry_counts_of_a_list_follow_the_same_rule_as_one_share(
    patient, other_patient, link, dosing
):
    chosen = make_entry(patient)
    make_entry(patient, session_id=dosing.id)
    loose = make_entry(patient)
    shares = [
        make_share(link, entries=[chosen]),
        make_share(link, dosing_session=dosing),
        make_share(link, entries=[chosen, loose], dosing_session=dosing),
    ]
    services.entry_delete(patient=patient, entry_id=loose.id, expected_versions=None)

    counted = {
        share.id: share.exposed_entry_count  # type: ignore[attr-defined]
        for share in care_selectors.shares_for_patient(patient=patient)
    }

    expected = {
        share.id: Entry.objects.filter(access.share_entries_filter(share)).count()
        for share in shares
    }
    assert counted == expected == {shares[0].id: 1, shares[1].id: 1, shares[2].id: 2}


def test_other_patients_cannot_see_or_revoke_a_share(patient, other_patient, link):
    share = make_share(link, entries=[make_entry(patient)])
    other = signed_in(other_patient)

    assert_problem(other.get(f"/api/v1/shares/{share.id}/"), 404, "not_found")
    assert_problem(other.delete(f"/api/v1/shares/{share.id}/"), 404, "not_found")
    assert other.get("/api/v1/shares/").json()["results"] == []
    assert Share.objects.get(pk=share.pk).revoked_at is None


# Revoking -------------------------------------------------------------------------------


def test_revoking_works_on_the_therapists_very_next_request(patient_api, patient, therapist, link):
    share = make_share(link, entries=[make_entry(patient)])
    therapist_api = signed_in(therapist)
    url = f"/api/v1/therapist/shares/{share.id}/"
    assert therapist_api.get(url).status_code == 200

    response = patient_api.delete(f"/api/v1/shares/{share.id}/")

    assert response.status_code == 204
    assert_problem(therapist_api.get(url), 404, "not_found")
    assert (
        therapist_api.get(f"/api/v1/therapist/patients/{patient.id}/shares/").json()["results"]
        == []
    )
    # Gone from its address; the patient's list keeps it as a record.
    gone = assert_problem(patient_api.get(f"/api/v1/shares/{share.id}/"), 410, "share_revoked")
    assert gone["revoked_at"]
    listed = {item["id"]: item for item in patient_api.get("/api/v1/shares/").json()["results"]}
    assert listed[str(share.id)]["state"] == "revoked"


def test_revoking_again_changes_nothing(patient_api, patient, link):
    share = make_share(link, entries=[make_entry(patient)])
    care_shares.share_revoke(patient=patient, share_id=share.id)
    revoked_at = Share.objects.get(pk=share.pk).revoked_at

    assert patient_api.delete(f"/api/v1/shares/{share.id}/").status_code == 204
    assert Share.objects.get(pk=share.pk).revoked_at == revoked_at


def test_a_share_with_another_therapist_is_theirs_alone(patient, link):
    other = make_therapist(email="dr.other@example.org")
    share = make_share(make_link(patient, other), entries=[make_entry(patient)])

    assert_problem(
        signed_in(link.therapist).get(f"/api/v1/therapist/shares/{share.id}/"), 404, "not_found"
    )
    assert signed_in(other).get(f"/api/v1/therapist/shares/{share.id}/").status_code == 200
