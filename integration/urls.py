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
]
