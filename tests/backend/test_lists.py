"""Every list of the API has one shape, walked from the OpenAPI document itself: a list
added later is checked without being named here.

Each list operation (a GET whose operationId ends in `_list`) answers the envelope
`{"next", "previous", "results"}`, honours `limit`, pages with `next`, answers a bad cursor
or limit with a 400 naming it, answers an unknown query parameter with 400
`unknown_parameter`, and reads a page in as many queries whatever its size.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from backend.pagination import MAX_PAGE_SIZE
from backend.query import accepted_query_parameters
from integration.care import access, links
from integration.courses.models import Course, CourseStatus, CourseTemplate
from journal.models import Entry
from tests.accounts.factories import issue_token
from tests.integration.care_data import make_link, make_share, signed_in
from tests.integration.delivery_data import make_device
from tests.integration.factories import make_prompt, make_session, make_therapist
from tests.journal.factories import make_entry, make_measure
from tests.journal.factories import make_patient as make_journal_patient

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
ENVELOPE = {"next", "previous", "results"}


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return schema


SCHEMA = _schema()

LIST_OPERATIONS = sorted(
    (operation["operationId"], path)
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
    if method == "get" and operation["operationId"].endswith("_list")
)


@pytest.fixture
def world(patient, other_patient, therapist) -> dict[str, Any]:
    """At least two rows in every list, for the patient and for the therapist."""
    now = timezone.now()
    second_therapist = make_therapist(email="dr.lenz@example.org")
    link = make_link(patient, therapist)
    make_link(patient, second_therapist)
    make_link(other_patient, therapist)
    links.invitation_create(therapist=therapist)
    links.invitation_create(therapist=therapist)
    entries = [make_entry(patient), make_entry(patient)]
    make_measure(patient)
    make_measure(patient)
    past = make_session(patient, now - dt.timedelta(days=2), keep_prompts=False)
    make_session(patient, now + dt.timedelta(days=3), keep_prompts=False)
    make_prompt(patient, past, exercise_slug="body-scan", due_at=now - dt.timedelta(hours=2))
    make_prompt(patient, past, exercise_slug="set-intention", due_at=now - dt.timedelta(hours=1))
    make_share(link, entries=entries[:1])
    make_share(link, entries=entries[1:])
    make_device(patient, "token-one")
    make_device(patient, "token-two")
    issue_token(patient, name="tablet")
    for status in (CourseStatus.ENDED, CourseStatus.ACTIVE):
        make_course(patient, status=status)
    for action in (access.AccessAction.SHARES_LIST, access.AccessAction.SHARES_HISTORY):
        access.access_record(
            actor=therapist, patient=patient.pk, action=action, via="api", request=None
        )
    return {
        "patient": signed_in(patient),
        "therapist": signed_in(therapist),
        "path": {"patient_id": str(patient.pk)},
    }


def make_course(patient: Any, *, status: str) -> None:
    """A course row as a list shows it (its sessions are the course tests' subject)."""
    template = CourseTemplate.objects.get(slug="iv-series")
    Course.objects.create(
        patient=patient,
        template=template,
        modality=template.modality,
        plan=template.plan,
        start_date=timezone.localdate(),
        local_time=dt.time(9),
        weekdays="TU,FR",
        status=status,
        ended_at=timezone.now() if status == CourseStatus.ENDED else None,
        created_with={},
    )


def _client_and_url(world: dict[str, Any], path: str) -> tuple[Any, str]:
    client = world["therapist"] if path.startswith("/api/v1/therapist/") else world["patient"]
    return client, path.format(**world["path"])


def _operation(path: str) -> dict[str, Any]:
    operation: dict[str, Any] = SCHEMA["paths"][path]["get"]
    return operation


def _component(reference: str) -> dict[str, Any]:
    component: dict[str, Any] = SCHEMA["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    return component


def test_there_are_lists_to_walk() -> None:
    # The patient's and the therapist's: a schema change that hid them would pass vacuously.
    assert len(LIST_OPERATIONS) >= 15
    assert ("shares_list", "/api/v1/shares/") in LIST_OPERATIONS


@pytest.mark.parametrize(("operation_id", "path"), LIST_OPERATIONS)
def test_the_schema_types_the_page_and_documents_cursor_and_limit(operation_id, path) -> None:
    operation = _operation(path)
    query = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
    assert {"cursor", "limit"} <= set(query)
    page_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    component = _component(page_schema["$ref"])
    assert set(component["properties"]) == ENVELOPE
    assert set(component["required"]) == ENVELOPE
    assert component["properties"]["results"]["type"] == "array"
    assert page_schema["$ref"].endswith("Page")
    assert "400" in operation["responses"]


@pytest.mark.parametrize(("operation_id", "path"), LIST_OPERATIONS)
def test_every_list_answers_the_envelope_and_pages_by_limit(world, operation_id, path) -> None:
    client, url = _client_and_url(world, path)

    whole = client.get(url)
    assert whole.status_code == 200, whole.content
    assert set(whole.json()) == ENVELOPE
    assert len(whole.json()["results"]) >= 2

    first = client.get(url, {"limit": 1}).json()
    assert len(first["results"]) == 1
    assert first["previous"] is None
    assert first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert second["results"] != first["results"]
    assert second["results"][0] == whole.json()["results"][1]
    back = client.get(second["previous"]).json()
    assert back["results"] == first["results"]


def _texts(value: Any) -> list[str]:
    """The strings of a row, and the text a cursor position of a time would hold."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    if not isinstance(value, str) or len(value) < 4:
        return []
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d.*", value):
        return [value, value[:16].replace("T", " ")]
    return [value]


# The lists paged by backend.pagination; `me_upcoming_list` merges three sources and pages
# with its own cursor (integration/ahead/paging.py).
PAGINATED_LIST_OPERATIONS = [item for item in LIST_OPERATIONS if item[0] != "me_upcoming_list"]


@pytest.mark.parametrize(("operation_id", "path"), PAGINATED_LIST_OPERATIONS)
def test_a_cursor_reveals_nothing_of_the_rows(world, operation_id, path) -> None:
    """A link reaches access logs, proxies and browser history: its cursor is opaque, not
    a readable position (a patient's name, a slug, a time of the rows shown)."""
    client, url = _client_and_url(world, path)
    first = client.get(url, {"limit": 1}).json()
    second = client.get(first["next"]).json()

    for link, rows in ((first["next"], first["results"]), (second["previous"], second["results"])):
        cursors = parse_qs(urlparse(link).query).get("cursor")
        if cursors is None:
            continue  # the first page's link: no cursor at all
        cursor = cursors[0]
        assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor), cursor
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("latin-1")
        readable = {text for text in _texts(rows) if text in raw or text in cursor}
        assert not readable, (link, readable)


@pytest.mark.parametrize(("operation_id", "path"), LIST_OPERATIONS)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"cursor": "bm9wZQ"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": MAX_PAGE_SIZE + 1}, "limit"),
        ({"limit": "ten"}, "limit"),
    ],
)
def test_a_bad_cursor_or_limit_answers_400_naming_it(world, operation_id, path, query, field):
    client, url = _client_and_url(world, path)
    response = client.get(url, query)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


