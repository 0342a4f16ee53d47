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
    path("sync/", views.SyncView.as_view(), name="sync"),
    path("me/export/", views.ExportView.as_view(), name="me-export"),
]
