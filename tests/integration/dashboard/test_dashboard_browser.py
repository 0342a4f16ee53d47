"""The dashboard in a real browser: Playwright driving Debian's Chromium, headless, against
pytest-django's live server (which serves the stylesheet as WhiteNoise would).

A therapist signs in with a TOTP code, opens the patient list and a preparation view,
sees the shared text and not the unshared note, moves by keyboard, prints, opens the
share history, signs out, signs in again and is timed out. The Content-Security-Policy is
enforced by the browser: any violation would show on the console, which must stay empty.
Each page is saved as a PNG in test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django_otp.oath import TOTP

from tests.integration.dashboard.conftest import (
    EXERCISE_TEXT,
    INTENTION_TEXT,
    LATER_REFLECTION_TEXT,
    PRIVATE_TEXT,
    REFLECTION_TEXT,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
PASSWORD = "violet-harbour-lantern-27"  # tests.accounts.factories.PASSWORD
TIMEOUT_MS = 15_000


class Authenticator:
    """The therapist's authenticator app: codes from the device's key, read once before
    the browser starts (the ORM is not used while Playwright's event loop runs)."""

    def __init__(self, device) -> None:
        self.key, self.step, self.t0 = device.bin_key, device.step, device.t0
        self.digits, self.drift = device.digits, device.drift

    def code(self, *, steps_ahead: int = 0) -> str:
        totp = TOTP(self.key, self.step, self.t0, self.digits, self.drift)
        totp.time = time.time() + steps_ahead * self.step
        return f"{totp.token():0{self.digits}d}"


@pytest.fixture
def authenticator(therapist_device) -> Authenticator:
    return Authenticator(therapist_device)


@pytest.fixture
def dashboard(live_server) -> str:
    return f"{live_server.url}/dashboard/"


@pytest.fixture
def browser_page() -> Iterator[tuple[object, list[str]]]:
    """A headless Chromium page and the console messages it logged (errors, warnings)."""
    if not CHROMIUM.exists():
        reason = "chromium not installed: apt-get install chromium"
        print(reason)
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    console: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
            page.set_default_timeout(TIMEOUT_MS)
            page.on(
                "console",
                lambda message: (
                    console.append(f"{message.type}: {message.text}")
                    if message.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            yield page, console
        finally:
            browser.close()


def screenshot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def focused(page) -> dict[str, str]:
    return page.evaluate(
        "() => ({tag: document.activeElement.tagName, id: document.activeElement.id,"
        " className: document.activeElement.className,"
        " text: document.activeElement.textContent.trim()})"
    )


def sign_in(page, email: str, code: str) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_therapist_prepares_for_an_integration_session_in_the_browser(
    settings, therapist, authenticator, dashboard, course, browser_page
):
    page, console = browser_page

    # Asking for the dashboard leads to the sign-in page; the keyboard reaches the skip
    # link first, and it moves focus to the main content.
    page.goto(dashboard)
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    assert "/dashboard/sign-in/" in page.url
    page.keyboard.press("Tab")
    assert focused(page)["className"] == "skip-link"
    assert page.locator(".skip-link").bounding_box()["y"] >= 0  # shown while focused
    screenshot(page, "sign-in")
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"

    # A wrong code: the one generic message, announced.
    sign_in(page, therapist.email, authenticator.code(steps_ahead=5))
    alert = page.get_by_role("alert")
    assert "The email address, password or code is not correct." in alert.inner_text()
    screenshot(page, "sign-in-failed")

    # Signing in with the current code: the patient list. (After a wrong code django-otp
    # refuses every code for a second, its brute-force throttle; a person takes longer.)
    page.wait_for_timeout(1100)
    sign_in(page, therapist.email, authenticator.code())
    page.wait_for_url(dashboard)
    assert page.get_by_role("heading", level=1).inner_text() == "My patients"
    assert page.get_by_role("heading", name="Anna Weber").is_visible()
    # The stylesheet loaded under the policy (17px body text, not the browser's 16px).
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "17px"
    page.keyboard.press("Tab")
    assert focused(page)["className"] == "skip-link"
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Afterglow"  # then the header's links, in order
    screenshot(page, "patients")

    # The preparation view, reached by keyboard: the shared text, not the private note.
    preparation = page.get_by_role("link", name=re.compile("^Preparation view"))
    preparation.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/dashboard/shares/[0-9a-f-]+/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Preparation: Anna Weber"
    for text in (INTENTION_TEXT, REFLECTION_TEXT, LATER_REFLECTION_TEXT, EXERCISE_TEXT):
        assert page.get_by_text(text).is_visible()
    assert page.get_by_text(PRIVATE_TEXT).count() == 0
    assert PRIVATE_TEXT not in page.content()
    intentions = page.locator("section.column").nth(0).bounding_box()
    reflections = page.locator("section.column").nth(1).bounding_box()
    assert reflections["x"] > intentions["x"] + intentions["width"] - 1  # side by side
    assert abs(reflections["y"] - intentions["y"]) < 1
    screenshot(page, "preparation")

    # Printed for the session: no navigation or buttons, the columns one after the other.
    page.emulate_media(media="print")
    assert page.locator("header nav").is_hidden()
    assert page.get_by_role("button", name="Sign out").is_hidden()
    intentions = page.locator("section.column").nth(0).bounding_box()
    reflections = page.locator("section.column").nth(1).bounding_box()
    assert reflections["y"] >= intentions["y"] + intentions["height"] - 1  # stacked
    screenshot(page, "preparation-print")
    page.emulate_media(media="screen")

    # The share history, from the breadcrumb.
    page.get_by_role("link", name="Share history of Anna Weber").click()
    page.wait_for_url(re.compile(r"/dashboard/patients/[0-9a-f-]+/shares/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Share history of Anna Weber"
    assert page.get_by_role("cell", name="Active").is_visible()
    screenshot(page, "share-history")

    # A page that is not there, or not this therapist's: the plain not-found page (whose
    # 404 status Chromium logs, as it logs any failed load: the only message expected).
    assert console == []
    page.goto(f"{dashboard}shares/00000000-0000-0000-0000-000000000000/")
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"
    assert console == [
        "error: Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]
    console.clear()
    screenshot(page, "not-found")

    # Sign out: back at sign-in, and the pages are closed again.
    page.goto(dashboard)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/dashboard/sign-in/$"))
    assert "You have signed out." in page.get_by_role("status").inner_text()
    screenshot(page, "signed-out")
    page.goto(dashboard)
    assert "/dashboard/sign-in/" in page.url

    # Sign in again (the next code: each works once), then stay idle past a short limit.
    sign_in(page, therapist.email, authenticator.code(steps_ahead=1))
    page.wait_for_url(dashboard)
    settings.DASHBOARD_IDLE_TIMEOUT_SECONDS = 2
    page.wait_for_timeout(2500)
    page.reload()
    assert "/dashboard/sign-in/" in page.url
    assert "signed out after inactivity" in page.get_by_role("status").inner_text()
    screenshot(page, "timed-out")

    assert console == []  # no CSP violation, no failed load, no script error


@pytest.fixture
def scored_share(patient, therapist, course, settings, monkeypatch):
    """The course's scores shared (a baseline, then a response and a remission) and a
    PHQ-9 with item 9 above 0 that alerted the therapist, who the patient allowed to be
    alerted. (The alert's e-mail task is not sent: no worker runs here.)"""
    from unittest import mock

    from django.utils import timezone

    from integration.care import alerts, shares
    from integration.models import CareLink
    from journal.measures import services

    settings.JOURNAL_SAFETY_HOOKS = ["integration.care.alerts.safety_alerts_create"]
    CareLink.objects.filter(pk=course.link.pk).update(safety_alerts_enabled=True)
    monkeypatch.setattr(alerts, "current_app", mock.Mock())
    course.dosing.refresh_from_db()
    start = course.dosing.actual_start
    day = datetime.timedelta(days=1)
    for instrument, answers, taken_at in (
        ("phq9", [3, 3, 2, 2, 2, 2, 2, 2, 0], start - 3 * day),  # 18, the baseline
        ("gad7", [2, 2, 2, 2, 2, 2, 1], start - 3 * day),  # 13
        ("phq9", [1, 1, 1, 1, 1, 1, 1, 1, 0], start + day),  # 8: a response
        ("gad7", [1, 1, 1, 1, 1, 1, 0], start + day),  # 6
        ("phq9", [1, 0, 0, 1, 0, 0, 0, 0, 1], timezone.now() - day / 12),  # 3, item 9
    ):
        services.measure_create(
            patient=patient, instrument=instrument, answers=answers, taken_at=taken_at
        )
    return shares.share_create(
        patient=patient,
        care_link_id=course.link.pk,
        dosing_session_id=course.dosing.pk,
        include_measures=True,
    )


def chart_and_table(page, instrument: str) -> tuple[list[int], list[int]]:
    drawn = page.locator(f'svg[aria-labelledby^="chart-{instrument}-"] .point').evaluate_all(
        "nodes => nodes.map(node => Number(node.dataset.value))"
    )
    listed = page.locator(f"#table-{instrument} td.score").evaluate_all(
        "nodes => nodes.map(node => Number(node.textContent.trim()))"
    )
    return drawn, listed


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_therapist_reads_the_scores_charts_and_acknowledges_an_alert_in_the_browser(
    therapist, authenticator, dashboard, scored_share, browser_page
):
    page, console = browser_page
    scores = f"{dashboard}shares/{scored_share.pk}/measures/"

    page.goto(scores)
    sign_in(page, therapist.email, authenticator.code())
    page.wait_for_url(scores)
    assert page.get_by_role("heading", level=1).inner_text() == "Scores: Anna Weber"

    # One chart per instrument, an image named by its own title, drawn under the policy.
    for instrument, name in (("phq9", "PHQ-9"), ("gad7", "GAD-7")):
        chart = page.get_by_role("img", name=f"{name} scores over time")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box["width"] > 300
        assert box["height"] > 100
        # The chart's numbers are the table's.
        drawn, listed = chart_and_table(page, instrument)
        assert drawn == listed
    assert chart_and_table(page, "phq9")[0] == [18, 8, 3]
    assert chart_and_table(page, "gad7")[0] == [13, 6]
    # Beside each other on a wide screen.
    chart_box = page.locator('svg[aria-labelledby^="chart-phq9-"]').bounding_box()
    table_box = page.locator("#table-phq9").bounding_box()
    assert table_box["x"] >= chart_box["x"] + chart_box["width"] - 1

    # The safety alert is flagged on the patient's page; it can be acknowledged.
    alert = page.locator(".safety-alert")
    assert alert.count() == 1
    assert alert.inner_text().startswith("Safety alert: ")
    screenshot(page, "measures")

    page.get_by_role("button", name=re.compile("^Acknowledge")).click()
    page.wait_for_url(scores)
    assert "Safety alert acknowledged." in page.get_by_role("status").inner_text()
    assert page.locator(".safety-alert").count() == 0

    # Printed: the charts stay, the buttons go.
    page.emulate_media(media="print")
    assert page.get_by_role("img", name="PHQ-9 scores over time").is_visible()
    assert page.get_by_role("button", name="Sign out").is_hidden()
    screenshot(page, "measures-print")
    page.emulate_media(media="screen")

    assert console == []  # no CSP violation, no failed load, no script error


NEW_PASSWORD = "amber-meadow-quiet-river-84"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_therapist_resets_the_password_and_uses_a_recovery_code_in_the_browser(
    settings, therapist, authenticator, dashboard, mail, browser_page
):
    page, console = browser_page
    settings.DASHBOARD_PUBLIC_URL = dashboard

    # Forgot the password: from the sign-in page, an address, then the same page for any.
    page.goto(dashboard)
    page.get_by_role("link", name="Forgot your password?").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Forgot your password"
    page.get_by_label("Email address").fill(therapist.email)
    page.get_by_role("button", name="Send a code").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Check your e-mail"
    screenshot(page, "password-forgot-sent")

    # The link in the e-mail opens the reset page with the code filled in.
    (message,) = mail.messages()
    link = re.search(r"https?://\S+/dashboard/password/reset/\?code=\d+", message.text)
    assert link is not None, message.text
    page.goto(link.group(0))
    assert page.get_by_label("Code from the e-mail").input_value() == message.code
    page.get_by_label("Email address").fill(therapist.email)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password, again").fill(NEW_PASSWORD)
    screenshot(page, "password-reset")
    page.get_by_role("button", name="Set the new password").click()
    page.wait_for_url(re.compile(r"/dashboard/sign-in/$"))
    assert "Your new password is set" in page.get_by_role("status").inner_text()

    # Sign in with the new password and the app; then new recovery codes, from Account.
    page.get_by_label("Email address").fill(therapist.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(authenticator.code())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(dashboard)
    page.get_by_role("link", name="Account").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Account"
    screenshot(page, "account")
    page.get_by_role("link", name="Make a new set").click()
    page.get_by_label("Your password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Make new codes").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Your recovery codes"
    codes = page.locator("ul.recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    screenshot(page, "recovery-codes")

    # Sign out, and in again with a recovery code in place of the app's code.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/dashboard/sign-in/$"))
    page.get_by_label("Email address").fill(therapist.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(codes[0])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(dashboard)
    assert "You signed in with a recovery code; 9 left." in page.get_by_role("status").inner_text()

    # Change the password from Account: this session stays signed in.
    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Change your password").click()
    page.get_by_label("Current password").fill(NEW_PASSWORD)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password, again").fill(PASSWORD)
    page.get_by_role("button", name="Change the password").click()
    page.wait_for_url(f"{dashboard}account/")
    assert "Your password is changed" in page.get_by_role("status").inner_text()
    screenshot(page, "password-changed")
    assert console == []
