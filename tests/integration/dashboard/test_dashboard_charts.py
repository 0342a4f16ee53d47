"""The dashboard's scores page: a chart per instrument drawn on the server as inline SVG
(bands, dosing sessions, baseline, response and remission), a table of the same numbers
beside it, only for shares that include measures, each read logged; and the demo's."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
import xml.etree.ElementTree as ElementTree
import zoneinfo
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import User
from integration.care import shares
from integration.dashboard import charts
from integration.models import AccessEvent
from integration.therapist import measures
from journal.measures import services
from tests.integration.dashboard.conftest import PATIENTS_URL, signed_in_client

pytestmark = pytest.mark.django_db

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def measures_url(share_id: object) -> str:
    return f"/dashboard/shares/{share_id}/measures/"


def answers_for(instrument: str, total: int) -> list[int]:
    items = 9 if instrument == "phq9" else 7
    answers = [0] * items
    for index in range(items - 1):  # item 9 of the PHQ-9 stays 0
        answers[index] = min(3, total - sum(answers))
    assert sum(answers) == total
    return answers


def record(patient: User, instrument: str, total: int, taken_at: dt.datetime) -> None:
    services.measure_create(
        patient=patient,
        instrument=instrument,
        answers=answers_for(instrument, total),
        taken_at=taken_at,
    )


@pytest.fixture
def measured(patient, course):
    """The course's scores: a baseline three days before its dosing session, then a
    response and a remission (PHQ-9 18 -> 8 -> 4; GAD-7 13 -> 6), shared with it."""
    course.dosing.refresh_from_db()
    start = course.dosing.actual_start
    record(patient, "phq9", 18, start - 3 * D)
    record(patient, "gad7", 13, start - 3 * D)
    record(patient, "phq9", 8, start + D)
    record(patient, "gad7", 6, start + D)
    record(patient, "phq9", 4, timezone.now() - 2 * H)
    return shares.share_create(
        patient=patient,
        care_link_id=course.link.pk,
        dosing_session_id=course.dosing.pk,
        include_measures=True,
    )


class Page(HTMLParser):
    """The scores page as the test reads it: each chart's markers, its parts by class, and
    each table's score cells, by instrument."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, list[dict[str, str]]]] = {}
        self.tables: dict[str, list[str]] = {}
        self.style_attributes = 0
        self._chart: str | None = None
        self._table: str | None = None
        self._in_score = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "style" in values:
            self.style_attributes += 1
        if tag == "svg" and "chart" in values.get("class", "").split():
            self._chart = values["aria-labelledby"].split("-title")[0].removeprefix("chart-")
            self.charts[self._chart] = {"svg": [values]}
        elif self._chart is not None:
            for name in values.get("class", "").split():
                self.charts[self._chart].setdefault(name, []).append(values)
            self.charts[self._chart].setdefault(tag, []).append(values)
        if tag == "table" and values.get("id", "").startswith("table-"):
            self._table = values["id"].removeprefix("table-")
            self.tables[self._table] = []
        if self._table is not None and tag == "td" and values.get("class") == "score":
            self._in_score = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None
        if tag == "table":
            self._table = None
        if tag == "td":
            self._in_score = False

    def handle_data(self, data: str) -> None:
        if self._in_score and self._table is not None:
            self.tables[self._table].append(data.strip())


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def xml(svg: str) -> ElementTree.Element:
    """The chart as XML: parsing it at all shows it is well-formed."""
    return ElementTree.fromstring(svg)  # noqa: S314 (our own markup, not untrusted input)


def svg_of(html: str, instrument: str) -> str:
    match = re.search(
        rf'<svg [^>]*aria-labelledby="chart-{instrument}-title.*?</svg>', html, re.DOTALL
    )
    assert match is not None
    return match.group(0)


# The page ----------------------------------------------------------------------------------


def test_the_charts_numbers_equal_the_tables(therapist_client, therapist, measured):
    html = therapist_client.get(measures_url(measured.pk)).content.decode()
    page = parse(html)
    api = measures.share_measures_for_therapist(
        therapist=therapist, share_id=measured.pk, request=None, via="api"
    )

    assert set(page.charts) == set(page.tables) == {"phq9", "gad7"}
    for series in api.series:
        drawn = [int(point["data-value"]) for point in page.charts[series.instrument]["point"]]
        listed = [int(cell) for cell in page.tables[series.instrument]]
        assert drawn == listed == [point.total for point in series.points]
    assert [int(c) for c in page.tables["phq9"]] == [18, 8, 4]
    assert [int(c) for c in page.tables["gad7"]] == [13, 6]


