"""The therapists' dashboard through Django's test client: sign-in with TOTP, who may use
it, session time-outs, the Content-Security-Policy, the pages, their access events,
escaping and empty states, and sign-out."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from integration.care import links, shares
from integration.dashboard import middleware
from integration.models import AccessEvent, Prompt
from journal.entries import services
from tests.accounts.factories import PatientFactory, TherapistFactory, TOTPDeviceFactory, totp_code
from tests.integration.dashboard.conftest import (
    EXERCISE_TEXT,
    INTENTION_TEXT,
    LATER_REFLECTION_TEXT,
    LOGIN_URL,
    PATIENTS_URL,
    PRIVATE_TEXT,
    REFLECTION_TEXT,
    link,
    share_course,
    sign_in,
    signed_in_client,
    without_csrf_token,
)

pytestmark = pytest.mark.django_db

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
GENERIC_FAILURE = "The email address, password or code is not correct."
WRONG_PASSWORD = "not-the-password-1"


def share_url(share_id: object) -> str:
    return f"/dashboard/shares/{share_id}/"


def history_url(patient_id: object) -> str:
    return f"/dashboard/patients/{patient_id}/shares/"


def html_of(response) -> str:
    return response.content.decode()


def assert_sign_in_page(response) -> str:
    assert response.status_code == 200, response.content
    html = html_of(response)
    assert "<h1>Sign in</h1>" in html
    return html


def assert_redirects_to_sign_in(response, next_page: str | None = None) -> None:
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(LOGIN_URL)
    if next_page is not None:
        assert parse_qs(urlsplit(location).query)["next"] == [next_page]


# Sign-in --------------------------------------------------------------------------------


class TestSignIn:
    def test_a_therapist_signs_in_with_password_and_code(self, therapist, therapist_device):
        client = Client()
        before = client.session
        before["anything"] = 1
        before.save()

        response = sign_in(client, therapist_device)

        assert response.status_code == 302
        assert response["Location"] == PATIENTS_URL
        # the session was rotated, marked verified by django-otp, and stamped for time-outs
        session = client.session
        assert session.session_key != before.session_key
        assert session[DEVICE_ID_SESSION_KEY] == therapist_device.persistent_id
        assert middleware.SIGNED_IN_AT_KEY in session
        assert client.get(PATIENTS_URL).status_code == 200

    def test_sign_in_returns_to_the_dashboard_page_asked_for(self, therapist_device, course):
        client = Client()
        asked = client.get(share_url(course.share.pk))
        assert_redirects_to_sign_in(asked, share_url(course.share.pk))

        response = sign_in(client, therapist_device, next=share_url(course.share.pk))

        assert response["Location"] == share_url(course.share.pk)

    @pytest.mark.parametrize(
        "next_page", ["https://evil.example/dashboard/", "//evil.example/", "/api/v1/me/"]
    )
    def test_sign_in_never_sends_elsewhere(self, therapist_device, next_page):
        response = sign_in(Client(), therapist_device, next=next_page)

        assert response["Location"] == PATIENTS_URL

    def test_email_is_matched_without_regard_to_case(self, therapist_device):
        response = sign_in(Client(), therapist_device, email="  DR.Berg@Example.ORG ")

        assert response.status_code == 302

    @pytest.mark.parametrize("failure", ["password", "code", "unknown email"])
    def test_every_failure_shows_the_one_generic_message(self, therapist_device, failure):
        fields = {
            "password": {"password": WRONG_PASSWORD},
            "code": {"code": totp_code(therapist_device, steps_ahead=5)},
            "unknown email": {"email": "nobody@example.org"},
        }[failure]

        client = Client()

        response = sign_in(client, therapist_device, **fields)

        html = assert_sign_in_page(response)
        assert GENERIC_FAILURE in html
        assert 'role="alert"' in html
        assert "_auth_user_id" not in client.session

    def test_neither_the_password_nor_a_refused_code_is_shown_again(self, therapist_device):
        response = sign_in(Client(), therapist_device, code="024680")

        html = html_of(response)
        assert "violet-harbour-lantern-27" not in html
        assert "024680" not in html
        assert 'value="dr.berg@example.org"' in html  # the address stays, to try again

    def test_a_malformed_code_is_a_field_error_and_authenticates_nothing(self, therapist_device):
        response = sign_in(Client(), therapist_device, code="12ab")

        html = assert_sign_in_page(response)
        assert "Enter the 6 digits, or a recovery code." in html
        assert GENERIC_FAILURE not in html
        assert not AccessAttempt.objects.exists()

    def test_an_address_too_long_once_lower_cased_is_a_field_error_not_a_500(
        self, therapist_device
    ):
        # 249 characters as typed; 489 lower-cased ("İ" becomes "i" and a combining dot),
        # longer than any stored address and than the lock-out's account column.
        grows = "a@" + ".".join(["İ" * 60] * 4) + ".com"
        assert len(grows) <= 254 < len(grows.lower())

        response = sign_in(Client(), therapist_device, email=grows)

        html = assert_sign_in_page(response)
        assert "at most 254 characters" in html
        assert GENERIC_FAILURE not in html
        assert not AccessAttempt.objects.exists()

    def test_a_patient_with_the_right_password_is_refused_and_counted(self, patient):
        response = Client().post(
            LOGIN_URL,
            {"email": patient.email, "password": "violet-harbour-lantern-27", "code": "123456"},
        )

        assert GENERIC_FAILURE in assert_sign_in_page(response)
        assert AccessAttempt.objects.get(username=patient.email).failures_since_start == 1

    def test_staff_cannot_use_the_dashboard_even_as_therapists(self):
        device = TOTPDeviceFactory.create(user=TherapistFactory.create(is_staff=True))

        response = sign_in(Client(), device)

        assert GENERIC_FAILURE in assert_sign_in_page(response)

    def test_a_therapist_without_a_confirmed_authenticator_is_refused(self):
        device = TOTPDeviceFactory.create(confirmed=False)

        response = sign_in(Client(), device)

        assert GENERIC_FAILURE in assert_sign_in_page(response)

    def test_a_code_works_once(self, therapist_device):
        code = totp_code(therapist_device)
        first = sign_in(Client(), therapist_device, code=code)

        second = sign_in(Client(), therapist_device, code=code)

        assert first.status_code == 302
        assert GENERIC_FAILURE in assert_sign_in_page(second)

    def test_lock_out_is_a_clear_message_on_the_page(self, therapist_device):
        answers = [
            sign_in(Client(), therapist_device, password=WRONG_PASSWORD)
            for _ in range(settings.AXES_FAILURE_LIMIT)
        ]
        client = Client()
        right_password = sign_in(client, therapist_device)

        for answer in answers[:-1]:
            assert GENERIC_FAILURE in assert_sign_in_page(answer)
        for locked in (answers[-1], right_password):
            assert locked.status_code == 429
            assert locked["Content-Type"].startswith("text/html")
            assert locked["Content-Security-Policy"] == CSP
            assert "Too many failed sign-ins for this account from this address" in html_of(locked)
        assert "_auth_user_id" not in client.session

    def test_wrong_codes_count_towards_the_lock_out(self, therapist_device):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            last = sign_in(Client(), therapist_device, code="000000")

        assert last.status_code == 429

    def test_the_form_needs_its_csrf_token(self, therapist_device):
        client = Client(enforce_csrf_checks=True)

        response = sign_in(client, therapist_device)

        assert response.status_code == 403
        assert "_auth_user_id" not in client.session

    def test_a_signed_in_therapist_is_sent_on_from_the_sign_in_page(self, therapist_client):
        response = therapist_client.get(LOGIN_URL)

        assert response["Location"] == PATIENTS_URL


# Who may see the pages ------------------------------------------------------------------


def page_urls(course) -> list[str]:
    return [PATIENTS_URL, share_url(course.share.pk), history_url(course.share.patient_id)]


class TestPagesNeedAVerifiedTherapist:
    def test_anonymous_visitors_are_sent_to_sign_in(self, course):
        for url in page_urls(course):
            assert_redirects_to_sign_in(Client().get(url), url)

    def test_a_session_without_the_second_factor_is_sent_to_sign_in(self, therapist, course):
        client = signed_in_client(therapist, device=None)

        for url in page_urls(course):
            assert_redirects_to_sign_in(client.get(url))
        assert not AccessEvent.objects.exists()

    def test_a_verified_session_not_opened_by_the_dashboard_is_sent_to_sign_in(
        self, therapist, therapist_device, course
    ):
        client = Client()
        client.force_login(therapist)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = therapist_device.persistent_id
        session.save()

        assert_redirects_to_sign_in(client.get(PATIENTS_URL))

    def test_a_patient_session_is_sent_to_sign_in(self, patient, course):
        client = signed_in_client(patient, device=None)

        for url in page_urls(course):
            assert_redirects_to_sign_in(client.get(url))
        assert not AccessEvent.objects.exists()

    def test_pages_are_read_only(self, therapist_client, course):
        for url in page_urls(course):
            assert therapist_client.post(url).status_code == 405
            assert therapist_client.delete(url).status_code == 405
        assert not AccessEvent.objects.exists()


# Time-outs ------------------------------------------------------------------------------


class TestTimeOuts:
    def test_the_defaults_are_15_minutes_idle_and_12_hours_in_all(self, settings):
        del settings.DASHBOARD_IDLE_TIMEOUT_SECONDS
        del settings.DASHBOARD_ABSOLUTE_TIMEOUT_SECONDS

        assert middleware.idle_timeout_seconds() == 900
        assert middleware.absolute_timeout_seconds() == 12 * 60 * 60

    def test_15_idle_minutes_sign_the_therapist_out(self, therapist_client):
        with time_machine.travel(time.time() + 15 * 60 + 1, tick=False):
            response = therapist_client.get(PATIENTS_URL)
            page = therapist_client.get(response["Location"])

        assert_redirects_to_sign_in(response, PATIENTS_URL)
        assert "signed out after inactivity" in assert_sign_in_page(page)
        assert "_auth_user_id" not in therapist_client.session
        assert middleware.SIGNED_IN_AT_KEY not in therapist_client.session

    def test_activity_keeps_the_session(self, therapist_client):
        start = time.time()
        for minutes in (10, 20, 30):
            with time_machine.travel(start + minutes * 60, tick=False):
                assert therapist_client.get(PATIENTS_URL).status_code == 200

    def test_the_absolute_limit_ends_even_an_active_session(self, settings, therapist_client):
        settings.DASHBOARD_ABSOLUTE_TIMEOUT_SECONDS = 60 * 60
        start = time.time()
        for minutes in (14, 28, 42, 56):
            with time_machine.travel(start + minutes * 60, tick=False):
                assert therapist_client.get(PATIENTS_URL).status_code == 200

        with time_machine.travel(start + 61 * 60, tick=False):
            response = therapist_client.get(PATIENTS_URL)
            page = therapist_client.get(response["Location"])

        assert_redirects_to_sign_in(response)
        assert "a session lasts at most 1 hours" in assert_sign_in_page(page)

    def test_the_idle_limit_is_a_setting(self, settings, therapist_client):
        settings.DASHBOARD_IDLE_TIMEOUT_SECONDS = 60

        with time_machine.travel(time.time() + 61, tick=False):
            response = therapist_client.get(PATIENTS_URL)

        assert_redirects_to_sign_in(response)

    def test_an_expired_dashboard_session_no_longer_works_for_the_api(self, therapist_client):
        assert therapist_client.get("/api/v1/me/").status_code == 200

        with time_machine.travel(time.time() + 15 * 60 + 1, tick=False):
            response = therapist_client.get("/api/v1/me/")

        assert response.status_code == 401
        assert "_auth_user_id" not in therapist_client.session


# Content-Security-Policy ----------------------------------------------------------------


class TestContentSecurityPolicy:
    def test_every_dashboard_response_carries_the_policy(self, therapist_client, course):
        responses = [therapist_client.get(url) for url in page_urls(course)]
        responses += [
            therapist_client.get("/dashboard/no-such-page/"),
            therapist_client.get(share_url(uuid.uuid4())),
            Client().get(LOGIN_URL),
            Client().get(PATIENTS_URL),
            Client().post(LOGIN_URL, {"email": "x@example.org"}),
            therapist_client.post("/dashboard/sign-out/"),
        ]

        for response in responses:
            assert response["Content-Security-Policy"] == CSP, response.request["PATH_INFO"]

    def test_pages_have_no_inline_script_or_style_and_nothing_from_another_host(
        self, therapist_client, course
    ):
        pages = [therapist_client.get(url) for url in page_urls(course)]
        pages += [Client().get(LOGIN_URL), therapist_client.get(share_url(uuid.uuid4()))]

        for page in pages:
            html = html_of(page)
            assert "<script" not in html
            assert "style=" not in html
            assert "<style" not in html
            assert not re.search(r'(src|href|action)="(https?:)?//', html)
            assert 'href="/static/dashboard/dashboard.css"' in html

    def test_the_api_is_left_to_its_own_headers(self, therapist_client):
        assert "Content-Security-Policy" not in therapist_client.get("/api/v1/me/")


# The pages ------------------------------------------------------------------------------


class TestPatientList:
    def test_lists_linked_patients_with_their_next_integration_session(
        self, therapist_client, course
    ):
        html = html_of(therapist_client.get(PATIENTS_URL))

        assert "Anna Weber" in html
        # shown in the therapist's time zone, machine-readable in <time datetime>
        start = timezone.localtime(course.integration.scheduled_start, ZoneInfo("Europe/Berlin"))
        assert f'<time datetime="{start:%Y-%m-%dT%H:%M:%S%z}">' in html
        assert f'href="{share_url(course.share.pk)}"' in html
        assert f'href="{history_url(course.share.patient_id)}"' in html

    def test_does_not_list_another_therapists_patients(self, therapist_client, therapist):
        other = PatientFactory.create(display_name="Ben Other")
        share_course(other, TherapistFactory.create())

        html = html_of(therapist_client.get(PATIENTS_URL))

        assert "Ben Other" not in html
        assert "No linked patients yet" in html

    def test_a_linked_patient_who_shared_nothing(self, therapist_client, therapist, patient):
        link(patient, therapist)

        html = html_of(therapist_client.get(PATIENTS_URL))

        assert "Anna Weber" in html
        assert "Nothing shared yet" in html
        assert "None scheduled" in html

    def test_writes_an_access_event_per_patient_and_read(self, therapist_client, therapist, course):
        therapist_client.get(PATIENTS_URL, REMOTE_ADDR="198.51.100.7")

        events = AccessEvent.objects.order_by("id")
        assert [event.action for event in events] == ["patients.list", "shares.list"]
        for event in events:
            assert (event.actor, event.patient_id, event.via) == (
                therapist,
                course.share.patient_id,
                "dashboard",
            )
            assert event.ip_address == "198.51.100.7"
            assert event.request_id

    def test_query_count_does_not_grow_with_the_shares(
        self, therapist_client, therapist, patient, course, django_assert_max_num_queries
    ):
        for _ in range(3):
            share_course(patient, therapist, link_to=course.link)

        # (One of them asks whether there are open safety alerts to show.)
        with django_assert_max_num_queries(17):
            assert therapist_client.get(PATIENTS_URL).status_code == 200

    def test_query_count_does_not_grow_with_the_patients(self, therapist_client, therapist, course):
        def queries_for_the_list() -> int:
            with CaptureQueriesContext(connection) as queries:
                assert therapist_client.get(PATIENTS_URL).status_code == 200
            return len(queries)

        one_patient = queries_for_the_list()
        for index in range(3):
            share_course(PatientFactory.create(email=f"more{index}@example.org"), therapist)
        html = html_of(therapist_client.get(PATIENTS_URL))
        assert html.count("Share history<span") == 4
        assert html.count("Preparation view") == 4

        assert queries_for_the_list() == one_patient
        # And each listed patient's shares were recorded as read, once per patient.
        events = AccessEvent.objects.filter(actor=therapist, action="shares.list", via="dashboard")
        assert events.values("patient_id").distinct().count() == 4


class TestPreparationView:
    def test_shows_the_session_and_everything_shared_in_time_order(self, therapist_client, course):
        html = html_of(therapist_client.get(share_url(course.share.pk)))

        assert "<h1>Preparation: Anna Weber</h1>" in html
        for text in (INTENTION_TEXT, REFLECTION_TEXT, LATER_REFLECTION_TEXT, EXERCISE_TEXT):
            assert text in html
        assert html.index(REFLECTION_TEXT) < html.index(LATER_REFLECTION_TEXT)
        assert html.index(INTENTION_TEXT) < html.index(REFLECTION_TEXT)  # left column first
        assert "Esketamine nasal spray" in html
        assert "7 of 10" in html
        assert '<th scope="row">Anxiety</th><td class="severity-severe">Severe</td>' in html
        assert html.count('<span class="badge badge-shared">Shared</span>') == 4
        assert "Edited since shared" not in html

    def test_tells_a_prompt_that_reached_only_the_inbox(self, therapist_client, course):
        prompts = Prompt.objects.filter(session=course.dosing).order_by("due_at")
        assert prompts.count() >= 2
        first, second = prompts[0], prompts[1]
        Prompt.objects.filter(pk=first.pk).update(status="sent", delivered_via="push")
        Prompt.objects.filter(pk=second.pk).update(status="sent", delivered_via="inbox")

        html = html_of(therapist_client.get(share_url(course.share.pk)))

        assert html.count("inbox only: no notification reached a device") == 1

    def test_never_shows_what_was_not_shared(self, therapist_client, course):
        html = html_of(therapist_client.get(share_url(course.share.pk)))

        assert PRIVATE_TEXT not in html
        assert "Mine alone" not in html

    def test_marks_an_entry_edited_after_it_was_shared(self, therapist_client, patient, course):
        services.entry_update(
            patient=patient,
            entry_id=course.reflections[0].pk,
            data={"body": "Rewritten after sharing."},
            expected_versions=None,
        )

        html = html_of(therapist_client.get(share_url(course.share.pk)))

        assert html.count("Edited since shared") == 1
        assert "Rewritten after sharing." in html
        assert REFLECTION_TEXT not in html

    def test_escapes_whatever_the_patient_wrote(self, therapist_client, patient, course):
        services.entry_create(
            patient=patient,
            kind="exercise",
            session_id=course.dosing.pk,
            title='<img src=x onerror="alert(1)">',
            body="<script>alert('journal')</script>\nline two",
            tags=["<b>tag</b>"],
        )

        html = html_of(therapist_client.get(share_url(course.share.pk)))

        assert "<script" not in html
        assert "<img" not in html
        assert "<b>" not in html
        assert "&lt;script&gt;alert(&#x27;journal&#x27;)&lt;/script&gt;<br>line two" in html
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html

    def test_writes_one_access_event_for_the_read(self, therapist_client, therapist, course):
        therapist_client.get(share_url(course.share.pk))

        event = AccessEvent.objects.get()
        assert (event.action, event.via, event.actor, event.share_id) == (
            "share.read",
            "dashboard",
            therapist,
            course.share.pk,
        )
        shown = {course.intention.pk, course.exercise.pk, course.dosing.pk}
        shown |= {reflection.pk for reflection in course.reflections}
        assert set(event.object_ids) == {str(object_id) for object_id in shown}

    def test_a_share_of_nothing_yet_says_so(self, therapist_client, therapist, patient):
        care_link = link(patient, therapist)
        entry = services.entry_create(patient=patient, kind="note", body="x").record
        share = shares.share_create(
            patient=patient, care_link_id=care_link.pk, entry_ids=[entry.pk]
        )
        services.entry_delete(patient=patient, entry_id=entry.pk, expected_versions=None)

        html = html_of(therapist_client.get(share_url(share.pk)))

        assert "Nothing shared yet" in html
        assert "No dosing session is part of this share." in html
        assert "No prompts for this share." in html


class TestNotFound:
    def _not_found_page(self, client, url: str) -> str:
        response = client.get(url)
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")
        return without_csrf_token(html_of(response))

    def test_every_refusal_is_the_same_page(self, therapist_client, patient, course):
        other_share = share_course(PatientFactory.create(), TherapistFactory.create()).share
        revoked = share_course(patient, course.link.therapist, link_to=course.link).share
        shares.share_revoke(patient=patient, share_id=revoked.pk)
        events_before = AccessEvent.objects.count()

        pages = {
            url: self._not_found_page(therapist_client, url)
            for url in (
                share_url(other_share.pk),
                share_url(revoked.pk),
                share_url(uuid.uuid4()),
                share_url("not-a-uuid"),
                history_url(other_share.patient_id),
                history_url("not-a-uuid"),
                "/dashboard/no-such-page/",
            )
        }

        assert len(set(pages.values())) == 1
        assert "<h1>Not found</h1>" in next(iter(pages.values()))
        assert AccessEvent.objects.count() == events_before

    def test_an_expired_share_is_not_found(self, therapist, therapist_device, course):
        with time_machine.travel(course.share.expires_at + dt.timedelta(minutes=1)):
            client = signed_in_client(therapist, therapist_device)
            response = client.get(share_url(course.share.pk))

        assert response.status_code == 404

    def test_an_ended_link_ends_every_page_of_the_patient(self, therapist_client, patient, course):
        links.care_link_end(user=patient, link_id=course.link.pk)

        assert therapist_client.get(share_url(course.share.pk)).status_code == 404
        assert therapist_client.get(history_url(patient.pk)).status_code == 404
        assert "No linked patients yet" in html_of(therapist_client.get(PATIENTS_URL))


class TestShareHistory:
    def test_lists_every_share_with_its_dates_and_state(self, therapist_client, patient, course):
        revoked = share_course(patient, course.link.therapist, link_to=course.link).share
        shares.share_revoke(patient=patient, share_id=revoked.pk)

        html = html_of(therapist_client.get(history_url(patient.pk)))

        assert "<h1>Share history of Anna Weber</h1>" in html
        assert "Active" in html
        assert "Revoked by the patient" in html
        # only the readable share links to its preparation view
        assert f'href="{share_url(course.share.pk)}"' in html
        assert f'href="{share_url(revoked.pk)}"' not in html
        assert INTENTION_TEXT not in html

    def test_a_linked_patient_who_shared_nothing(self, therapist_client, therapist, patient):
        link(patient, therapist)

        html = html_of(therapist_client.get(history_url(patient.pk)))

        assert "Nothing shared yet" in html

    def test_writes_an_access_event(self, therapist_client, therapist, patient, course):
        therapist_client.get(history_url(patient.pk))

        event = AccessEvent.objects.get()
        assert (event.action, event.via, event.patient_id) == (
            "shares.history",
            "dashboard",
            patient.pk,
        )


class TestSignOut:
    def test_signing_out_ends_the_session(self, therapist_client):
        response = therapist_client.post("/dashboard/sign-out/")

        assert response["Location"] == LOGIN_URL
        assert "You have signed out." in assert_sign_in_page(therapist_client.get(LOGIN_URL))
        assert_redirects_to_sign_in(therapist_client.get(PATIENTS_URL))
        assert "_auth_user_id" not in therapist_client.session

    def test_signing_out_is_a_post(self, therapist_client):
        assert therapist_client.get("/dashboard/sign-out/").status_code == 405
        assert therapist_client.get(PATIENTS_URL).status_code == 200

    def test_signing_out_needs_the_csrf_token(self, therapist, therapist_device):
        client = signed_in_client(therapist, therapist_device)
        client.handler.enforce_csrf_checks = True

        assert client.post("/dashboard/sign-out/").status_code == 403
        assert client.get(PATIENTS_URL).status_code == 200


# Markup ---------------------------------------------------------------------------------


class _Outline(HTMLParser):
    """The parts of a page the accessibility checks read."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.headings: list[int] = []
        self.first_link: dict[str, str | None] | None = None
        self.ids: set[str] = set()
        self.label_targets: set[str] = set()
        self.inputs: list[str] = []
        self.landmarks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "a" and self.first_link is None:
            self.first_link = attributes
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "label" and attributes.get("for"):
            self.label_targets.add(str(attributes["for"]))
        if tag == "input" and attributes.get("type") != "hidden":
            self.inputs.append(str(attributes.get("id")))
        if tag in ("header", "nav", "main", "footer"):
            self.landmarks.append(tag)


