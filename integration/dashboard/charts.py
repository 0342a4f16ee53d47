"""Measure charts for the dashboard: an instrument's scores over time as inline SVG, drawn
on the server. No JavaScript, nothing from another host, no `style` attributes: the
dashboard's Content-Security-Policy (`style-src 'self'`) allows only its stylesheet.
Colours are SVG presentation attributes (which that policy does not govern) with a
class on each element, so dashboard.css restyles them (for print, say).

`measure_chart_svg` is a pure function of the series: every text and attribute value it
writes is escaped here, which is what makes its result safe to put in a page as is.

What is drawn: the severity bands shaded behind the plot (labelled at the right), the
dosing sessions as numbered vertical lines, the scores as a line with a marker each (the
baseline a square, the others circles; response and remission filled differently, and the
table beside the chart says it in words), the baseline and the response threshold (half
the baseline, while the flags apply) as dashed lines, and the remission threshold as a
dotted one. Each marker carries its total in `data-value`, so a test can check the chart
against the table.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe

from integration.therapist.measures import MeasurePointView, MeasureSeriesView

WIDTH = 720
HEIGHT = 320
LEFT, RIGHT, TOP, BOTTOM = 44, 156, 16, 44
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM

# Light to dark as severity rises (shade alone does not carry the meaning: each band is
# labelled, and the table names each score's band).
BAND_FILLS = {
    "minimal": "#e8f3ec",
    "mild": "#f4f1de",
    "moderate": "#f8e6d2",
    "moderately_severe": "#f6d9d3",
    "severe": "#f1c9c9",
}
INK = "#1d2327"
MUTED = "#4b5560"
ACCENT = "#6a3d9a"
DOSING = "#1f5f8b"
# Ticks every day, two days, a week, two weeks or four weeks: the first that keeps about
# seven labels on the axis.
TICK_STEPS_DAYS = (1, 2, 7, 14, 28)
MAX_TICKS = 7


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _number(value: float) -> str:
    return f"{value:.1f}"


def _day(instant: dt.datetime, zone: dt.tzinfo) -> str:
    local = instant.astimezone(zone)
    return f"{local.day} {local:%b %Y}"


def _short_day(instant: dt.datetime, zone: dt.tzinfo) -> str:
    local = instant.astimezone(zone)
    return f"{local.day} {local:%b}"


def _score(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"


class _Scale:
    def __init__(self, start: dt.datetime, end: dt.datetime, max_total: int) -> None:
        span = end - start
        if span <= dt.timedelta(0):
            start, end = start - dt.timedelta(days=3), end + dt.timedelta(days=3)
        else:
            pad = span / 20
            start, end = start - pad, end + pad
        self.start, self.end, self.max_total = start, end, max_total
        self.seconds = (end - start).total_seconds()

    def x(self, instant: dt.datetime) -> float:
        return LEFT + PLOT_WIDTH * (instant - self.start).total_seconds() / self.seconds

    def y(self, value: float) -> float:
        return TOP + PLOT_HEIGHT * (1 - value / self.max_total)


def _ticks(scale: _Scale, zone: dt.tzinfo) -> list[dt.datetime]:
    days = scale.seconds / 86400
    step = next((s for s in TICK_STEPS_DAYS if days / s <= MAX_TICKS), TICK_STEPS_DAYS[-1])
    if step >= 28:
        step = 7 * math.ceil(days / MAX_TICKS / 7)
    local = scale.start.astimezone(zone)
    tick = (local + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    ticks = []
    while tick <= scale.end:
        ticks.append(tick)
        tick = (tick + dt.timedelta(days=step)).replace(hour=0)
    return ticks


def _bands(series: MeasureSeriesView, scale: _Scale) -> list[str]:
    parts = ['<g class="bands">']
    for index, band in enumerate(series.bands):
        upper = (
            series.bands[index + 1].minimum if index + 1 < len(series.bands) else series.max_total
        )
        top, bottom = scale.y(upper), scale.y(band.minimum)
        name = _text(band.band.value)
        parts.append(
            f'<rect class="band band-{name}" x="{LEFT}" y="{_number(top)}" '
            f'width="{PLOT_WIDTH}" height="{_number(bottom - top)}" '
            f'fill="{BAND_FILLS.get(band.band.value, "#eeeeee")}"/>'
        )
        parts.append(
            f'<text class="band-label" x="{LEFT + PLOT_WIDTH + 8}" '
            f'y="{_number((top + bottom) / 2 + 4)}" font-size="11" fill="{MUTED}">'
            f"{_text(band.label)} {band.minimum}&#8211;{band.maximum}</text>"
        )
    parts.append("</g>")
    return parts


def _axes(series: MeasureSeriesView, scale: _Scale, zone: dt.tzinfo) -> list[str]:
    parts = ['<g class="axes">']
    values = sorted({0, series.max_total, *(band.minimum for band in series.bands)})
    for value in values:
        y = _number(scale.y(value))
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + PLOT_WIDTH}" y1="{y}" y2="{y}" '
            f'stroke="#ffffff" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="tick-label" x="{LEFT - 6}" y="{_number(scale.y(value) + 4)}" '
            f'text-anchor="end" font-size="12" fill="{MUTED}">{value}</text>'
        )
    bottom = TOP + PLOT_HEIGHT
    for tick in _ticks(scale, zone):
        x = _number(scale.x(tick))
        parts.append(
            f'<line class="tick" x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 5}" '
            f'stroke="{MUTED}" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="tick-label" x="{x}" y="{bottom + 18}" text-anchor="middle" '
            f'font-size="12" fill="{MUTED}">{_text(_short_day(tick, zone))}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{LEFT + PLOT_WIDTH}" y1="{bottom}" y2="{bottom}" '
        f'stroke="{INK}" stroke-width="1"/>'
    )
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" '
        f'stroke="{INK}" stroke-width="1"/>'
    )
    parts.append(
        f'<text class="axis-label" x="{LEFT + PLOT_WIDTH / 2}" y="{HEIGHT - 6}" '
        f'text-anchor="middle" font-size="12" fill="{MUTED}">Date</text>'
    )
    parts.append("</g>")
    return parts


def _dosing_sessions(
    dosing_sessions: Sequence[dt.datetime], scale: _Scale, zone: dt.tzinfo
) -> list[str]:
    parts = ['<g class="dosing-sessions">']
    for number, start in enumerate(dosing_sessions, start=1):
        x = _number(scale.x(start))
        parts.append(
            f'<g class="dosing-session"><title>Dosing session {number}: '
            f"{_text(_day(start, zone))}</title>"
            f'<line x1="{x}" x2="{x}" y1="{TOP + 14}" y2="{TOP + PLOT_HEIGHT}" '
            f'stroke="{DOSING}" stroke-width="1.5" stroke-dasharray="2 3"/>'
            f'<text x="{x}" y="{TOP + 10}" text-anchor="middle" font-size="11" '
            f'font-weight="700" fill="{DOSING}">D{number}</text></g>'
        )
    parts.append("</g>")
    return parts


def _threshold(
    kind: str, value: float, label: str, scale: _Scale, *, dash: str, at_left: bool = False
) -> list[str]:
    """A horizontal line with its label above it: at the right end, or at the left
    (remission's, which can sit on the response threshold)."""
    y = _number(scale.y(value))
    x, anchor = (LEFT + 4, "start") if at_left else (LEFT + PLOT_WIDTH - 4, "end")
    return [
        f'<g class="threshold threshold-{kind}"><title>{_text(label)}</title>'
        f'<line x1="{LEFT}" x2="{LEFT + PLOT_WIDTH}" y1="{y}" y2="{y}" stroke="{INK}" '
        f'stroke-width="1.5" stroke-dasharray="{dash}"/>'
        f'<text x="{x}" y="{_number(scale.y(value) - 4)}" text-anchor="{anchor}" '
        f'font-size="11" fill="{INK}">{_text(label)}</text></g>'
    ]


def _point_title(series: MeasureSeriesView, point: MeasurePointView, zone: dt.tzinfo) -> str:
    band = next((b.label for b in series.bands if b.band.value == point.band), point.band)
    words = [f"{_day(point.taken_at, zone)}: {point.total} ({band})"]
    if point.is_baseline:
        words.append("baseline")
    if point.is_remission:
        words.append("remission")
    elif point.is_response:
        words.append("response")
    return ", ".join(words)


def _points(series: MeasureSeriesView, scale: _Scale, zone: dt.tzinfo) -> list[str]:
    coordinates = [(scale.x(p.taken_at), scale.y(p.total)) for p in series.points]
    parts = []
    if len(coordinates) > 1:
        path = " ".join(f"{_number(x)},{_number(y)}" for x, y in coordinates)
        parts.append(
            f'<polyline class="series-line" points="{path}" fill="none" stroke="{ACCENT}" '
            f'stroke-width="2"/>'
        )
    parts.append('<g class="points">')
    for point, (x, y) in zip(series.points, coordinates, strict=True):
        classes = ["point"]
        fill = "#ffffff"
        if point.is_baseline:
            classes.append("point-baseline")
        if point.is_response:
            classes.append("point-response")
            fill = ACCENT
        if point.is_remission:
            classes.append("point-remission")
            fill = "#1f6b45"
        data = (
            f'data-value="{point.total}" data-taken-at="{_text(point.taken_at.isoformat())}" '
            f'class="{" ".join(classes)}" fill="{fill}" stroke="{ACCENT}" stroke-width="2"'
        )
        title = f"<title>{_text(_point_title(series, point, zone))}</title>"
        if point.is_baseline:
            parts.append(
                f'<rect {data} x="{_number(x - 5)}" y="{_number(y - 5)}" width="10" '
                f'height="10">{title}</rect>'
            )
        else:
            parts.append(
                f'<circle {data} cx="{_number(x)}" cy="{_number(y)}" r="5">{title}</circle>'
            )
    parts.append("</g>")
    return parts


def chart_description(series: MeasureSeriesView, dosing_count: int, zone: dt.tzinfo) -> str:
    """The chart in a few sentences (its `<desc>`); the table beside it has every number."""
    points = series.points
    if not points:
        return f"No {series.name} scores yet."
    first, last = points[0], points[-1]
    sentences = [
        f"{series.name} totals (0 to {series.max_total}, higher means more symptoms): "
        f"{len(points)} score{'s' if len(points) != 1 else ''} from "
        f"{_day(first.taken_at, zone)} to {_day(last.taken_at, zone)}, the latest "
        f"{last.total}."
    ]
    if series.baseline is not None:
        sentences.append(
            f"Baseline {series.baseline.total} on {_day(series.baseline.taken_at, zone)}."
        )
    if series.response_at_most is not None:
        sentences.append(f"Response: {_score(series.response_at_most)} or less.")
    sentences.append(f"Remission: below {series.remission_below}.")
    sentences.append(f"{dosing_count} dosing session{'s' if dosing_count != 1 else ''} marked.")
    return " ".join(sentences)


def measure_chart_svg(
    series: MeasureSeriesView,
    *,
    dosing_sessions: Sequence[dt.datetime],
    zone: dt.tzinfo,
    chart_id: str,
) -> SafeString:
    """The series as an inline `<svg>` (role img, labelled by its own `<title>` and
    `<desc>`), times shown in `zone`. `chart_id` prefixes the ids of the title and
    description: make it unique in the page. An empty series draws the bands alone."""
    instants = [point.taken_at for point in series.points] + list(dosing_sessions)
    if not instants:
        instants = [dt.datetime.now(dt.UTC)]
    scale = _Scale(min(instants), max(instants), series.max_total)
    ident = _text(chart_id)
    shown = [start for start in dosing_sessions if scale.start <= start <= scale.end]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="system-ui, sans-serif">',
        f'<title id="{ident}-title">{_text(series.name)} scores over time</title>',
        f'<desc id="{ident}-desc">{_text(chart_description(series, len(shown), zone))}</desc>',
        *_bands(series, scale),
        *_axes(series, scale, zone),
        *_dosing_sessions(shown, scale, zone),
    ]
    remission = f"Remission: below {series.remission_below}"
    parts += _threshold(
        "remission", series.remission_below, remission, scale, dash="1 3", at_left=True
    )
    if series.baseline is not None:
        baseline = f"Baseline {series.baseline.total}"
        parts += _threshold("baseline", series.baseline.total, baseline, scale, dash="6 4")
    if series.response_at_most is not None:
        response = f"Response: {_score(series.response_at_most)} or less"
        parts += _threshold("response", series.response_at_most, response, scale, dash="10 3 2 3")
    parts += _points(series, scale, zone)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every value above is escaped)
