"""Hostile input on every endpoint that takes a body, query parameters or ids.

The operations come from the OpenAPI schema the service publishes, so a new endpoint is
covered as soon as it is documented: every body gets an oversized body, deeply nested JSON,
wrong content types and invalid UTF-8; every text field NUL and lone surrogates; every
number huge and negative values; every time far past and future years; every time zone
unknown names; every cursor malformed values; every id another patient's records (or
another therapist's patients). Each must answer a clear 4xx problem document and change
nothing in the database. Text that looks like SQL or a template is stored and returned
verbatim. If-Match and version handling answer 412/428 as designed.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from backend.accounts.models import DeviceToken, Role, User
from integration.calendar_feed import services as calendar_services
from integration.delivery import devices
from integration.models import (
    CareLink,
    Course,
    CourseSession,
    CourseTemplate,
    Prompt,
    Share,
)
from journal.models import Entry, Measure, TreatmentSession
from tests.fuzz.seed import FuzzUsers, issue_token

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}

SCHEMA: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
COMPONENTS: dict[str, Any] = SCHEMA["components"]["schemas"]
METHODS = {"get", "post", "put", "patch", "delete"}

# DELETE /api/v1/me/ takes a body (the password) that OpenAPI 3.0 cannot document.
UNDOCUMENTED_BODIES = [("DELETE", "/api/v1/me/")]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = COMPONENTS[node["$ref"].rsplit("/", 1)[-1]]
    return node


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in SCHEMA["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def body_properties(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    content = operation["requestBody"]["content"]["application/json"]["schema"]
    return {name: resolve(node) for name, node in resolve(content).get("properties", {}).items()}


def kind_of(node: dict[str, Any]) -> str | None:
    """string, integer, date-time or time_zone, for a property or the items of an array."""
    if node.get("type") == "array":
        node = resolve(node.get("items", {}))
    if node.get("format") == "date-time":
        return "date-time"
    return node.get("type")


BODY_OPERATIONS = [
    (method, path) for method, path, operation in operations() if "requestBody" in operation
] + UNDOCUMENTED_BODIES

BODY_FIELDS = [
    (method, path, name, kind_of(node), node)
    for method, path, operation in operations()
    if "requestBody" in operation
    for name, node in body_properties(operation).items()
]

REQUEST_EXAMPLES = {
    (method, path): [
        example["value"]
        for example in operation["requestBody"]["content"]["application/json"]
        .get("examples", {})
        .values()
    ]
    for method, path, operation in operations()
    if "requestBody" in operation
}


def base_body(method: str, path: str, field: str) -> dict[str, Any]:
    """The operation's documented example that has `field` (else its first), so that the
    hostile value is the one thing wrong with the body."""
    examples = REQUEST_EXAMPLES[(method, path)]
    assert examples, f"{method} {path} documents no request example"
    chosen = next((example for example in examples if field in example), examples[0])
    return dict(chosen)


QUERY_PARAMETERS = [
    (method, path, parameter["name"], resolve(parameter.get("schema", {})))
    for method, path, operation in operations()
    for parameter in operation.get("parameters", [])
    if parameter["in"] == "query"
]

ID_OPERATIONS = [
    (method, path)
    for method, path, operation in operations()
    if any(parameter["in"] == "path" for parameter in operation.get("parameters", []))
]


# The world ------------------------------------------------------------------------------


class World:
    """Two patients linked to one therapist (tests/fuzz/seed.py), a therapist linked to
    nobody, and signed-in clients."""

    def __init__(self, users: FuzzUsers) -> None:
        self.users = users
        self.patient = users.patient
        self.other_patient = users.other_patient
        self.therapist = users.therapist
        self.stranger = User.objects.create_user(
            f"stranger-{uuid.uuid4().hex[:8]}@example.org",
            None,
            display_name="Dr Stranger",
            role=Role.THERAPIST,
        )
        self.calendar_tokens: dict[object, str] = {}
        for owner in (self.patient, self.other_patient):
            devices.device_register(
                patient=owner, platform="android", token=f"fcm-token-{uuid.uuid4().hex}"
            )
            self._course(owner)
            self.retired_calendar_token(owner)  # made now, before any test's snapshot

    @staticmethod
    def _course(owner: User) -> None:
        """A course holding the patient's first session, written directly: a course made
        through its service plans every session's prompts, too slow to repeat per test."""
        template = CourseTemplate.objects.get(slug="iv-series")
        session = TreatmentSession.objects.filter(patient=owner).order_by("scheduled_start")[0]
        course = Course.objects.create(
            patient=owner,
            template=template,
            modality=template.modality,
            plan=template.plan,
            start_date=session.scheduled_start.date(),
            local_time=session.scheduled_start.time(),
            weekdays="TU,FR",
            created_with={},
        )
        CourseSession.objects.create(
            course=course, session=session, position=1, phase=template.phases.get()
        )

    def client(self, who: str) -> APIClient:
        user = {
            "patient": self.patient,
            "other_patient": self.other_patient,
            "therapist": self.therapist,
            "stranger": self.stranger,
        }[who]
        client = APIClient()
        token = issue_token(user, second_factor=user.role == Role.THERAPIST)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    def ids_of(self, patient: User, *, prompt_answer: str = "entry") -> dict[str, str]:
        """A live record of `patient` for each path parameter of the API (the prompt one
        that is answered with an entry, or with a measure)."""
        ids = {
            "session_id": TreatmentSession.objects.filter(patient=patient).first(),
            "entry_id": Entry.objects.filter(patient=patient).first(),
            "measure_id": Measure.objects.filter(patient=patient).first(),
            "prompt_id": Prompt.objects.filter(
                patient=patient, exercise__answer_kind=prompt_answer
            ).first(),
            "share_id": Share.objects.filter(patient=patient).first(),
            "link_id": CareLink.objects.filter(patient=patient).first(),
            "device_id": patient.push_devices.first(),
            "course_id": Course.objects.filter(patient=patient).first(),
        }
        found = {name: str(record.pk) for name, record in ids.items() if record is not None}
        found["patient_id"] = str(patient.pk)
        found["token_key"] = DeviceToken.objects.filter(user=patient).first().token_key
        found["token"] = self.retired_calendar_token(patient)
        return found

    def retired_calendar_token(self, patient: User) -> str:
        """A calendar feed secret of `patient` that worked once and was rotated away. The
        feed's secret is its only credential, whoever sends it, so "someone else's id"
        here is a URL its owner no longer gives out: it must answer 404 like any other."""
        if patient.pk not in self.calendar_tokens:
            old = calendar_services.calendar_feed_enable(patient=patient).token
            calendar_services.calendar_feed_rotate(patient=patient)
            self.calendar_tokens[patient.pk] = old
        return self.calendar_tokens[patient.pk]


