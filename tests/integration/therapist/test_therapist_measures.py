"""Measures in shares: a patient shares their PHQ-9 and GAD-7 (`include_measures`, off by
default), and the therapist reads the series at GET /api/v1/therapist/shares/{id}/measures/
(the same numbers as the dashboard's charts), each read logged."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.api import api_datetime
from integration.care import links, shares
from integration.models import AccessEvent, Share
from integration.therapist import measures
from journal.measures import services
from journal.models import SessionStatus
from tests.integration.care_data import expire, make_entry, make_link, make_share, signed_in
from tests.integration.factories import make_patient, make_session, make_therapist

pytestmark = pytest.mark.django_db

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)


def url(share) -> str:
    return f"/api/v1/therapist/shares/{share.pk}/measures/"


def measure(patient, instrument: str, total: int, taken_at: dt.datetime):
    """A measure with this total: answers filled from the first item, item 9 left at 0."""
    items = 9 if instrument == "phq9" else 7
    answers = [0] * items
    left = total
    for index in range(items - (1 if instrument == "phq9" else 0)):
        answers[index] = min(3, left)
        left -= answers[index]
    assert left == 0
    return services.measure_create(
        patient=patient, instrument=instrument, answers=answers, taken_at=taken_at
    ).record


@pytest.fixture
def patient(db):
    return make_patient(email="anna@example.org", display_name="Anna Weber")


@pytest.fixture
def therapist(db):
    return make_therapist(email="dr.berg@example.org")


@pytest.fixture
def course(patient):
    """Two dosing sessions that took place, and a baseline before them and scores after:
    PHQ-9 18 -> 12 -> 8 -> 4, GAD-7 12 -> 7."""
    now = timezone.now()
    first = now - 10 * D
    sessions = [
        make_session(
            patient,
            start,
            keep_prompts=False,
            actual_start=start,
            status=SessionStatus.COMPLETED,
        )
        for start in (first, first + 7 * D)
    ]
    make_session(patient, now + 3 * D, keep_prompts=False)  # upcoming: not on the chart
    make_session(patient, first - D, keep_prompts=False, status=SessionStatus.CANCELLED)
    phq9 = [
        measure(patient, "phq9", 18, first - 3 * D),
        measure(patient, "phq9", 12, first + 2 * D),
        measure(patient, "phq9", 8, first + 8 * D),
        measure(patient, "phq9", 4, now - H),
    ]
    gad7 = [measure(patient, "gad7", 12, first - 3 * D), measure(patient, "gad7", 7, now - H)]
    return sessions, phq9, gad7


def test_the_therapist_reads_each_instruments_series_against_its_baseline(
    patient, therapist, link, course
):
    sessions, _, _ = course
    share = make_share(link, include_measures=True)

    response = signed_in(therapist).get(url(share))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["patient"] == {"id": str(patient.id), "display_name": "Anna Weber"}
    assert body["dosing_sessions"] == [api_datetime(s.actual_start) for s in sessions]
    by_instrument = {series["instrument"]: series for series in body["series"]}
    assert list(by_instrument) == ["phq9", "gad7"]
    depression = by_instrument["phq9"]
    assert (depression["name"], depression["max_total"], depression["remission_below"]) == (
        "PHQ-9",
        27,
        5,
    )
    assert [b["band"] for b in depression["bands"]] == [
        "minimal",
        "mild",
        "moderate",
        "moderately_severe",
        "severe",
    ]
    assert depression["bands"][1] == {"band": "mild", "name": "Mild", "minimum": 5, "maximum": 9}
    assert depression["baseline"]["total"] == 18
    assert depression["response_at_most"] == 9.0
    points = depression["points"]
    assert [p["total"] for p in points] == [18, 12, 8, 4]
    assert [p["is_baseline"] for p in points] == [True, False, False, False]
    assert [p["change_from_baseline"] for p in points] == [0, -6, -10, -14]
    assert [p["is_response"] for p in points] == [None, False, True, True]
    assert [p["is_remission"] for p in points] == [None, False, False, True]
    assert points[2]["percent_change"] == -55.6
    anxiety = by_instrument["gad7"]
    assert ([p["total"] for p in anxiety["points"]], anxiety["response_at_most"]) == ([12, 7], 6.0)


def test_the_therapist_never_sees_item_answers(therapist, link, course):
    share = make_share(link, include_measures=True)

    text = signed_in(therapist).get(url(share)).content.decode()

    assert '"answers"' not in text
    assert '"difficulty"' not in text


def test_each_read_is_one_access_event_naming_what_was_read(patient, therapist, link, course):
    sessions, phq9, gad7 = course
    share = make_share(link, include_measures=True)

    signed_in(therapist).get(url(share))

    event = AccessEvent.objects.get()
    assert (event.action, event.actor_id, event.patient_id, event.share_id, event.via) == (
        "share.measures",
        therapist.pk,
        patient.pk,
        share.pk,
        "api",
    )
    assert event.object_type == "measure"
    assert event.object_ids == sorted(str(row.id) for row in [*phq9, *gad7, *sessions])


def test_a_share_without_measures_answers_404_like_any_refusal(patient, therapist, link, course):
    entry = make_entry(patient)
    without = make_share(link, entries=[entry])
    revoked = make_share(link, include_measures=True)
    shares.share_revoke(patient=patient, share_id=revoked.pk)
    expired = expire(make_share(link, include_measures=True))
    others = make_share(make_link(patient, make_therapist()), include_measures=True)
    client = signed_in(therapist)

    responses = [client.get(url(share)) for share in (without, revoked, expired, others)]

    assert [r.status_code for r in responses] == [404] * 4
    assert len({r.json()["detail"] for r in responses}) == 1
    assert not AccessEvent.objects.exists()


def test_an_ended_link_ends_the_measures_too(patient, therapist, link, course):
    share = make_share(link, include_measures=True)
    links.care_link_end(user=patient, link_id=link.pk)

    assert signed_in(therapist).get(url(share)).status_code == 404


def test_later_measures_are_shared_too(patient, therapist, link):
    share = make_share(link, include_measures=True)
    client = signed_in(therapist)
    assert [s["points"] for s in client.get(url(share)).json()["series"]] == [[], []]

    measure(patient, "gad7", 9, timezone.now())

    series = client.get(url(share)).json()["series"]
    assert [len(s["points"]) for s in series] == [0, 1]
    assert series[1]["baseline"] is None  # no dosing session yet


def test_the_read_takes_a_fixed_number_of_queries(
    patient, therapist, link, course, django_assert_max_num_queries
):
    share = make_share(link, include_measures=True)
    for day in range(20):
        measure(patient, "phq9", day % 20, timezone.now() - day * H)

    with django_assert_max_num_queries(12):
        measures.share_measures_for_therapist(
            therapist=therapist, share_id=share.pk, request=None, via="api"
        )


def test_patients_and_unverified_therapists_cannot_read_it(patient, therapist, link, course):
    share = make_share(link, include_measures=True)

    assert signed_in(patient).get(url(share)).status_code == 403
    assert signed_in(therapist, second_factor=False).get(url(share)).status_code == 403
    assert signed_in(therapist).post(url(share), {}, format="json").status_code == 405
    assert not AccessEvent.objects.exists()


# The patient's side ------------------------------------------------------------------------


def test_a_patient_shares_their_measures_alone(patient, link):
    client = signed_in(patient)

    response = client.post(
        "/api/v1/shares/", {"care_link": str(link.id), "include_measures": True}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["include_measures"], body["entry_count"]) == (True, 0)
    detail = client.get(f"/api/v1/shares/{body['id']}/").json()
    assert detail["exposes"]["measures"] is True
    assert Share.objects.get(pk=body["id"]).include_measures is True


def test_measures_are_not_shared_unless_the_patient_asks(patient, link):
    entry = make_entry(patient)
    client = signed_in(patient)

    shared = client.post(
        "/api/v1/shares/", {"care_link": str(link.id), "entries": [str(entry.id)]}, format="json"
    )
    empty = client.post("/api/v1/shares/", {"care_link": str(link.id)}, format="json")

    assert shared.json()["include_measures"] is False
    assert client.get(f"/api/v1/shares/{shared.json()['id']}/").json()["exposes"]["measures"] is (
        False
    )
    assert empty.status_code == 400
    assert empty.json()["errors"]["entries"] == [
        "Choose entries, a dosing session, your measures, or several."
    ]


def test_the_therapist_sees_which_shares_include_measures(patient, therapist, link):
    entry = make_entry(patient)
    with_measures = make_share(link, entries=[entry], include_measures=True)
    client = signed_in(therapist)

    listed = client.get(f"/api/v1/therapist/patients/{patient.id}/shares/").json()["results"]
    content = client.get(f"/api/v1/therapist/shares/{with_measures.id}/").json()

    assert [item["include_measures"] for item in listed] == [True]
    assert content["include_measures"] is True
