"""Consent to safety alerts, changed on the care link at any time.

Reproduces the defect of issue 16: `PATCH /api/v1/care-links/{id}/` answered 405, so the
only way to withdraw consent was to end the link, and every share with it. Now each
decision is recorded with its time and consent text version; the patient sees the history,
the therapist the current state; the very next measure follows it.
"""

from __future__ import annotations

import pytest

from integration.care import alerts
from integration.models import CareLink, SafetyAlert, SafetyAlertConsent, SafetyAlertStatus
from tests.accounts.factories import TOTPDeviceFactory
from tests.integration.care_data import client_of, make_link, make_share
from tests.integration.dashboard.conftest import signed_in_client
from tests.integration.factories import make_patient, make_therapist

pytestmark = pytest.mark.django_db

HOOK = "integration.care.alerts.safety_alerts_create"
MEASURES = "/api/v1/measures/"
ENDORSING = [3, 3, 3, 3, 3, 3, 2, 2, 1]


@pytest.fixture(autouse=True)
def _hook(settings):
    settings.JOURNAL_SAFETY_HOOKS = [HOOK]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SAFETY_ALERT_CONSENT_VERSION = "2026-12"


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # The alert's task would go to a broker after commit; these tests deliver by hand.
    monkeypatch.setattr(alerts, "_enqueue", lambda alert_ids: None)


@pytest.fixture
def patient(db):
    return make_patient(email="anna@example.org", display_name="Anna Weber", country="DE")


@pytest.fixture
def therapist(db):
    return make_therapist(email="dr.berg@example.org", display_name="Dr Berg")


@pytest.fixture
def link(patient, therapist) -> CareLink:
    return make_link(patient, therapist, safety_alerts_enabled=True)


def consent(client, link, enabled: bool, **fields):
    return client.patch(
        f"/api/v1/care-links/{link.pk}/",
        {"safety_alerts_enabled": enabled, **fields},
        format="json",
    )


def endorse(client) -> None:
    response = client.post(MEASURES, {"instrument": "phq9", "answers": ENDORSING}, format="json")
    assert response.status_code == 201


def test_withdrawing_consent_on_the_link_stops_the_next_alert_and_keeps_the_link() -> None:
    patient = make_patient(email="anna@example.org")
    therapist = make_therapist(email="dr.berg@example.org")
    link = make_link(patient, therapist, safety_alerts_enabled=True)
    share = make_share(link, include_measures=True)
    client = client_of(patient)

    withdrawn = client.patch(
        f"/api/v1/care-links/{link.pk}/", {"safety_alerts_enabled": False}, format="json"
    )
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.json()["safety_alerts_enabled"] is False
    assert withdrawn.json()["is_active"] is True

    client.post(MEASURES, {"instrument": "phq9", "answers": ENDORSING}, format="json")
    assert not SafetyAlert.objects.exists()
    # The link and its shares live on: only the consent changed.
    assert client.get(f"/api/v1/shares/{share.pk}/").json()["state"] == "active"


def test_withdraw_then_grant_alerts_exactly_once_for_the_next_answer(
    patient, therapist, link, mailoutbox
) -> None:
    client = client_of(patient)
    endorse(client)
    assert SafetyAlert.objects.count() == 1

    assert consent(client, link, False).status_code == 200
    endorse(client)
    assert SafetyAlert.objects.count() == 1  # no alert while consent is withdrawn

    assert consent(client, link, True, consent_version="2026-12").status_code == 200
    endorse(client)

    newest = SafetyAlert.objects.latest("created_at")
    assert SafetyAlert.objects.count() == 2
    assert newest.consent_id == CareLink.objects.get(pk=link.pk).safety_alerts_consent_id
    mailoutbox.clear()
    assert alerts.safety_alerts_deliver_due(now=newest.created_at) == 1
    assert alerts.safety_alerts_deliver_due(now=newest.created_at) == 0
    assert [message.to for message in mailoutbox] == [[therapist.email]]


def test_an_alert_made_before_a_withdrawal_is_neither_sent_nor_shown_after_consent_returns(
    patient, therapist, link, mailoutbox
) -> None:
    client = client_of(patient)
    endorse(client)
    earlier = SafetyAlert.objects.get()
    consent(client, link, False)
    consent(client, link, True)

    assert alerts.safety_alert_deliver(alert_id=earlier.pk) == alerts.Outcome.CANCELLED
    assert SafetyAlert.objects.get(pk=earlier.pk).status == SafetyAlertStatus.CANCELLED
    assert mailoutbox == []
    dashboard = signed_in_client(therapist, TOTPDeviceFactory.create(user=therapist))
    assert "Safety alert:" not in dashboard.get("/dashboard/").content.decode()