@pytest.fixture
def world(fuzz_users) -> World:
    return World(fuzz_users)


# "Changes nothing": every row of the apps' tables, before and after, as one digest per
# table from a single query (a snapshot runs a thousand times in this module).

SNAPSHOT_APPS = ("accounts", "journal", "integration", "otp_totp", "axes")
# Signing in refreshes a token's expiry and marks its use; neither is a change of data.
VOLATILE_FIELDS = {"accounts.DeviceToken": {"expiry", "last_used_at"}}


def _snapshot_query() -> tuple[str, list[str]]:
    quote_name = connection.ops.quote_name
    selects, labels = [], []
    for app in SNAPSHOT_APPS:
        for model in apps.get_app_config(app).get_models():
            skipped = VOLATILE_FIELDS.get(model._meta.label, set())
            columns = ", ".join(
                quote_name(field.column)
                for field in model._meta.concrete_fields
                if field.column and field.name not in skipped
            )
            row = f"ROW({columns})::text"
            table = quote_name(model._meta.db_table)
            # Only quoted names from the models' own metadata go into the text.
            selects.append(
                f"SELECT %s, md5(coalesce(string_agg({row}, '|' ORDER BY {row}), '')) "  # noqa: S608
                f"FROM {table}"
            )
            labels.append(model._meta.label)
    return " UNION ALL ".join(selects), labels


