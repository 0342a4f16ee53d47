"""The stock twin that `make load` measures our entries endpoints against does the same job:
a signed-in patient, their own rows only, the text sealed as the journal seals it."""

from __future__ import annotations

import pytest

from journal.entries.selectors import open_entry
from journal.keys import sealer_for
from journal.models import Entry
from tests.accounts.factories import issue_token
from tests.accounts.helpers import authorized
from tests.integration.care_data import make_entry
from tests.integration.factories import make_patient, make_therapist

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.load.urls")]

STOCK = "/api/stock/entries/"
PAYLOAD = {"kind": "note", "title": "After", "body": "Calm, and tired.", "tags": ["calm"]}


def test_create_seals_the_text_and_the_journal_reads_it() -> None:
    patient = make_patient()
    client = authorized(issue_token(patient))

    response = client.post(STOCK, PAYLOAD, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert {body["title"], body["body"]} == {"After", "Calm, and tired."}
    entry = Entry.objects.get(pk=body["id"])
    assert entry.patient == patient
    assert "Calm" not in entry.content_sealed
    assert "After" not in entry.title_sealed
    assert open_entry(entry, sealer=sealer_for(patient)).tags == ["calm"]
    # The journal's own endpoint opens a row the twin wrote.
    ours = client.get(f"/api/v1/entries/{entry.pk}/")
    assert ours.status_code == 200
    assert ours.json()["body"] == "Calm, and tired."


def test_list_and_retrieve_show_only_the_patients_own_entries() -> None:
    patient, other = make_patient(), make_patient()
    mine = [make_entry(patient, title=f"mine {index}") for index in range(3)]
    theirs = make_entry(other, title="theirs")
    client = authorized(issue_token(patient))

    page = client.get(f"{STOCK}?limit=2")
    assert page.status_code == 200
    assert page.json()["count"] == 3
    assert len(page.json()["results"]) == 2
    everything = client.get(STOCK).json()["results"]
    assert {row["id"] for row in everything} == {str(entry.pk) for entry in mine}
    assert {row["title"] for row in everything} == {"mine 0", "mine 1", "mine 2"}

    assert client.get(f"{STOCK}{mine[0].pk}/").json()["title"] == "mine 0"
    assert client.get(f"{STOCK}{theirs.pk}/").status_code == 404


def test_links_only_to_the_patients_own_intentions() -> None:
    patient, other = make_patient(), make_patient()
    theirs = make_entry(other, kind="intention")
    client = authorized(issue_token(patient))

    refused = client.post(
        STOCK, {**PAYLOAD, "kind": "reflection", "intention_ids": [str(theirs.pk)]}, format="json"
    )

    assert refused.status_code == 400
    assert not Entry.objects.filter(patient=patient).exists()


@pytest.mark.parametrize("who", ["anonymous", "therapist"])
def test_only_patients_reach_it(who: str) -> None:
    make_entry(make_patient())
    if who == "anonymous":
        client = authorized("not-a-token")
        expected = 401
    else:
        client = authorized(issue_token(make_therapist(), second_factor=True))
        expected = 403
    assert client.get(STOCK).status_code == expected
    assert client.post(STOCK, PAYLOAD, format="json").status_code == expected


def test_only_create_list_and_retrieve() -> None:
    patient = make_patient()
    entry = make_entry(patient)
    client = authorized(issue_token(patient))
    assert client.patch(f"{STOCK}{entry.pk}/", {"title": "x"}, format="json").status_code == 405
    assert client.delete(f"{STOCK}{entry.pk}/").status_code == 405
