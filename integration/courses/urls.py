"""Course URLs, included under /api/v1/ by integration/urls.py."""

from django.urls import URLPattern, path

from integration.courses import views

urlpatterns: list[URLPattern] = [
    path("course-templates/", views.CourseTemplateListView.as_view(), name="course-templates"),
    path("courses/", views.CourseCollectionView.as_view(), name="courses"),
    path("courses/<uuid:course_id>/", views.CourseDetailView.as_view(), name="course"),
    path(
        "courses/<uuid:course_id>/sessions/<uuid:session_id>/move/",
        views.CourseSessionMoveView.as_view(),
        name="course-session-move",
    ),
    path(
        "courses/<uuid:course_id>/sessions/<uuid:session_id>/skip/",
        views.CourseSessionSkipView.as_view(),
        name="course-session-skip",
    ),
    path(
        "courses/<uuid:course_id>/extend/", views.CourseExtendView.as_view(), name="course-extend"
    ),
    path("courses/<uuid:course_id>/end/", views.CourseEndView.as_view(), name="course-end"),
]
