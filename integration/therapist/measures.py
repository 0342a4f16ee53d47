"""The therapist's measure charts: the view models of a shared patient's PHQ-9 and GAD-7
series (points, bands, baseline, response and remission).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request

from backend.accounts.models import User
from integration.care import access
from journal import access as journal_access
from journal import instruments
from journal.measures import selectors
from journal.models import SessionKind, SessionStatus, TreatmentSession

# Measures: the therapist's charts ---------------------------------------------------------


@dataclass(frozen=True)
class MeasurePointView:
    """One score as a therapist sees it: total and band, never the item answers."""

    measure_id: uuid.UUID
    taken_at: dt.datetime
    total: int
    band: str
    is_baseline: bool
    change_from_baseline: int | None
    percent_change: float | None
    is_response: bool | None
    is_remission: bool | None


@dataclass(frozen=True)
class MeasureSeriesView:
    """One instrument's scores over the course, with what a chart needs to draw them."""

    instrument: str
    name: str
    max_total: int
    bands: list[instruments.SeverityBand]
    remission_below: int
    first_dosing_session_at: dt.datetime | None
    baseline: MeasurePointView | None
    # Totals at or below this are a response (half the baseline); None while the flags do
    # not apply (no baseline, or one below `journal.instruments.FLAG_MIN_BASELINE`).
    response_at_most: float | None
    points: list[MeasurePointView]


@dataclass(frozen=True)
class ShareMeasures:
    share_id: uuid.UUID
    patient_id: uuid.UUID
    patient_display_name: str
    expires_at: dt.datetime
    # Starts (actual once recorded) of the patient's dosing sessions that have begun.
    dosing_sessions: list[dt.datetime]
    series: list[MeasureSeriesView]


def _point_view(point: selectors.TrendPoint) -> MeasurePointView:
    return MeasurePointView(
        measure_id=point.id,
        taken_at=point.taken_at,
        total=point.total,
        band=point.band,
        is_baseline=point.is_baseline,
        change_from_baseline=point.change_from_baseline,
        percent_change=point.percent_change,
        is_response=point.is_response,
        is_remission=point.is_remission,
    )


def _series_view(trend: selectors.Trend) -> MeasureSeriesView:
    form = instruments.definition(trend.instrument)
    points = [_point_view(point) for point in trend.points]
    baseline = next((point for point in points if point.is_baseline), None)
    applies = baseline is not None and baseline.total >= instruments.FLAG_MIN_BASELINE
    return MeasureSeriesView(
        instrument=trend.instrument,
        name=form.name,
        max_total=form.max_total,
        bands=list(form.bands),
        remission_below=form.remission_below,
        first_dosing_session_at=trend.first_dosing_session_at,
        baseline=baseline,
        response_at_most=baseline.total / 2 if baseline is not None and applies else None,
        points=points,
    )


def _dosing_start(session: TreatmentSession) -> dt.datetime:
    return session.actual_start or session.scheduled_start


def share_measures_for_therapist(
    *, therapist: User, share_id: uuid.UUID | str, request: HttpRequest | Request | None, via: str
) -> ShareMeasures:
    """The patient's PHQ-9 and GAD-7 series (journal's trend: baseline, change, response,
    remission) and the starts of their dosing sessions so far, for the therapist of a
    share that includes measures; NotFound (the same for every reason) otherwise. One
    "share.measures" access event is written in the transaction of the reads. A
    constant number of queries whatever the number of measures."""
    now = timezone.now()
    with transaction.atomic():
        share = access.therapist_share_for_measures(therapist=therapist, share_id=share_id)
        patient = share.patient
        trends = [
            selectors.measure_trend_for_patient(patient=patient, instrument=code)
            for code in instruments.INSTRUMENTS
        ]
        sessions = (
            journal_access.session_queryset_for_patient(patient=patient)
            .filter(kind=SessionKind.DOSING)
            .exclude(status=SessionStatus.CANCELLED)
            .only("id", "scheduled_start", "actual_start")
        )
        began = sorted(
            (session for session in sessions if _dosing_start(session) <= now), key=_dosing_start
        )
        object_ids: list[Any] = [point.id for trend in trends for point in trend.points]
        object_ids += [session.pk for session in began]
        access.access_record(
            actor=therapist,
            patient=patient,
            action=access.AccessAction.SHARE_MEASURES,
            via=via,
            request=request,
            share=share,
            object_type="measure",
            object_ids=object_ids,
        )
    return ShareMeasures(
        share_id=share.id,
        patient_id=share.patient_id,
        patient_display_name=patient.display_name,
        expires_at=share.expires_at,
        dosing_sessions=[_dosing_start(session) for session in began],
        series=[_series_view(trend) for trend in trends],
    )