def test_each_marker_is_drawn_where_its_number_says(therapist_client, measured):
    page = parse(therapist_client.get(measures_url(measured.pk)).content.decode())

    for instrument, max_total in (("phq9", 27), ("gad7", 21)):
        markers = page.charts[instrument]["point"]
        xs = []
        for marker in markers:
            if "cy" in marker:  # a circle
                x, y = float(marker["cx"]), float(marker["cy"])
            else:  # the baseline's square, 10 wide
                x, y = float(marker["x"]) + 5, float(marker["y"]) + 5
            value = max_total * (1 - (y - charts.TOP) / charts.PLOT_HEIGHT)
            assert abs(value - int(marker["data-value"])) < 0.05
            xs.append(x)
        assert xs == sorted(xs)  # oldest first, left to right


def test_the_chart_shows_bands_the_dosing_session_baseline_response_and_remission(
    therapist_client, measured
):
    html = therapist_client.get(measures_url(measured.pk)).content.decode()
    depression = parse(html).charts["phq9"]

    assert [band["class"] for band in depression["band"]] == [
        "band band-minimal",
        "band band-mild",
        "band band-moderate",
        "band band-moderately_severe",
        "band band-severe",
    ]
    assert len(parse(html).charts["gad7"]["band"]) == 4
    assert len(depression["dosing-session"]) == 1
    for kind in ("threshold-baseline", "threshold-response", "threshold-remission"):
        assert len(depression[kind]) == 1, kind
    classes = [point["class"] for point in depression["point"]]
    assert classes == [
        "point point-baseline",
        "point point-response",
        "point point-response point-remission",
    ]
    svg = svg_of(html, "phq9")
    for label in ("Baseline 18", "Response: 9 or less", "Remission: below 5", "D1", "Severe 20"):
        assert label in svg, label


def test_the_chart_is_an_accessible_image_with_a_text_alternative(therapist_client, measured):
    html = therapist_client.get(measures_url(measured.pk)).content.decode()

    for instrument, name in (("phq9", "PHQ-9"), ("gad7", "GAD-7")):
        svg = xml(svg_of(html, instrument))
        ns = "{http://www.w3.org/2000/svg}"
        assert svg.get("role") == "img"
        title_id, desc_id = str(svg.get("aria-labelledby")).split()
        title = svg.find(f"{ns}title")
        desc = svg.find(f"{ns}desc")
        assert title is not None
        assert desc is not None
        assert (title.get("id"), desc.get("id")) == (title_id, desc_id)
        assert title.text == f"{name} scores over time"
        assert "1 dosing session marked" in str(desc.text)
    description = xml(svg_of(html, "phq9")).find("{http://www.w3.org/2000/svg}desc")
    assert description is not None
    assert "Baseline 18" in str(description.text)
    assert "<caption>PHQ-9 scores, oldest first</caption>" in html


def test_the_page_keeps_the_content_security_policy(therapist_client, measured):
    response = therapist_client.get(measures_url(measured.pk))
    html = response.content.decode()

    assert "style-src 'self'" in response["Content-Security-Policy"]
    assert parse(html).style_attributes == 0
    assert "<script" not in html
    assert "<style" not in html
    external = re.findall(r'(?:href|src)="(https?:[^"]*)"', html)
    assert external == []


def test_the_table_says_in_words_what_the_markers_show(therapist_client, measured):
    html = therapist_client.get(measures_url(measured.pk)).content.decode()
    rows = re.findall(r'<tr(?: class="baseline")?>\s*<th scope="row">.*?</tr>', html, re.DOTALL)

    assert len(rows) == 5
    first, second, third = rows[:3]
    assert "Baseline" in first
    assert "Not applicable" in first
    assert "Moderately severe" in first
    assert "\u221210" in second
    assert "(\u221255.6\u00a0%)" in second
    assert re.findall(r"<td>(Yes|No)</td>", second) == ["Yes", "No"]
    assert re.findall(r"<td>(Yes|No)</td>", third) == ["Yes", "Yes"]


def test_reading_the_page_is_one_access_event(therapist_client, therapist, patient, measured):
    therapist_client.get(measures_url(measured.pk))

    event = AccessEvent.objects.get(action="share.measures")
    assert (event.actor_id, event.patient_id, event.share_id, event.via) == (
        therapist.pk,
        patient.pk,
        measured.pk,
        "dashboard",
    )