def snapshot() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(*_snapshot_query())
        return dict(cursor.fetchall())


def assert_unchanged(before: dict[str, str]) -> None:
    after = snapshot()
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"rows changed in {changed}"


def test_the_snapshot_sees_a_change_of_any_row_but_a_tokens_use(world):
    before = snapshot()
    DeviceToken.objects.filter(user=world.patient).update(last_used_at=timezone.now())
    assert snapshot() == before
    Entry.objects.filter(patient=world.other_patient).update(version=F("version") + 1)
    assert snapshot() != before


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"] == f"urn:afterglow:problem:{body['code']}"
    return body


def path_for(world: World, path: str, patient: User, *, prompt_answer: str = "entry") -> str:
    ids = world.ids_of(patient, prompt_answer=prompt_answer)
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no id for a path parameter of {path}: add one to World.ids_of"
    return path


# Operations for therapists outside /api/v1/therapist/ (their own account's).
THERAPIST_ACCOUNT_PATHS = ("/api/v1/auth/recovery-codes/",)


def caller_for(path: str) -> str:
    is_therapists = path.startswith(("/api/v1/therapist/", *THERAPIST_ACCOUNT_PATHS))
    return "therapist" if is_therapists else "patient"


def send(
    client: APIClient, method: str, path: str, body: bytes, content_type: str, **headers: Any
) -> Any:
    # Django's test client sends bytes as they are (its stubs say str).
    return client.generic(method, path, data=body, content_type=content_type, **headers)  # type: ignore[arg-type]


# Bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS, ids=lambda value: str(value))
def test_hostile_bodies_answer_a_problem_and_change_nothing(method, path, world, subtests):
    client = world.client(caller_for(path))
    url = path_for(world, path, world.patient)
    limit = settings.MAX_REQUEST_BODY_BYTES
    nested = b"[" * 10_000 + b"]" * 10_000
    cases: list[tuple[str, bytes, str, int]] = [
        ("oversized", b'{"title": "' + b"a" * limit + b'"}', "application/json", 413),
        ("10,000 levels of arrays", nested, "application/json", 400),
        (
            "10,000 levels of objects",
            b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
            "application/json",
            400,
        ),
        (
            "100 levels inside a field",
            b'{"title": ' + b"[" * 100 + b"]" * 100 + b"}",
            "application/json",
            400,
        ),
        ("plain text", b'{"title": "x"}', "text/plain", 415),
        ("a form", b"title=x&body=y", "application/x-www-form-urlencoded", 415),
        ("multipart", b"--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b", 415),
        ("XML", b"<title>x</title>", "application/xml", 415),
        (
            "a charset that is no text",
            b'{"title": "x"}',
            "application/json; charset=bz2_codec",
            400,
        ),
        ("invalid UTF-8", b'{"title": "\xff\xfe\xc0\xaf"}', "application/json", 400),
        ("a UTF-8 BOM", b'\xef\xbb\xbf{"title": "x"}', "application/json", 400),
        ("truncated JSON", b'{"title": "x', "application/json", 400),
        ("NaN", b'{"mood": NaN}', "application/json", 400),
        ("a number with 5,000 digits", b'{"mood": ' + b"9" * 5000 + b"}", "application/json", 400),
        ("JSON that is a string", b'"just text"', "application/json", 400),
        ("JSON that is a list", b'[{"title": "x"}]', "application/json", 400),
    ]
    for name, body, content_type, status in cases:
        with subtests.test(msg=name):
            before = snapshot()
            response = send(client, method, url, body, content_type)
            assert_problem(response, status)
            assert_unchanged(before)