@pytest.mark.parametrize(("operation_id", "path"), LIST_OPERATIONS)
def test_an_unknown_parameter_answers_400_naming_the_accepted_ones(
    world, operation_id, path
) -> None:
    client, url = _client_and_url(world, path)
    response = client.get(url, {"limit": 1, "page": 2})
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "unknown_parameter"
    (message,) = body["errors"]["query"]
    assert "'cursor'" in message
    assert "'limit'" in message
    assert "page" not in message  # the name sent is not repeated


@pytest.mark.parametrize(("operation_id", "path"), LIST_OPERATIONS)
def test_a_page_costs_the_same_queries_whatever_its_size(
    world, django_assert_num_queries, operation_id, path
) -> None:
    client, url = _client_and_url(world, path)
    client.get(url, {"limit": 1})  # the token's use is written once a minute: now
    with CaptureQueriesContext(connection) as one_row:
        assert client.get(url, {"limit": 1}).status_code == 200
    with django_assert_num_queries(len(one_row.captured_queries)):
        response = client.get(url, {"limit": MAX_PAGE_SIZE})
    assert len(response.json()["results"]) >= 2


def _sample_url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def test_every_operation_takes_the_query_parameters_it_documents() -> None:
    """The unknown-parameter check and the document read the same names."""
    checked = 0
    for path, item in SCHEMA["paths"].items():
        view_class = resolve(_sample_url(path)).func.cls  # type: ignore[attr-defined]
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            accepted = accepted_query_parameters(view_class, method)
            assert accepted == documented, f"{method} {path}"
            checked += 1
    assert checked > 40


