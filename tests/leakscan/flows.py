"""The journey: journal text with canaries through every flow of the running service.

Everything goes through HTTP as the apps would send it (the patient's phone with a device
token, the therapist's API client with a TOTP-checked token, the dashboard in a browser
session), except what only an operator does (`manage.py` commands, run by the caller).
Every exchange is kept (`Http.exchanges`): the patient's and the therapist's successful
answers are the scan's positive control, the error answers are one of the places scanned.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
from django_otp.oath import TOTP

from tests.leakscan.canaries import Registry
from tests.smtp import CODE_PATTERN

PASSWORD = "leakscan " + secrets.token_urlsafe(12)  # one run's accounts only

# Who a successful answer was for: the patient reading their own words back, the
# therapist reading a share (API or dashboard), or staff in the admin.
PATIENT, THERAPIST, ADMIN, ANONYMOUS = "patient", "therapist", "admin", "anonymous"
# A calendar app reading the patient's private feed: no account, only the secret URL.
CALENDAR = "calendar"


# The patient's upcoming view: a patient's answer, and yet one that must hold no journal text.
UPCOMING_STEP = "upcoming view"


class FlowError(RuntimeError):
    """A step of the journey did not answer as expected: the scan cannot vouch for it."""


@dataclass
class Exchange:
    step: str
    audience: str
    method: str
    path: str
    status: int
    body: bytes


@dataclass
class Http:
    base_url: str
    exchanges: list[Exchange] = field(default_factory=list)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False)

    def call(
        self,
        client: httpx.Client,
        step: str,
        method: str,
        path: str,
        *,
        audience: str,
        expect: Iterable[int] = (200,),
        **kwargs: Any,
    ) -> httpx.Response:
        response = client.request(method, path, **kwargs)
        self.exchanges.append(
            Exchange(step, audience, method, path, response.status_code, response.content)
        )
        if response.status_code not in set(expect):
            raise FlowError(
                f"{step}: {method} {path} answered {response.status_code}, expected "
                f"{sorted(set(expect))}: {response.text[:400]}"
            )
        return response


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Totp:
    """Codes of the therapist's authenticator, each for a later time step than the last
    one used: django-otp refuses a code of a step it has already accepted."""

    def __init__(self, secret_base32: str) -> None:
        import base64

        padded = secret_base32 + "=" * (-len(secret_base32) % 8)
        self.totp = TOTP(base64.b32decode(padded.upper()), step=30, digits=6)
        self.last_step = -1

    def code(self) -> str:
        while True:
            current = int(time.time()) // 30
            step = max(current, self.last_step + 1)
            if step <= current + 1:  # the device accepts one step of drift
                break
            time.sleep(0.5)
        self.last_step = step
        self.totp.time = step * 30 + 1
        return f"{self.totp.token():06d}"


@dataclass
class Journey:
    http: Http
    canaries: Registry
    run_id: str
    manage: Callable[..., str]  # runs `manage.py <args>` with the service's settings
    dispatch: Callable[[], None]  # sends the beat's dispatch task to the worker
    reseal_done: Callable[[str], bool]  # whether every row of a patient is under the active key
    tamper: Callable[[str, str], None]  # copies one entry's sealed body onto another
    # The text of the next e-mail to an address whose subject holds the given words (the
    # worker sends it through the scan's SMTP server).
    await_mail: Callable[[str, str], str]
    notes: list[str] = field(default_factory=list)

    patient_token: str = ""
    therapist_token: str = ""
    patient_id: str = ""
    ids: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.patient = self.http.client()
        self.therapist = self.http.client()
        self.anonymous = self.http.client()
        self.patient_email = f"leakscan-patient-{self.run_id}@example.org"
        self.therapist_email = f"leakscan-therapist-{self.run_id}@example.org"

    # Helpers ----------------------------------------------------------------------------

    def p(self, step: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request of the patient's app."""
        kwargs.setdefault("headers", {})
        kwargs["headers"].setdefault("Authorization", f"Token {self.patient_token}")
        return self.http.call(self.patient, step, method, path, audience=PATIENT, **kwargs)

    def t(self, step: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request of the therapist's API client."""
        kwargs.setdefault("headers", {})
        kwargs["headers"].setdefault("Authorization", f"Token {self.therapist_token}")
        return self.http.call(self.therapist, step, method, path, audience=THERAPIST, **kwargs)

    def c(self, label: str) -> str:
        return self.canaries.plain(label)

    def s(self, label: str) -> str:
        return self.canaries.sentence(label)

    def u(self, label: str) -> str:
        return self.canaries.unicode(label)

    def _prompts(self) -> list[dict[str, Any]]:
        return list(self.p("inbox", "GET", "/api/v1/prompts/?limit=100").json()["results"])

    def _wait_for_prompt(self, slug: str, *, timeout: float = 60) -> dict[str, Any]:
        """Send the dispatch task until the worker has pushed the prompt of `slug`."""
        deadline = time.monotonic() + timeout
        next_dispatch = 0.0
        while True:
            for prompt in self._prompts():
                if prompt["exercise"]["slug"] == slug and prompt["status"] in ("sent", "opened"):
                    return prompt
            if time.monotonic() > deadline:
                states = [(p["exercise"]["slug"], p["status"]) for p in self._prompts()]
                raise FlowError(f"the worker did not push the '{slug}' prompt: {states}")
            if time.monotonic() >= next_dispatch:
                self.dispatch()
                next_dispatch = time.monotonic() + 3
            time.sleep(0.3)

    # The journey ------------------------------------------------------------------------

    def run(self) -> None:
        self.accounts()
        self.care_link()
        self.timeline()
        self.sessions_and_entries()
        self.prompts_before_session()
        self.measures()
        self.after_session()
        self.reads()
        self.calendar_feed()
        self.share()
        self.course()
        self.therapist_api()
        self.key_rotation()
        self.errors()
        self.dashboard()
        self.failed_sign_ins()
        self.unreadable_row()
        self.account_recovery()

    def accounts(self) -> None:
        self.http.call(
            self.anonymous,
            "register patient",
            "POST",
            "/api/v1/auth/register/",
            audience=ANONYMOUS,
            expect=(202,),
            json={
                "email": self.patient_email,
                "password": PASSWORD,
                "display_name": "Leak Scan Patient",
                "time_zone": "UTC",
            },
        )
        registered = self.http.call(
            self.anonymous,
            "register confirm (code from the e-mail)",
            "POST",
            "/api/v1/auth/register/confirm/",
            audience=ANONYMOUS,
            expect=(201,),
            json={
                "email": self.patient_email,
                "code": self.read_code(self.patient_email, "confirm your address"),
                "password": PASSWORD,
                "device_name": "leakscan phone",
            },
        ).json()
        self.patient_token = registered["token"]
        self.patient_id = registered["user"]["id"]

        output = self.manage(
            "create_therapist", "--email", self.therapist_email, "--name", "Dr Leakscan"
        )
        match = re.search(r"enrolment code \(valid \d+ h\): (\S+)", output)
        if match is None:
            raise FlowError(f"create_therapist printed no enrolment code: {output!r}")
        code = match.group(1)
        enrolled = self.http.call(
            self.anonymous,
            "therapist enrol",
            "POST",
            "/api/v1/auth/enrol/",
            audience=ANONYMOUS,
            json={"email": self.therapist_email, "code": code, "password": PASSWORD},
        ).json()
        self.totp = Totp(enrolled["secret"])
        self.http.call(
            self.anonymous,
            "therapist enrol confirm",
            "POST",
            "/api/v1/auth/enrol/confirm/",
            audience=ANONYMOUS,
            json={"email": self.therapist_email, "code": code, "otp": self.totp.code()},
        )
        signed_in = self.http.call(
            self.anonymous,
            "therapist sign-in (API, TOTP)",
            "POST",
            "/api/v1/auth/login/",
            audience=ANONYMOUS,
            json={
                "email": self.therapist_email,
                "password": PASSWORD,
                "otp": self.totp.code(),
                "device_name": "leakscan laptop",
            },
        ).json()
        self.therapist_token = signed_in["token"]

    def care_link(self) -> None:
        code = self.t("invitation", "POST", "/api/v1/therapist/invitations/", expect=(201,)).json()[
            "code"
        ]
        self.p("care link preview", "POST", "/api/v1/care-links/preview/", json={"code": code})
        link = self.p(
            "care link",
            "POST",
            "/api/v1/care-links/",
            expect=(201,),
            json={"code": code, "confirm": True, "safety_alerts_enabled": True},
        ).json()
        self.ids["link"] = link["id"]
        # Consent changed on the link and back, and a country for the crisis lines: the
        # alerts below go out under consent given again, to the patient's own lines.
        self.p("country", "PATCH", "/api/v1/me/", json={"country": "DE"})
        for enabled in (False, True):
            self.p(
                "care link consent",
                "PATCH",
                f"/api/v1/care-links/{link['id']}/",
                json={"safety_alerts_enabled": enabled},
            )
        self.p("care link with consent history", "GET", f"/api/v1/care-links/{link['id']}/")

    def timeline(self) -> None:
        # The demonstration plan counts in minutes; no quiet hours; room for every prompt.
        self.p(
            "plan: demo-minutes",
            "PATCH",
            "/api/v1/me/plan/",
            json={
                "plan": "demo-minutes",
                "quiet_start": "00:00",
                "quiet_end": "00:00",
                "max_prompts_per_day": 10,
            },
        )
        device = self.p(
            "push device (console provider)",
            "POST",
            "/api/v1/devices/",
            expect=(201,),
            json={
                "platform": "android",
                "token": f"leakscan-fcm-token-{self.run_id}",
                "push_permission": "granted",
            },
        ).json()
        self.p(
            "push device permission",
            "PATCH",
            f"/api/v1/devices/{device['id']}/",
            json={"push_permission": "granted"},
        )

    def sessions_and_entries(self) -> None:
        now = _now()
        # A dosing session 90 s ahead: the demo plan's steps at -2 and -1 minutes are
        # already due when it is made, so the worker has prompts to push at once.
        dosing = self.p(
            "session create (dosing)",
            "POST",
            "/api/v1/sessions/",
            expect=(201,),
            json={
                "kind": "dosing",
                "modality": "esketamine_nasal",
                "setting": "clinic",
                "scheduled_start": _iso(now + dt.timedelta(seconds=90)),
                "note": self.c("session.note create"),
            },
        )
        self.ids["dosing"] = dosing.json()["id"]
        self.ids["dosing_etag"] = dosing.headers["ETag"]
        integration = self.p(
            "session create (integration)",
            "POST",
            "/api/v1/sessions/",
            expect=(201,),
            json={
                "kind": "integration",
                "scheduled_start": _iso(now + dt.timedelta(days=2)),
                "note": self.u("session.note create (unicode)"),
            },
        )
        self.ids["integration"] = integration.json()["id"]
        intention = self.p(
            "entry create (intention)",
            "POST",
            "/api/v1/entries/",
            expect=(201,),
            json={
                "kind": "intention",
                "session": self.ids["dosing"],
                "title": self.c("entry.title create"),
                "body": self.s("entry.body create (sentence)"),
                "tags": [self.c("entry.tag create"), "calm"],
                "mood": 5,
            },
        )
        self.ids["intention"] = intention.json()["id"]
        note = self.p(
            "entry create (note)",
            "POST",
            "/api/v1/entries/",
            expect=(201,),
            json={
                "kind": "note",
                "title": self.u("entry.title create (unicode)"),
                "body": self.u("entry.body create (unicode)"),
                "tags": [self.c("entry.tag create (note)")],
            },
        )
        self.ids["note"] = note.json()["id"]
        self.p(
            "entry update",
            "PATCH",
            f"/api/v1/entries/{self.ids['note']}/",
            headers={"If-Match": note.headers["ETag"]},
            json={
                "title": self.c("entry.title update"),
                "body": self.s("entry.body update (sentence)"),
                "tags": [self.c("entry.tag update"), "after"],
            },
        )
        updated = self.p(
            "session update (note)",
            "PATCH",
            f"/api/v1/sessions/{self.ids['dosing']}/",
            headers={"If-Match": self.ids["dosing_etag"]},
            json={"note": self.s("session.note update (sentence)")},
        )
        self.ids["dosing_etag"] = updated.headers["ETag"]
        # An offline create with the app's own id, and its repeat after a "lost" answer:
        # the repeat compares the stored (opened) fields with the new ones.
        offline_id = str(uuid.uuid4())
        offline: dict[str, Any] = {
            "id": offline_id,
            "kind": "checkin",
            "body": self.c("entry.body offline create"),
            "mood": 4,
        }
        self.p("entry create (offline id)", "POST", "/api/v1/entries/", expect=(201,), json=offline)
        self.p("entry create (repeat)", "POST", "/api/v1/entries/", expect=(200,), json=offline)
        self.ids["offline"] = offline_id
        # The same under an Idempotency-Key instead of an id, and its repeat: the key stands
        # for the id; neither the key nor the text is kept beside the sealed entry.
        keyed = {"kind": "note", "body": self.c("entry.body idempotency key create")}
        key = {"Idempotency-Key": self.c("secret.idempotency key (entry)")}
        for step, status in (("entry create (key)", 201), ("entry create (key, repeat)", 200)):
            self.p(step, "POST", "/api/v1/entries/", expect=(status,), json=keyed, headers=key)

    def prompts_before_session(self) -> None:
        prompt = self._wait_for_prompt("set-intention")
        self.p("prompt open", "POST", f"/api/v1/prompts/{prompt['id']}/open/")
        self.p(
            "prompt complete (intention)",
            "POST",
            f"/api/v1/prompts/{prompt['id']}/complete/",
            json={
                "title": self.c("prompt.complete title"),
                "body": self.s("prompt.complete body (sentence)"),
                "tags": [self.c("prompt.complete tag")],
                "mood": 6,
            },
        )
        by_slug = {item["exercise"]["slug"]: item for item in self._prompts()}
        if "phq9" in by_slug and by_slug["phq9"]["status"] in ("scheduled", "sent", "opened"):
            # A measure prompt with item 9 above 0: the safety response (and, where the
            # alerts are wired, the therapist's alert) runs.
            self.p(
                "prompt complete (PHQ-9, item 9 > 0)",
                "POST",
                f"/api/v1/prompts/{by_slug['phq9']['id']}/complete/",
                json={"answers": [1, 1, 1, 1, 1, 1, 1, 1, 1], "difficulty": 1},
            )
        else:
            self.notes.append("no PHQ-9 prompt was due: answered POST /measures/ only")
        open_ones = [
            by_slug[slug]
            for slug in ("readiness-checklist", "gad7")
            if slug in by_slug and by_slug[slug]["status"] in ("scheduled", "sent", "opened")
        ]
        if open_ones:
            self.p("prompt skip", "POST", f"/api/v1/prompts/{open_ones[0]['id']}/skip/")

    def measures(self) -> None:
        self.p(
            "measure PHQ-9 (item 9 > 0)",
            "POST",
            "/api/v1/measures/",
            expect=(201,),
            json={"instrument": "phq9", "answers": [2, 1, 2, 1, 1, 0, 1, 0, 2], "difficulty": 2},
        )
        self.p(
            "measure GAD-7",
            "POST",
            "/api/v1/measures/",
            expect=(201,),
            json={"instrument": "gad7", "answers": [1, 2, 1, 1, 0, 1, 0]},
        )

    def after_session(self) -> None:
        start = _now() - dt.timedelta(minutes=3)
        updated = self.p(
            "session update (completed, after-effects)",
            "PATCH",
            f"/api/v1/sessions/{self.ids['dosing']}/",
            headers={"If-Match": self.ids["dosing_etag"]},
            json={
                "scheduled_start": _iso(start),
                "actual_start": _iso(start),
                "actual_end": _iso(start + dt.timedelta(minutes=2)),
                "status": "completed",
                "after_effects": {
                    "dissociation": "moderate",
                    "nausea": "mild",
                    "dizziness": "none",
                    "headache": "none",
                    "raised_blood_pressure": "mild",
                    "anxiety": "none",
                },
                "overall_rating": 7,
                "note": self.u("session.note completed (unicode)"),
            },
        )
        self.ids["dosing_etag"] = updated.headers["ETag"]
        reflection = self.p(
            "entry create (reflection with intention_ids)",
            "POST",
            "/api/v1/entries/",
            expect=(201,),
            json={
                "kind": "reflection",
                "session": self.ids["dosing"],
                "intention_ids": [self.ids["intention"]],
                "title": self.c("reflection.title"),
                "body": self.s("reflection.body (sentence)"),
                "tags": [self.c("reflection.tag")],
                "mood": 7,
            },
        )
        self.ids["reflection"] = reflection.json()["id"]
        self.p(
            "entry create (exercise)",
            "POST",
            "/api/v1/entries/",
            expect=(201,),
            json={
                "kind": "exercise",
                "session": self.ids["dosing"],
                "title": "Body scan",
                "body": self.u("exercise.body (unicode)"),
            },
        )
        # The after-session check-in counts from the recorded start: due now.
        prompt = self._wait_for_prompt("after-session-checkin")
        self.p(
            "prompt complete (check-in)",
            "POST",
            f"/api/v1/prompts/{prompt['id']}/complete/",
            json={"body": self.u("prompt.complete check-in (unicode)"), "mood": 6},
        )

    def reads(self) -> None:
        dosing = self.ids["dosing"]
        for step, path in (
            ("session read", f"/api/v1/sessions/{dosing}/"),
            ("session list", "/api/v1/sessions/"),
            ("session journal", f"/api/v1/sessions/{dosing}/journal/"),
            ("entry read", f"/api/v1/entries/{self.ids['note']}/"),
            ("entry list", "/api/v1/entries/?limit=100"),
            ("sync", "/api/v1/sync/"),
            ("export JSON", "/api/v1/me/export/"),
            ("export Markdown", "/api/v1/me/export/?format=markdown"),
            ("export FHIR", "/api/v1/me/export/fhir/"),
            ("measure list", "/api/v1/measures/"),
            ("measure trend", "/api/v1/measures/trend/?instrument=phq9"),
            ("inbox", "/api/v1/prompts/?limit=100"),
        ):
            self.p(step, "GET", path)
        # Scanned on its own (UPCOMING_STEP): times and the clinic's reminders, no journal text.
        since, until = _iso(_now() - dt.timedelta(days=1)), _iso(_now() + dt.timedelta(days=13))
        self.p(UPCOMING_STEP, "GET", f"/api/v1/me/upcoming/?start={since}&end={until}&limit=200")

    def calendar_feed(self) -> None:
        """The private calendar feed, read as a calendar app reads it, with plain titles
        and with discreet ones: it holds the dosing session whose note and entries carry
        canaries, and must carry none of them. Its secret is a canary of its own: it may be
        in the patient's answer that made it, nowhere else (logs, Redis, the database)."""
        url = self.p("calendar feed on", "POST", "/api/v1/me/calendar/", expect=(201,)).json()[
            "url"
        ]
        path = urlsplit(url).path
        self.canaries.literal(
            "secret.calendar feed token", path.rsplit("/", 1)[-1].removesuffix(".ics")
        )
        feed_uid = f"session-{self.ids['dosing']}@".encode()
        for plain in (True, False):
            self.p(
                "calendar feed titles",
                "PATCH",
                "/api/v1/me/calendar/",
                json={"plain_titles": plain},
            )
            body = self.http.call(
                self.anonymous, "calendar feed read", "GET", path, audience=CALENDAR
            ).content
            if feed_uid not in body.replace(b"\r\n ", b""):
                raise FlowError("calendar feed read: the dosing session is not in the feed")
        self.p("calendar feed settings", "GET", "/api/v1/me/calendar/")
        self.p("access events", "GET", "/api/v1/me/access-events/")
        rotated = self.p("calendar feed rotate", "POST", "/api/v1/me/calendar/rotate/").json()
        self.canaries.literal(
            "secret.calendar feed token (rotated)",
            urlsplit(rotated["url"]).path.rsplit("/", 1)[-1].removesuffix(".ics"),
        )
        self.http.call(
            self.anonymous,
            "calendar feed read (rotated away)",
            "GET",
            path,
            audience=CALENDAR,
            expect=(404,),
        )
        self.p("calendar feed off", "DELETE", "/api/v1/me/calendar/", expect=(204,))

    def share(self) -> None:
        share = self.p(
            "share create",
            "POST",
            "/api/v1/shares/",
            expect=(201,),
            # Only keyed digests of the key and the body are stored.
            headers={"Idempotency-Key": self.c("secret.idempotency key (share)")},
            json={
                "care_link": self.ids["link"],
                "dosing_session": self.ids["dosing"],
                "integration_session": self.ids["integration"],
                "entries": [self.ids["note"]],
                "include_measures": True,
            },
        ).json()
        self.ids["share"] = share["id"]
        self.p("share list", "GET", "/api/v1/shares/")
        self.p("share read", "GET", f"/api/v1/shares/{share['id']}/")

    def course(self) -> None:
        """A course: its sessions' notes hold canaries; the course answers and the
        therapist's course view carry times and counts only."""
        start = (_now() + dt.timedelta(days=2)).date()
        code = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[start.weekday()]
        course = self.p(
            "course create",
            "POST",
            "/api/v1/courses/",
            expect=(201,),
            json={
                "id": str(uuid.uuid4()),
                "template": "kap-course",
                "plan": "demo-minutes",
                "start_date": start.isoformat(),
                "local_time": "10:00",
                "weekdays": [code],
            },
        ).json()
        dosing = next(row for row in course["sessions"] if row["kind"] == "dosing")
        self.p(
            "course session note",
            "PATCH",
            f"/api/v1/sessions/{dosing['session_id']}/",
            headers={"If-Match": "*"},
            json={"note": self.c("course session note")},
        )
        base = f"/api/v1/courses/{course['id']}"
        later = dt.datetime.fromisoformat(dosing["scheduled_start"]) + dt.timedelta(hours=1)
        self.p(
            "course move",
            "POST",
            f"{base}/sessions/{dosing['session_id']}/move/",
            json={"scheduled_start": _iso(later), "scope": "following"},
        )
        self.p(
            "course skip", "POST", f"{base}/sessions/{course['sessions'][0]['session_id']}/skip/"
        )
        self.p("course list", "GET", "/api/v1/courses/")
        self.ids["course_share"] = self.p(
            "share create (course session)",
            "POST",
            "/api/v1/shares/",
            expect=(201,),
            json={"care_link": self.ids["link"], "dosing_session": dosing["session_id"]},
        ).json()["id"]
        self.t(
            "therapist course",
            "GET",
            f"/api/v1/therapist/shares/{self.ids['course_share']}/course/",
        )
        self.p("course end", "POST", f"{base}/end/")

    def therapist_api(self) -> None:
        patient, share = self.patient_id, self.ids["share"]
        for step, path in (
            ("therapist patients", "/api/v1/therapist/patients/"),
            ("therapist shares", f"/api/v1/therapist/patients/{patient}/shares/"),
            ("therapist share history", f"/api/v1/therapist/patients/{patient}/share-history/"),
            ("therapist share content", f"/api/v1/therapist/shares/{share}/"),
            ("therapist share measures", f"/api/v1/therapist/shares/{share}/measures/"),
        ):
            self.t(step, "GET", path)
        self.p("access events", "GET", "/api/v1/me/access-events/")

    def key_rotation(self) -> None:
        """A new data key, and the worker re-sealing every row: it opens each text."""
        self.manage("rotate_patient_keys", "--patient", self.patient_id)
        deadline = time.monotonic() + 60
        while not self.reseal_done(self.patient_id):
            if time.monotonic() > deadline:
                raise FlowError("the worker did not finish re-sealing the patient's rows")
            time.sleep(0.3)
        self.p("export JSON after re-sealing", "GET", "/api/v1/me/export/")

    def errors(self) -> None:
        """Errors provoked on purpose, each carrying a canary where a client could put one."""
        entries = "/api/v1/entries/"
        bad_json_bodies: list[tuple[str, dict[str, Any], tuple[int, ...]]] = [
            ("error: invalid kind", {"kind": self.c("error.kind value")}, (400,)),
            (
                "error: mood as text",
                {
                    "kind": "note",
                    "body": self.c("error.body beside bad mood"),
                    "mood": self.c("error.mood value"),
                },
                (400,),
            ),
            (
                "error: 41-character tag",
                {"kind": "note", "tags": [self.c("error.tag too long") + "XX"]},
                (400,),
            ),
            (
                "error: unknown field named with a canary",
                {"kind": "note", self.c("error.unknown field name"): "x"},
                (400,),
            ),
            (
                "error: invalid session id",
                {"kind": "reflection", "session": self.c("error.session id"), "body": "x"},
                (400,),
            ),
            (
                "error: intention on a past session",
                {
                    "kind": "intention",
                    "session": self.ids["dosing"],
                    "body": self.s("error.body intention refused (sentence)"),
                },
                (400,),
            ),
            (
                "error: body too long",
                {"kind": "note", "body": self.c("error.body over the limit") + "x" * 25_000},
                (400,),
            ),
        ]
        for step, body, expect in bad_json_bodies:
            self.p(step, "POST", entries, json=body, expect=expect)
        self.p(
            "error: invalid session kind and start",
            "POST",
            "/api/v1/sessions/",
            expect=(400,),
            json={
                "kind": self.c("error.session kind value"),
                "scheduled_start": self.c("error.scheduled_start value"),
                "note": self.u("error.session note (unicode)"),
            },
        )
        self.p(
            "error: change without a version (428)",
            "PATCH",
            f"/api/v1/entries/{self.ids['offline']}/",
            expect=(428,),
            json={"body": self.c("error.body without version")},
        )
        self.p(
            "error: complete an unknown prompt (404)",
            "POST",
            f"/api/v1/prompts/{uuid.uuid4()}/complete/",
            expect=(404,),
            json={"body": self.s("error.prompt complete 404 (sentence)")},
        )
        self.p(
            "error: malformed JSON",
            "POST",
            entries,
            expect=(400,),
            content=('{"kind": "note", "body": "' + self.c("error.malformed JSON")).encode(),
            headers={"Content-Type": "application/json"},
        )
        self.p(
            "error: invalid UTF-8",
            "POST",
            entries,
            expect=(400,),
            content=b'{"kind": "note", "body": "\xff\xfe'
            + self.c("error.invalid UTF-8").encode()
            + b'"}',
            headers={"Content-Type": "application/json"},
        )
        self.p(
            "error: not JSON (form)",
            "POST",
            entries,
            expect=(415,),
            content=f"kind=note&body={quote(self.u('error.form body (unicode)'))}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.p(
            "error: oversized body",
            "POST",
            entries,
            expect=(413,),
            content=json.dumps(
                {"kind": "note", "body": self.c("error.oversized body") + "y" * 300_000}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        # The canary where a client might misplace it: the path, the query string, and
        # headers (not Authorization or Cookie: those are looked up in the database by
        # design). A malformed X-Request-ID must be replaced, never logged.
        path_canary = self.c("error.URL path")
        unknown = self.c("error.unknown URL")
        self.p(
            "error: canary in the path (404)",
            "GET",
            f"/api/v1/entries/{path_canary}/",
            expect=(404,),
        )
        self.p(
            "error: canary in an unknown path (404)", "GET", f"/api/v1/{unknown}/", expect=(404,)
        )
        self.p(
            "error: canary in the query string",
            "GET",
            f"{entries}?kind={quote(self.c('error.query kind'))}"
            f"&{quote(self.c('error.query name'))}={quote(self.u('error.query value (unicode)'))}",
            expect=(400,),
        )
        self.p(
            "error: canary in a sync cursor",
            "GET",
            f"/api/v1/sync/?since={quote(self.c('error.sync cursor'))}",
            expect=(400,),
        )
        headers = {
            "X-Request-ID": f"{self.c('error.X-Request-ID (malformed)')} with spaces",
            "User-Agent": f"LeakScan/1.0 ({self.c('error.User-Agent')})",
            "Referer": f"https://app.example.org/{self.c('error.Referer')}",
            "X-Journal-Draft": self.c("error.custom header"),
            "Accept-Language": f"en;q=0.9, x-{self.c('error.Accept-Language')[7:15]}",
        }
        self.p(
            "headers with canaries (valid write)",
            "POST",
            entries,
            expect=(201,),
            json={"kind": "note", "body": self.c("entry.body beside canary headers")},
            headers=dict(headers),
        )
        self.p(
            "headers with canaries (404)",
            "GET",
            f"/api/v1/entries/{uuid.uuid4()}/",
            expect=(404,),
            headers=dict(headers),
        )
        self.malformed_http()
        self.t(
            "error: therapist API write (405)",
            "POST",
            f"/api/v1/therapist/shares/{self.ids['share']}/",
            expect=(405,),
            json={"note": self.c("error.therapist write body")},
        )
        self.http.call(
            self.anonymous,
            "error: unauthenticated write (401)",
            "POST",
            entries,
            audience=ANONYMOUS,
            expect=(401,),
            json={"kind": "note", "body": self.s("error.unauthenticated body (sentence)")},
        )

    def malformed_http(self) -> None:
        """Requests gunicorn itself refuses: a client that did not encode a query (the text
        ends up in the request line) and a header line that is not a header."""
        host = urlsplit(self.http.base_url)
        requests = {
            "error: unencoded text in the request line": (
                f"GET /api/v1/entries/?q={self.s('error.request line (sentence)')} HTTP/1.1\r\n"
                f"Host: {host.netloc}\r\n\r\n"
            ),
            "error: malformed header line": (
                f"GET /healthz HTTP/1.1\r\nHost: {host.netloc}\r\n"
                f"{self.s('error.header line (sentence)')}\r\n\r\n"
            ),
        }
        for step, raw in requests.items():
            with socket.create_connection((host.hostname, host.port), timeout=10) as sock:
                sock.sendall(raw.encode())
                answer = b""
                with contextlib.suppress(OSError):
                    while chunk := sock.recv(65536):
                        answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
            self.http.exchanges.append(Exchange(step, ANONYMOUS, "RAW", "", status, body))
            if status != 400:
                raise FlowError(f"{step}: answered {status}, expected 400: {answer[:300]!r}")

    def dashboard(self) -> None:
        """The therapist's browser: sign in with TOTP, then every dashboard page linked."""
        browser = self.http.client()
        page = self.http.call(
            browser, "dashboard sign-in page", "GET", "/dashboard/sign-in/", audience=ANONYMOUS
        )
        token = _csrf_token(page.text)
        self.http.call(
            browser,
            "dashboard sign-in (TOTP)",
            "POST",
            "/dashboard/sign-in/",
            audience=ANONYMOUS,
            expect=(302,),
            data={
                "csrfmiddlewaretoken": token,
                "email": self.therapist_email,
                "password": PASSWORD,
                "code": self.totp.code(),
            },
        )
        start = [
            "/dashboard/",
            f"/dashboard/shares/{self.ids['share']}/",
            f"/dashboard/patients/{self.patient_id}/shares/",
        ]
        pages = crawl(
            self.http,
            browser,
            start,
            prefix="/dashboard/",
            audience=THERAPIST,
            limit=60,
            skip=("/dashboard/sign-out/", "/dashboard/sign-in/", "/acknowledge/"),
        )
        if len(pages) < len(start):
            raise FlowError(f"the dashboard showed only {pages}")
        self.http.call(
            browser,
            "dashboard: canary in the path (404)",
            "GET",
            f"/dashboard/shares/{self.c('error.dashboard path')}/",
            audience=THERAPIST,
            expect=(404,),
        )

    def failed_sign_ins(self) -> None:
        """A wrong password is a secret too: it must not be kept anywhere."""
        self.http.call(
            self.anonymous,
            "error: wrong password (API)",
            "POST",
            "/api/v1/auth/login/",
            audience=ANONYMOUS,
            expect=(401,),
            json={"email": self.patient_email, "password": self.c("error.wrong password (API)")},
        )
        browser = self.http.client()
        page = self.http.call(
            browser, "dashboard sign-in page", "GET", "/dashboard/sign-in/", audience=ANONYMOUS
        )
        self.http.call(
            browser,
            "error: wrong password (dashboard)",
            "POST",
            "/dashboard/sign-in/",
            audience=ANONYMOUS,
            data={
                "csrfmiddlewaretoken": _csrf_token(page.text),
                "email": self.therapist_email,
                "password": self.c("error.wrong password (dashboard)"),
                "code": "000000",
            },
        )

    def unreadable_row(self) -> None:
        """A sealed value moved to another row fails closed: a 500 and a security log line
        that must name ids only. Last, since that entry can no longer be opened."""
        self.tamper(self.ids["reflection"], self.ids["offline"])
        self.p(
            "error: sealed value unreadable (500)",
            "GET",
            f"/api/v1/entries/{self.ids['offline']}/",
            expect=(500,),
        )

    def account_recovery(self) -> None:
        """Passwords and e-mail, last (a reset ends the patient's token): a change, a
        registration with a taken address, a reset with a code from the e-mail, then the
        journal read back. Each new password is a canary: only its hash may be kept."""
        changed = self.c("secret.new password (change)")
        self.p(
            "password change",
            "POST",
            "/api/v1/auth/password/change/",
            expect=(204,),
            json={"current_password": PASSWORD, "new_password": changed},
        )
        self.await_mail(self.patient_email, "password was changed")
        self.http.call(
            self.anonymous,
            "register with a taken address",
            "POST",
            "/api/v1/auth/register/",
            audience=ANONYMOUS,
            expect=(202,),
            json={"email": self.patient_email, "password": PASSWORD, "display_name": "Again"},
        )
        self.await_mail(self.patient_email, "tried to register")
        self.http.call(
            self.anonymous,
            "password reset request",
            "POST",
            "/api/v1/auth/password/reset/",
            audience=ANONYMOUS,
            expect=(202,),
            json={"email": self.patient_email},
        )
        reset = self.c("secret.new password (reset)")
        self.http.call(
            self.anonymous,
            "password reset confirm (code from the e-mail)",
            "POST",
            "/api/v1/auth/password/reset/confirm/",
            audience=ANONYMOUS,
            expect=(204,),
            json={
                "email": self.patient_email,
                "code": self.read_code(self.patient_email, "password reset code"),
                "new_password": reset,
            },
        )
        self.p("old token after the reset", "GET", "/api/v1/me/", expect=(401,))
        signed_in = self.http.call(
            self.anonymous,
            "sign-in with the reset password",
            "POST",
            "/api/v1/auth/login/",
            audience=ANONYMOUS,
            json={"email": self.patient_email, "password": reset, "device_name": "again"},
        ).json()
        self.patient_token = signed_in["token"]
        # The journal reads back unchanged after a reset (a positive control too).
        self.p("read after the reset", "GET", f"/api/v1/entries/{self.ids['reflection']}/")

    def read_code(self, address: str, subject: str) -> str:
        text = self.await_mail(address, subject)
        match = CODE_PATTERN.search(text)
        if match is None:
            raise FlowError(f"no code in the e-mail '{subject}': {text[:400]}")
        return match.group(1) + match.group(2)


_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_HREF = re.compile(r'href="([^"#]+)"')


def _csrf_token(html: str) -> str:
    match = _CSRF_FIELD.search(html)
    if match is None:
        raise FlowError("no CSRF token on the sign-in page")
    return match.group(1)


def crawl(
    http: Http,
    client: httpx.Client,
    start: list[str],
    *,
    prefix: str,
    audience: str,
    limit: int,
    skip: tuple[str, ...] = (),
    allow_query: tuple[str, ...] = (),
) -> list[str]:
    """GET the start pages and every page they link under `prefix`, breadth first."""
    seen: list[str] = []
    queue = list(start)
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.append(path)
        response = http.call(
            client, f"crawl {prefix}", "GET", path, audience=audience, expect=(200, 302, 404)
        )
        if "html" not in response.headers.get("Content-Type", ""):
            continue
        for href in _HREF.findall(response.text):
            href = href.replace("&amp;", "&")
            target = urlsplit(urljoin(path, href))
            if not target.path.startswith(prefix) or any(s in target.path for s in skip):
                continue
            if target.query and not target.query.startswith(allow_query or ("\0",)):
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if link not in seen and link not in queue:
                queue.append(link)
    return seen
