"""Reads of measures: lists, one measure, and the trend over a course against its baseline."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Min, QuerySet
from django.db.models.functions import Coalesce
from rest_framework.exceptions import NotFound

from backend.accounts.models import User
from journal import instruments
from journal.access import measure_queryset_for_patient, session_queryset_for_patient
from journal.api import filtered
from journal.models import (
    Measure,
    SessionKind,
    SessionStatus,
)


def measure_list_for_patient(
    *, patient: User, filters: Mapping[str, Any] | None = None
) -> QuerySet[Measure]:
    """Filters: `instrument`, `session` (an id), `taken_from` (inclusive), `taken_before`
    (exclusive). Newest first."""
    rows = filtered(
        measure_queryset_for_patient(patient=patient),
        filters,
        {
            "instrument": "instrument",
            "session": "session_id",
            "taken_from": "taken_at__gte",
            "taken_before": "taken_at__lt",
        },
    )
    return rows.order_by("-taken_at", "-id")


def measure_get_for_patient(*, patient: User, measure_id: uuid.UUID) -> Measure:
    """The patient's live measure; NotFound alike for missing and not theirs."""
    measure = measure_queryset_for_patient(patient=patient).filter(pk=measure_id).first()
    if measure is None:
        raise NotFound()
    return measure


def first_dosing_start_for_patient(*, patient: User) -> datetime | None:
    """When the patient's course of dosing began, or begins: the earliest start (the
    actual one once recorded, else the scheduled one) of their live dosing sessions that
    are not cancelled."""
    start: datetime | None = (
        session_queryset_for_patient(patient=patient)
        .filter(kind=SessionKind.DOSING)
        .exclude(status=SessionStatus.CANCELLED)
        .aggregate(first=Min(Coalesce("actual_start", "scheduled_start")))["first"]
    )
    return start


@dataclass(frozen=True)
class TrendPoint:
    measure: Measure
    is_baseline: bool
    change_from_baseline: int | None
    percent_change: float | None
    is_response: bool | None
    is_remission: bool | None

    @property
    def id(self) -> uuid.UUID:
        return self.measure.id

    @property
    def taken_at(self) -> datetime:
        return self.measure.taken_at

    @property
    def total(self) -> int:
        return self.measure.total

    @property
    def band(self) -> str:
        return self.measure.band


@dataclass(frozen=True)
class Trend:
    instrument: str
    first_dosing_session_at: datetime | None
    baseline: Measure | None
    points: list[TrendPoint]

    @property
    def latest(self) -> TrendPoint | None:
        return self.points[-1] if self.points else None


def _trend_point(
    measure: Measure, *, instrument: str, baseline: Measure | None, course_start: datetime | None
) -> TrendPoint:
    if baseline is None or course_start is None:
        return TrendPoint(measure, False, None, None, None, None)
    is_baseline = measure.pk == baseline.pk
    on_course = measure.taken_at >= course_start
    return TrendPoint(
        measure,
        is_baseline=is_baseline,
        change_from_baseline=measure.total - baseline.total,
        percent_change=instruments.percent_change(baseline.total, measure.total),
        # Response and remission describe the course: judged only after it has begun.
        is_response=instruments.is_response(baseline.total, measure.total) if on_course else None,
        is_remission=(
            instruments.is_remission(instrument, baseline.total, measure.total)
            if on_course
            else None
        ),
    )


def measure_trend_for_patient(*, patient: User, instrument: str) -> Trend:
    """The patient's measures of one instrument, oldest first, against the course's
    baseline: the last measure taken before the first dosing session (docs/measures.md)."""
    course_start = first_dosing_start_for_patient(patient=patient)
    rows = list(
        measure_queryset_for_patient(patient=patient)
        .filter(instrument=instrument)
        .order_by("taken_at", "id")
    )
    before = [row for row in rows if course_start is not None and row.taken_at < course_start]
    baseline = before[-1] if before else None
    return Trend(
        instrument=instrument,
        first_dosing_session_at=course_start,
        baseline=baseline,
        points=[
            _trend_point(row, instrument=instrument, baseline=baseline, course_start=course_start)
            for row in rows
        ],
    )