NUL_AND_SURROGATES = ["a\x00b", "\x00", "a\ud800b", "\udfff"]
HUGE_AND_NEGATIVE = [10**30, -(10**30), 2**63, -(2**63) - 1, -1]
FAR_TIMES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "1899-12-31T23:59:59Z",
    "1999-12-31T23:59:59Z",
    "2101-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "+275760-09-13T00:00:00Z",
]
UNKNOWN_TIME_ZONES = [
    "Mars/Olympus_Mons",
    "UTC+25",
    "europe/berlin",
    "../../../etc/passwd",
    "Local",
]


def hostile_values(name: str, kind: str | None, node: dict[str, Any]) -> list[Any]:
    if name == "time_zone":
        return UNKNOWN_TIME_ZONES + NUL_AND_SURROGATES
    if kind == "date-time":
        return FAR_TIMES
    if kind == "integer":
        items = resolve(node.get("items", {})) if node.get("type") == "array" else node
        values = list(HUGE_AND_NEGATIVE)
        if "minimum" in items:
            values.append(items["minimum"] - 1)
        if "maximum" in items:
            values.append(items["maximum"] + 1)
        return [value for value in values if not _is_allowed(items, value)]
    if kind == "string":
        return NUL_AND_SURROGATES
    return []


def _is_allowed(node: dict[str, Any], value: int) -> bool:
    return node.get("minimum", -(2**63)) <= value <= node.get("maximum", 2**63 - 1)


@pytest.mark.parametrize(("method", "path"), sorted({(m, p) for m, p, *_ in BODY_FIELDS}))
def test_hostile_field_values_answer_400_on_that_field(method, path, world, subtests):
    client = world.client(caller_for(path))
    fields = [field for field in BODY_FIELDS if field[:2] == (method, path)]
    for _, _, name, kind, node in fields:
        body = base_body(method, path, name)
        answer = "measure" if "answers" in body else "entry"
        url = path_for(world, path, world.patient, prompt_answer=answer)
        for value in hostile_values(name, kind, node):
            with subtests.test(msg=f"{name}={value!r}"):
                before = snapshot()
                body[name] = [value] if node.get("type") == "array" else value
                response = send(client, method, url, json.dumps(body).encode(), "application/json")
                problem = assert_problem(response, 400)
                fields_named = {key.split(".")[0] for key in problem.get("errors", {})}
                assert name in fields_named, problem.get("errors")
                assert_unchanged(before)


# Query parameters -----------------------------------------------------------------------


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


MALFORMED_CURSORS = [
    "garbage",
    "%%%",
    "",
    "a" * 5000,
    _cursor("p=not-a-time"),
    _cursor("p=99999-01-01"),
    _cursor("o=-1"),
    _cursor("r=yes&p=" + "9" * 400),
    _cursor("p=' OR 1=1 --"),
]
MALFORMED_SYNC_CURSORS = [
    "garbage",
    "c1.",
    "c1.!!!",
    "c1." + "A" * 33,
    "c1.LTE",
    "c1.OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk",
    # The current form, c2.<number>.<tag>: refused before its tag is read.
    "c2.",
    "c2.MTU.",
    "c2.LTE." + "A" * 22,
    "c2.OTk5OTk5OTk5OTk5OTk5OTk5OQ." + "A" * 22,  # 19 nines: past the largest number
]


# As sent in a query string: a NUL, bytes that are not UTF-8, an encoded lone surrogate.
RAW_NUL_AND_NOT_UTF8 = ["a%00b", "%00", "%FF%FE", "%ED%A0%80"]


def hostile_query_values(name: str, node: dict[str, Any]) -> list[str]:
    """Query string values, percent-encoded as they go on the wire."""
    if name == "cursor":
        values = MALFORMED_CURSORS
    elif name == "since":
        values = MALFORMED_SYNC_CURSORS
    elif node.get("format") == "date-time":
        values = [*FAR_TIMES, "yesterday", "2024-13-45T25:61:61Z"]
    elif node.get("type") == "integer":
        values = [str(10**30), "-1", "0", "1e3", "NaN"]
    elif "enum" in node:
        values = ["nonsense"]
    elif node.get("format") == "uuid":
        values = ["not-a-uuid", "0"]
    else:
        values = []
    return [quote(value, safe="") for value in values] + RAW_NUL_AND_NOT_UTF8


