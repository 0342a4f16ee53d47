"""Care-layer URLs, included under /api/v1/."""

from django.urls import URLPattern, path

from integration import views

urlpatterns: list[URLPattern] = [
    path("exercises/", views.ExerciseListView.as_view(), name="exercises"),
    path("plans/", views.PlanListView.as_view(), name="plans"),
    path("me/plan/", views.TimelineView.as_view(), name="timeline"),
    path("prompts/", views.PromptListView.as_view(), name="prompts"),
    path("prompts/<uuid:prompt_id>/", views.PromptDetailView.as_view(), name="prompt"),
    path("prompts/<uuid:prompt_id>/open/", views.PromptOpenView.as_view(), name="prompt-open"),
    path("prompts/<uuid:prompt_id>/skip/", views.PromptSkipView.as_view(), name="prompt-skip"),
    path(
        "prompts/<uuid:prompt_id>/snooze/", views.PromptSnoozeView.as_view(), name="prompt-snooze"
    ),
    path(
        "prompts/<uuid:prompt_id>/complete/",
        views.PromptCompleteView.as_view(),
        name="prompt-complete",
    ),
    path("devices/", views.DeviceListView.as_view(), name="push-devices"),
    path("devices/<uuid:device_id>/", views.DeviceDetailView.as_view(), name="push-device"),
    # Care links, shares and the access log (patients; a link's therapist may end it).
    path("care-links/", views.CareLinkCollectionView.as_view(), name="care-links"),
    path("care-links/preview/", views.CareLinkPreviewView.as_view(), name="care-link-preview"),
    path("care-links/<uuid:link_id>/", views.CareLinkDetailView.as_view(), name="care-link"),
    path("shares/", views.ShareCollectionView.as_view(), name="shares"),
    path("shares/<uuid:share_id>/", views.ShareDetailView.as_view(), name="share"),
    path("me/access-events/", views.AccessEventListView.as_view(), name="access-events"),
    # The therapist API: reads only, and their own invitations.
    path(
        "therapist/invitations/",
        views.TherapistInvitationView.as_view(),
        name="therapist-invitations",
    ),
    path(
        "therapist/patients/", views.TherapistPatientListView.as_view(), name="therapist-patients"
    ),
    path(
        "therapist/patients/<uuid:patient_id>/shares/",
        views.TherapistPatientSharesView.as_view(),
        name="therapist-patient-shares",
    ),
    path(
        "therapist/patients/<uuid:patient_id>/share-history/",
        views.TherapistShareHistoryView.as_view(),
        name="therapist-patient-share-history",
    ),
    path(
        "therapist/shares/<uuid:share_id>/",
        views.TherapistShareContentView.as_view(),
        name="therapist-share",
    ),
    path(
        "therapist/shares/<uuid:share_id>/measures/",
        views.TherapistShareMeasuresView.as_view(),
        name="therapist-share-measures",
    ),
]
