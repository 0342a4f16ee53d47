"""Journal URLs, included under /api/v1/."""

from django.urls import URLPattern, path

from journal import views

urlpatterns: list[URLPattern] = [
    path("sessions/", views.SessionCollectionView.as_view(), name="sessions"),
    path("sessions/<uuid:session_id>/", views.SessionDetailView.as_view(), name="session"),
    path(
        "sessions/<uuid:session_id>/journal/",
        views.SessionJournalView.as_view(),
        name="session-journal",
    ),
    path("entries/", views.EntryCollectionView.as_view(), name="entries"),
    path("entries/<uuid:entry_id>/", views.EntryDetailView.as_view(), name="entry"),
    path("measures/", views.MeasureCollectionView.as_view(), name="measures"),
    path("measures/instruments/", views.InstrumentsView.as_view(), name="measure-instruments"),
    path("measures/trend/", views.MeasureTrendView.as_view(), name="measure-trend"),
    path("measures/<uuid:measure_id>/", views.MeasureDetailView.as_view(), name="measure"),
    path("sync/", views.SyncView.as_view(), name="sync"),
    path("me/export/", views.ExportView.as_view(), name="me-export"),
    path("me/export/fhir/", views.FhirExportView.as_view(), name="me-export-fhir"),
]