@pytest.mark.parametrize(("method", "path"), sorted({(m, p) for m, p, *_ in QUERY_PARAMETERS}))
def test_hostile_query_parameters_answer_400_on_that_parameter(method, path, world, subtests):
    client = world.client(caller_for(path))
    url = path_for(world, path, world.patient)
    for _, _, name, node in [
        parameter for parameter in QUERY_PARAMETERS if parameter[:2] == (method, path)
    ]:
        for value in hostile_query_values(name, node):
            with subtests.test(msg=f"{name}={value!r}"[:120]):
                before = snapshot()
                response = client.generic(method, url, QUERY_STRING=f"{name}={value}")
                problem = assert_problem(response, 400)
                named = {key.split(".")[0] for key in problem.get("errors", {})}
                assert name in named, problem.get("errors")
                assert_unchanged(before)


# Ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ID_OPERATIONS, ids=lambda value: str(value))
def test_someone_elses_ids_answer_404_and_change_nothing(method, path, world):
    """A patient with another patient's ids; a therapist with the ids of a patient who
    never linked to them. Not 403: that would say the record exists."""
    if caller_for(path) == "therapist":
        client, owner = world.client("stranger"), world.patient
    else:
        client, owner = world.client("patient"), world.other_patient
    # A body and version that would be accepted, so that only the id is wrong.
    examples = REQUEST_EXAMPLES.get((method, path), [{}])
    before = snapshot()
    response = send(
        client,
        method,
        path_for(world, path, owner),
        json.dumps(examples[0]).encode(),
        "application/json",
        HTTP_IF_MATCH='"1"',
    )
    assert_problem(response, 404)
    assert_unchanged(before)


MALFORMED_IDS = ["not-a-uuid", "0", "-1", "%00", "..%2F..%2F", "' OR '1'='1", "{{7*7}}", "a" * 2000]


@pytest.mark.parametrize(("method", "path"), ID_OPERATIONS, ids=lambda value: str(value))
def test_malformed_ids_answer_404(method, path, world, subtests):
    client = world.client(caller_for(path))
    for value in MALFORMED_IDS:
        with subtests.test(msg=value[:40]):
            url = re.sub(r"\{[a-z_]+\}", value, path)
            before = snapshot()
            response = client.generic(method, url, data=b"{}", content_type="application/json")
            assert_problem(response, 404)
            assert_unchanged(before)


# Versions: If-Match and `version` --------------------------------------------------------

VERSIONED = [
    ("/api/v1/sessions/{session_id}/", {"note": "changed"}),
    ("/api/v1/entries/{entry_id}/", {"body": "changed"}),
]
MALFORMED_IF_MATCH = [
    ("garbage", 412),
    ('W/"1"', 412),  # weak tags never match (RFC 9110, 13.1.1)
    ("1", 412),  # unquoted
    ('"1', 412),
    ('"99999999999"', 412),
    ('"-1"', 412),
    ("", 412),
]


