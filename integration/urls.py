"""Care-layer URLs, included under /api/v1/."""

from django.urls import URLPattern, path

from integration.ahead import views as ahead_views
from integration.calendar_feed import views as calendar_views
from integration.care import views as care_views
from integration.courses import urls as course_urls
from integration.delivery import views as delivery_views
from integration.prompts import views as prompt_views
from integration.therapist import views as therapist_views

urlpatterns: list[URLPattern] = [
    path("exercises/", prompt_views.ExerciseListView.as_view(), name="exercises"),
    path("plans/", prompt_views.PlanListView.as_view(), name="plans"),
    path("me/plan/", prompt_views.TimelineView.as_view(), name="timeline"),
    path("me/upcoming/", ahead_views.UpcomingView.as_view(), name="upcoming"),
    path("prompts/", prompt_views.PromptListView.as_view(), name="prompts"),
    path("prompts/<uuid:prompt_id>/", prompt_views.PromptDetailView.as_view(), name="prompt"),
    path(
        "prompts/<uuid:prompt_id>/open/", prompt_views.PromptOpenView.as_view(), name="prompt-open"
    ),
    path(
        "prompts/<uuid:prompt_id>/skip/", prompt_views.PromptSkipView.as_view(), name="prompt-skip"
    ),
    path(
        "prompts/<uuid:prompt_id>/snooze/",
        prompt_views.PromptSnoozeView.as_view(),
        name="prompt-snooze",
    ),
    path(
        "prompts/<uuid:prompt_id>/complete/",
        prompt_views.PromptCompleteView.as_view(),
        name="prompt-complete",
    ),
    path("devices/", delivery_views.DeviceListView.as_view(), name="push-devices"),
    path(
        "devices/<uuid:device_id>/", delivery_views.DeviceDetailView.as_view(), name="push-device"
    ),
    # Care links, shares and the access log (patients; a link's therapist may end it).
    path("care-links/", care_views.CareLinkCollectionView.as_view(), name="care-links"),
    path("care-links/preview/", care_views.CareLinkPreviewView.as_view(), name="care-link-preview"),
    path("care-links/<uuid:link_id>/", care_views.CareLinkDetailView.as_view(), name="care-link"),
    path("shares/", care_views.ShareCollectionView.as_view(), name="shares"),
    path("shares/<uuid:share_id>/", care_views.ShareDetailView.as_view(), name="share"),
    path("me/access-events/", care_views.AccessEventListView.as_view(), name="access-events"),
    # The private calendar feed: the patient's settings, and the feed its secret URL reads.
    path("me/calendar/", calendar_views.CalendarFeedView.as_view(), name="calendar-feed"),
    path(
        "me/calendar/rotate/",
        calendar_views.CalendarFeedRotateView.as_view(),
        name="calendar-feed-rotate",
    ),
    path(
        "calendar/<str:token>.ics",
        calendar_views.CalendarFeedReadView.as_view(),
        name="calendar-feed-read",
    ),
    # The therapist API: reads only, and their own invitations.
    path(
        "therapist/invitations/",
        therapist_views.TherapistInvitationView.as_view(),
        name="therapist-invitations",
    ),
    path(
        "therapist/patients/",
        therapist_views.TherapistPatientListView.as_view(),
        name="therapist-patients",
    ),
    path(
        "therapist/patients/<uuid:patient_id>/shares/",
        therapist_views.TherapistPatientSharesView.as_view(),
        name="therapist-patient-shares",
    ),
    path(
        "therapist/patients/<uuid:patient_id>/share-history/",
        therapist_views.TherapistShareHistoryView.as_view(),
        name="therapist-patient-share-history",
    ),
    path(
        "therapist/shares/<uuid:share_id>/",
        therapist_views.TherapistShareContentView.as_view(),
        name="therapist-share",
    ),
    path(
        "therapist/shares/<uuid:share_id>/measures/",
        therapist_views.TherapistShareMeasuresView.as_view(),
        name="therapist-share-measures",
    ),
    path(
        "therapist/shares/<uuid:share_id>/course/",
        therapist_views.TherapistShareCourseView.as_view(),
        name="therapist-share-course",
    ),
]
urlpatterns += course_urls.urlpatterns