def test_the_patient_sees_the_history_with_times_and_consent_versions(
    patient, link, settings
) -> None:
    client = client_of(patient)
    consent(client, link, False)
    settings.SAFETY_ALERT_CONSENT_VERSION = "2027-01"
    consent(client, link, True, consent_version="2027-01")

    detail = client.get(f"/api/v1/care-links/{link.pk}/").json()

    history = detail["safety_alerts_history"]
    assert [(item["safety_alerts_enabled"], item["consent_version"]) for item in history] == [
        (True, "2026-12"),
        (False, "2026-12"),
        (True, "2027-01"),
    ]
    recorded = [item["recorded_at"] for item in history]
    assert recorded == sorted(recorded)
    assert detail["safety_alerts_consent"] == history[-1]
    assert detail["current_consent_version"] == "2027-01"
    listed = client.get("/api/v1/care-links/").json()["results"][0]
    assert listed["safety_alerts_consent"] == history[-1]
    assert "safety_alerts_history" not in listed


def test_repeating_the_decision_in_force_records_nothing(patient, link) -> None:
    client = client_of(patient)

    response = consent(client, link, True, consent_version="2026-12")

    assert response.status_code == 200
    assert SafetyAlertConsent.objects.filter(care_link=link).count() == 1


def test_consent_under_an_outdated_text_is_refused_and_withdrawal_never_is(patient, link) -> None:
    client = client_of(patient)
    consent(client, link, False)

    refused = consent(client, link, True, consent_version="2025-01")

    assert refused.status_code == 409
    assert refused.json()["code"] == "consent_version_outdated"
    assert refused.json()["current_consent_version"] == "2026-12"
    assert CareLink.objects.get(pk=link.pk).safety_alerts_enabled is False
    # Withdrawing with whatever text the app last showed still works.
    consent(client, link, True)
    assert consent(client, link, False, consent_version="2025-01").status_code == 200
    assert CareLink.objects.get(pk=link.pk).safety_alerts_enabled is False


def test_linking_with_consent_under_an_outdated_text_links_nothing(patient, therapist) -> None:
    from integration.care import links

    code = links.invitation_create(therapist=therapist).code
    response = client_of(patient).post(
        "/api/v1/care-links/",
        {"code": code, "confirm": True, "safety_alerts_enabled": True, "consent_version": "0"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "consent_version_outdated"
    assert not CareLink.objects.exists()


def test_another_patient_cannot_read_or_change_the_consent(patient, link) -> None:
    stranger = client_of(make_patient(email="ben@example.org"))

    assert stranger.get(f"/api/v1/care-links/{link.pk}/").status_code == 404
    assert consent(stranger, link, False).status_code == 404
    assert CareLink.objects.get(pk=link.pk).safety_alerts_enabled is True
    assert SafetyAlertConsent.objects.filter(care_link=link).count() == 1


def test_an_ended_link_keeps_its_last_decision(patient, link) -> None:
    client = client_of(patient)
    client.delete(f"/api/v1/care-links/{link.pk}/")

    response = consent(client, link, False)

    assert response.status_code == 410
    assert response.json()["code"] == "care_link_ended"
    assert SafetyAlertConsent.objects.filter(care_link=link).count() == 1


def test_an_ended_link_is_gone_from_its_address_but_its_decisions_stay_readable(
    patient, link
) -> None:
    """Found by the Schemathesis stateful run: after DELETE, GET of the link answered 200.
    As for a revoked share, 410; the problem carries the decisions, the list the link."""
    client = client_of(patient)
    assert client.delete(f"/api/v1/care-links/{link.pk}/").status_code == 204

    response = client.get(f"/api/v1/care-links/{link.pk}/")

    assert response.status_code == 410
    body = response.json()
    assert body["code"] == "care_link_ended"
    assert body["ended_at"] is not None
    assert [item["safety_alerts_enabled"] for item in body["safety_alerts_history"]] == [True]
    listed = {
        item["id"]: item["is_active"]
        for item in client.get("/api/v1/care-links/").json()["results"]
    }
    assert listed[str(link.pk)] is False


def test_unknown_fields_answer_400(patient, link) -> None:
    response = consent(client_of(patient), link, False, share_everything=True)

    assert response.status_code == 400
    assert response.json()["code"] == "validation"
    assert CareLink.objects.get(pk=link.pk).safety_alerts_enabled is True


def test_the_therapist_sees_the_current_state_not_the_history(patient, therapist, link) -> None:
    dashboard = signed_in_client(therapist, TOTPDeviceFactory.create(user=therapist))
    consent(client_of(patient), link, False)

    html = dashboard.get("/dashboard/").content.decode()

    assert "Consent to safety alerts" in html
    assert "Not given" in html
    assert html.count('class="safety-consent"') == 1


def test_a_link_not_theirs_or_ended_answers_404_or_410_whatever_the_consent_version(
    patient, link
) -> None:
    """The link is looked up before the consent text is checked: a stranger's request is
    404 and one on an ended link 410, not 409 `consent_version_outdated` (showing the
    current text would lead nowhere)."""
    stranger = client_of(make_patient(email="ben@example.org"))
    client = client_of(patient)

    assert consent(stranger, link, True, consent_version="2025-01").status_code == 404
    client.delete(f"/api/v1/care-links/{link.pk}/")
    ended = consent(client, link, True, consent_version="2025-01")

    assert ended.status_code == 410
    assert ended.json()["code"] == "care_link_ended"
    assert SafetyAlertConsent.objects.filter(care_link=link).count() == 1
