"""Accounts URLs, included under /api/v1/."""

from django.urls import URLPattern, path

from backend.accounts import views

urlpatterns: list[URLPattern] = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/login/", views.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all/", views.LogoutAllView.as_view(), name="auth-logout-all"),
    path("auth/devices/", views.DeviceListView.as_view(), name="auth-devices"),
    path(
        "auth/devices/<str:token_key>/",
        views.DeviceRevokeView.as_view(),
        name="auth-device-revoke",
    ),
    path("auth/enrol/", views.EnrolView.as_view(), name="auth-enrol"),
    path("auth/enrol/confirm/", views.EnrolConfirmView.as_view(), name="auth-enrol-confirm"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/terms/", views.TermsView.as_view(), name="me-terms"),
]
