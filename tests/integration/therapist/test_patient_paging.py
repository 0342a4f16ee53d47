"""Paging the therapist's patient list: in name order, exactly, and with links that carry no
patient's name (a URL reaches access logs, proxies, browser history and error reports)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs, unquote_plus, urlparse

import pytest

from backend.accounts.models import User
from tests.integration.care_data import make_link
from tests.integration.factories import make_patient

pytestmark = pytest.mark.django_db

URL = "/api/v1/therapist/patients/"
NAMES = ("Wilhelmina Okafor", "Bartholomew Lindqvist", "Cordelia Nakashima", "Desmond Arroyo")


def _link_patients(therapist, names) -> list[User]:
    patients = [
        make_patient(email=f"paged{number}@example.org", display_name=name)
        for number, name in enumerate(names)
    ]
    for patient in patients:
        make_link(patient, therapist)
    return patients


def _decoded_forms(link: str) -> list[str]:
    """The link, its unquoted text, and its cursor decoded every way a reader might try:
    base64 in either alphabet, padded or not, then the query string inside it."""
    forms = [link, unquote_plus(link)]
    for cursor in parse_qs(urlparse(link).query).get("cursor", []):
        forms.append(cursor)
        padded = cursor + "=" * (-len(cursor) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(padded.encode("ascii"))
            except (binascii.Error, ValueError):
                continue
            text = raw.decode("latin-1")
            forms += [text, unquote_plus(text)]
    return forms


def _walk(client, limit: int) -> tuple[list[str], list[str]]:
    """Every page forward then back: the ids in the order shown, and every link given."""
    ids: list[str] = []
    links: list[str] = []
    page = client.get(URL, {"limit": limit}).json()
    ids += [row["id"] for row in page["results"]]
    while page["next"]:
        links.append(page["next"])
        page = client.get(page["next"]).json()
        ids += [row["id"] for row in page["results"]]
    while page["previous"]:
        links.append(page["previous"])
        page = client.get(page["previous"]).json()
    return ids, links


def test_page_links_carry_no_patient_name_in_any_decodable_form(therapist_api, therapist) -> None:
    patients = _link_patients(therapist, NAMES)

    ids, links = _walk(therapist_api, limit=1)

    assert ids == [str(p.id) for p in sorted(patients, key=lambda p: p.display_name)]
    assert len(links) == 2 * (len(NAMES) - 1)
    words = {word.lower() for name in NAMES for word in name.split()}
    for link in links:
        for form in _decoded_forms(link):
            assert not {word for word in words if word in form.lower()}, link


def test_pages_are_exact_when_names_are_equal(therapist_api, therapist) -> None:
    names = ("Alex Kim", "Alex Kim", "Alex Kim", "Blair Tan", "Alex Kim", "Ana Ruiz")
    _link_patients(therapist, names)
    whole = [row["id"] for row in therapist_api.get(URL, {"limit": 200}).json()["results"]]

    for limit in (1, 2, 3, 4):
        ids, _ = _walk(therapist_api, limit=limit)
        assert ids == whole, limit
    shown = therapist_api.get(URL, {"limit": 200}).json()["results"]
    assert [row["display_name"] for row in shown] == sorted(names)


def test_a_rename_between_pages_neither_skips_nor_repeats_the_rest(
    therapist_api, therapist
) -> None:
    patients = _link_patients(therapist, NAMES)
    order = [str(p.id) for p in sorted(patients, key=lambda p: p.display_name)]

    first = therapist_api.get(URL, {"limit": 2}).json()
    # The last patient shown (the page's boundary) renames to sort first.
    User.objects.filter(id=first["results"][-1]["id"]).update(display_name="Aaron Abbott")
    rest = therapist_api.get(first["next"]).json()

    assert [row["id"] for row in first["results"]] == order[:2]
    assert [row["id"] for row in rest["results"]] == order[2:]
    assert rest["next"] is None