def test_a_share_without_measures_has_no_scores_page(therapist_client, course):
    response = therapist_client.get(measures_url(course.share.pk))
    preparation = therapist_client.get(f"/dashboard/shares/{course.share.pk}/").content.decode()

    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.content.decode()
    assert not AccessEvent.objects.filter(action="share.measures").exists()
    assert measures_url(course.share.pk) not in preparation
    assert measures_url(course.share.pk) not in therapist_client.get(PATIENTS_URL).content.decode()


def test_the_preparation_view_and_the_patient_list_link_the_scores(therapist_client, measured):
    preparation = therapist_client.get(f"/dashboard/shares/{measured.pk}/").content.decode()
    patients = therapist_client.get(PATIENTS_URL).content.decode()

    assert measures_url(measured.pk) in preparation
    assert measures_url(measured.pk) in patients


def test_an_instrument_without_scores_says_so(therapist_client, patient, course):
    record(patient, "phq9", 11, timezone.now() - H)
    share = shares.share_create(patient=patient, care_link_id=course.link.pk, include_measures=True)

    html = therapist_client.get(measures_url(share.pk)).content.decode()

    assert "No GAD-7 scores yet." in html
    assert set(parse(html).charts) == {"phq9"}


# The drawing, as a function ----------------------------------------------------------------


def series_of(therapist: User, share_id: uuid.UUID | str) -> measures.ShareMeasures:
    return measures.share_measures_for_therapist(
        therapist=therapist, share_id=share_id, request=None, via="api"
    )


def test_everything_written_into_the_svg_is_escaped(therapist, measured):
    content = series_of(therapist, measured.pk)
    series = replace(content.series[0], name='PHQ-9 <script>alert("x")</script> & co')

    svg = charts.measure_chart_svg(
        series, dosing_sessions=content.dosing_sessions, zone=BERLIN, chart_id='c" onload="x'
    )

    assert "<script" not in svg
    assert 'onload="x' not in svg
    assert "&lt;script&gt;" in svg
    assert "&amp; co" in svg
    xml(str(svg))


def test_a_single_score_draws_a_marker_without_a_line(therapist, measured):
    content = series_of(therapist, measured.pk)
    single = replace(content.series[1], points=content.series[1].points[:1])

    svg = charts.measure_chart_svg(single, dosing_sessions=[], zone=BERLIN, chart_id="one")

    assert len(re.findall(r'class="point[ "]', svg)) == 1
    assert "<polyline" not in svg
    xml(str(svg))


def test_times_are_shown_in_the_given_zone(therapist, measured):
    content = series_of(therapist, measured.pk)
    series = content.series[0]
    first = series.points[0].taken_at

    svg = charts.measure_chart_svg(
        series, dosing_sessions=content.dosing_sessions, zone=BERLIN, chart_id="z"
    )

    local = first.astimezone(BERLIN)
    assert f"{local.day} {local:%b %Y}: 18 (Moderately severe), baseline" in svg


# The demo --------------------------------------------------------------------------------


def test_the_demo_therapist_sees_the_demo_patients_charts(settings):
    settings.DEBUG = True
    for command in ("seed_demo", "seed_demo_care"):
        call_command(command, stdout=io.StringIO())
    therapist = User.objects.get(email="therapist@demo.afterglow.test")
    client = signed_in_client(therapist, TOTPDevice.objects.get(user=therapist))

    patients = client.get(PATIENTS_URL).content.decode()
    (scores,) = re.findall(r'href="(/dashboard/shares/[0-9a-f-]+/measures/)"', patients)
    html = client.get(scores).content.decode()
    page = parse(html)

    assert [int(c) for c in page.tables["phq9"]] == [19, 15, 11, 7, 4]
    assert [int(c) for c in page.tables["gad7"]] == [14, 12, 9, 6, 4]
    assert [int(p["data-value"]) for p in page.charts["phq9"]["point"]] == [19, 15, 11, 7, 4]
    assert len(page.charts["phq9"]["dosing-session"]) == 4
    assert "point-remission" in page.charts["phq9"]["point"][-1]["class"]
    assert "Baseline 19" in svg_of(html, "phq9")
    assert "Safety alert" not in html  # the demo's item 9 answers are all 0
