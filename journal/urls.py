"""Journal URLs, included under /api/v1/."""

from django.urls import URLPattern, path

from journal.entries import views as entries_views
from journal.export import views as export_views
from journal.measures import views as measures_views
from journal.sessions import views
from journal.sync import views as sync_views

urlpatterns: list[URLPattern] = [
    path("sessions/", views.SessionCollectionView.as_view(), name="sessions"),
    path("sessions/<uuid:session_id>/", views.SessionDetailView.as_view(), name="session"),
    path(
        "sessions/<uuid:session_id>/journal/",
        entries_views.SessionJournalView.as_view(),
        name="session-journal",
    ),
    path("entries/", entries_views.EntryCollectionView.as_view(), name="entries"),
    path("entries/<uuid:entry_id>/", entries_views.EntryDetailView.as_view(), name="entry"),
    path("measures/", measures_views.MeasureCollectionView.as_view(), name="measures"),
    path(
        "measures/instruments/",
        measures_views.InstrumentsView.as_view(),
        name="measure-instruments",
    ),
    path("measures/trend/", measures_views.MeasureTrendView.as_view(), name="measure-trend"),
    path("measures/<uuid:measure_id>/", measures_views.MeasureDetailView.as_view(), name="measure"),
    path("sync/", sync_views.SyncView.as_view(), name="sync"),
    path("me/export/", export_views.ExportView.as_view(), name="me-export"),
    path("me/export/fhir/", export_views.FhirExportView.as_view(), name="me-export-fhir"),
]