def test_no_operation_answers_a_bare_array() -> None:
    """A collection is a page: a bare array cannot be added without failing here."""
    for path, item in SCHEMA["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for code, response in operation["responses"].items():
                for media in response.get("content", {}).values():
                    schema = media.get("schema", {})
                    assert schema.get("type") != "array", f"{method} {path} {code}"


def test_every_page_operation_is_named_a_list() -> None:
    for path, item in SCHEMA["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        schema = operation["responses"]["200"].get("content", {}).get("application/json", {})
        reference = schema.get("schema", {}).get("$ref", "")
        if reference.endswith("Page") and "SyncPage" not in reference:
            assert operation["operationId"].endswith("_list"), path


def test_an_unknown_parameter_is_refused_before_a_write(patient) -> None:
    client = signed_in(patient)
    response = client.post("/api/v1/entries/?dry_run=1", {"kind": "note"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_parameter"
    assert set(response.json()["errors"]) == {"query"}
    assert not Entry.objects.filter(patient=patient).exists()


def test_an_unknown_parameter_of_a_single_record_is_refused(patient) -> None:
    response = signed_in(patient).get("/api/v1/me/", {"fields": "email"})
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "query": ["A parameter this operation does not take. Accepted: none."]
    }


def test_a_misspelt_parameter_is_answered_with_the_one_meant(patient) -> None:
    response = signed_in(patient).get("/api/v1/shares/", {"limt": "5", "cursro": "x"})
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "query": [
            "2 parameters this operation does not take. Accepted: 'cursor', 'limit'. "
            "Did you mean 'cursor' or 'limit'?"
        ]
    }


def test_the_text_of_a_parameter_name_is_not_repeated(patient) -> None:
    response = signed_in(patient).get("/api/v1/entries/?I felt far away=1")
    assert response.status_code == 400
    assert "far away" not in response.content.decode()


def test_the_documented_parameters_are_accepted(world) -> None:
    client = world["patient"]
    response = client.get("/api/v1/prompts/", {"status": "sent", "limit": 1})
    assert response.status_code == 200
    response = client.get("/api/v1/entries/", {"kind": "note", "limit": 1})
    assert response.status_code == 200


def test_journal_patients_list_nothing_of_another(world) -> None:
    stranger = signed_in(make_journal_patient(email="carl@example.org"))
    for operation_id, path in LIST_OPERATIONS:
        if path.startswith("/api/v1/therapist/") or operation_id in {
            "exercises_list",
            "plans_list",
            "measures_instruments_list",
            "course_templates_list",
        }:
            continue
        body = stranger.get(path).json()
        # A new patient has one sign-in (this one) and nothing else.
        expected = 1 if operation_id == "auth_devices_list" else 0
        assert len(body["results"]) == expected, path


def test_a_cursor_is_read_only_by_the_list_that_made_it(world) -> None:
    client = world["patient"]
    page = client.get("/api/v1/plans/", {"limit": 1}).json()
    cursor = parse_qs(urlparse(page["next"]).query)["cursor"][0]

    assert client.get("/api/v1/plans/", {"cursor": cursor, "limit": 1}).status_code == 200
    # The same cursor on another list, and a well-formed one this API never made.
    elsewhere = client.get("/api/v1/exercises/", {"cursor": cursor})
    forged = client.get("/api/v1/exercises/", {"cursor": base64.b64encode(b"p=body-scan").decode()})
    for answer in (elsewhere, forged):
        assert answer.status_code == 400
        assert "cursor" in answer.json()["errors"]