@pytest.mark.parametrize(("path", "change"), VERSIONED)
def test_if_match_answers_412_or_428_as_designed_and_changes_nothing(path, change, world, subtests):
    client = world.client("patient")
    url = path_for(world, path, world.patient)
    with subtests.test(msg="no If-Match and no version: 428"):
        before = snapshot()
        assert_problem(
            send(client, "PATCH", url, json.dumps(change).encode(), "application/json"), 428
        )
        assert_unchanged(before)
    for header, status in MALFORMED_IF_MATCH:
        for method in ("PATCH", "DELETE"):
            with subtests.test(msg=f"{method} If-Match: {header[:20]}"):
                before = snapshot()
                body = json.dumps(change).encode() if method == "PATCH" else b""
                response = send(client, method, url, body, "application/json", HTTP_IF_MATCH=header)
                problem = assert_problem(response, status)
                assert problem["code"] == "version_conflict"
                assert response["ETag"] == '"1"'  # the current version, to retry with
                assert_unchanged(before)
    with subtests.test(msg="If-Match and `version` disagree: 412"):
        before = snapshot()
        body = json.dumps({**change, "version": 2}).encode()
        response = send(client, "PATCH", url, body, "application/json", HTTP_IF_MATCH='"1"')
        assert_problem(response, 412)
        assert_unchanged(before)


# Text that looks like code ---------------------------------------------------------------

CODE_LIKE_TEXT = [
    "'; DROP TABLE journal_entry; --",
    "Robert'); DELETE FROM accounts_user WHERE ('1'='1",
    "{{ settings.SECRET_KEY }}",
    "{% debug %}",
    "{% load static %}{% static 'x' %}",
    "${7*7} #{7*7} <%= 7*7 %>",
    "<script>alert(1)</script>",
    "\\x00 %00 \\u0000",
    "../../../../etc/passwd",
]


def test_text_that_looks_like_sql_or_a_template_is_kept_verbatim(world, subtests):
    """Stored and returned as written, to the patient and to the therapist it is shared
    with, and nothing else happens: parameters are bound, templates never rendered."""
    patient = world.client("patient")
    entries_before = Entry.objects.count()
    for text in CODE_LIKE_TEXT:
        with subtests.test(msg=text):
            created = patient.post(
                "/api/v1/entries/",
                {"kind": "note", "title": text[:200], "body": text, "tags": [text[:40]]},
                format="json",
            )
            assert created.status_code == 201, created.content
            read = patient.get(f"/api/v1/entries/{created.json()['id']}/").json()
            assert (read["title"], read["body"], read["tags"]) == (text[:200], text, [text[:40]])
            session = patient.post(
                "/api/v1/sessions/",
                {"kind": "integration", "scheduled_start": "2030-01-01T10:00:00Z", "note": text},
                format="json",
            )
            assert session.status_code == 201, session.content
            assert patient.get(f"/api/v1/sessions/{session.json()['id']}/").json()["note"] == text
            me = patient.patch("/api/v1/me/", {"display_name": text[:100]}, format="json")
            assert me.status_code == 200, me.content
            assert patient.get("/api/v1/me/").json()["display_name"] == text[:100]
            assert settings.SECRET_KEY not in (created.content + me.content).decode()
    assert Entry.objects.count() == entries_before + len(CODE_LIKE_TEXT)


def test_a_therapist_reads_shared_code_like_text_verbatim(world):
    patient = world.client("patient")
    text = "{{ settings.SECRET_KEY }} {% debug %} '; DROP TABLE journal_entry; --"
    entry = patient.post("/api/v1/entries/", {"kind": "note", "body": text}, format="json").json()
    link = CareLink.objects.get(patient=world.patient, therapist=world.therapist)
    share = patient.post(
        "/api/v1/shares/", {"care_link": str(link.id), "entries": [entry["id"]]}, format="json"
    )
    assert share.status_code == 201, share.content
    read = world.client("therapist").get(f"/api/v1/therapist/shares/{share.json()['id']}/")
    assert read.status_code == 200, read.content
    assert text in read.content.decode()
    assert settings.SECRET_KEY not in read.content.decode()


def test_problems_never_echo_hostile_text(world):
    """A 400 names the field, not what was sent (backend/errors.py)."""
    text = "'; DROP TABLE journal_entry; -- {{ settings.SECRET_KEY }}" * 20
    response = world.client("patient").post(
        "/api/v1/entries/", {"kind": "note", "title": text}, format="json"
    )
    problem = assert_problem(response, 400)
    assert "title" in problem["errors"]
    assert "DROP TABLE" not in response.content.decode()