def outline(html: str) -> _Outline:
    parsed = _Outline()
    parsed.feed(html)
    return parsed


def test_pages_are_semantic_and_keyboard_ready(therapist_client, course):
    pages = [therapist_client.get(url) for url in page_urls(course)]
    pages.append(Client().get(LOGIN_URL))

    for page in pages:
        parsed = outline(html_of(page))
        assert parsed.lang == "en"
        assert parsed.headings.count(1) == 1
        assert parsed.headings[0] == 1
        for before, after in zip(parsed.headings, parsed.headings[1:], strict=False):
            assert after <= before + 1, parsed.headings  # no skipped heading level
        assert parsed.first_link is not None
        assert parsed.first_link.get("class") == "skip-link"
        assert parsed.first_link.get("href") == "#main"
        assert "main" in parsed.ids
        assert {"header", "main", "footer"} <= set(parsed.landmarks)
        assert set(parsed.inputs) <= parsed.label_targets  # every input has its label


def test_the_sign_in_form_helps_password_managers_and_screen_readers():
    html = html_of(Client().get(LOGIN_URL))

    assert 'autocomplete="username"' in html
    assert 'autocomplete="current-password"' in html
    assert 'autocomplete="one-time-code"' in html
    # No numeric keypad: the field takes a recovery code (letters) as well.
    assert 'inputmode="numeric"' not in html
    assert 'aria-describedby="id_code_helptext"' in html


def test_the_stylesheet_has_a_print_style():
    css = (settings.BASE_DIR / "integration/static/dashboard/dashboard.css").read_text()

    assert "@media print" in css
    print_rules = css[css.index("@media print") :]
    assert "nav" in print_rules
    assert "button" in print_rules
    assert "display: none" in print_rules
