"""Accounts URLs, included under /api/v1/."""

from django.urls import URLPattern, path

from backend.accounts import password_views, recovery_views, registration_views, views

urlpatterns: list[URLPattern] = [
    path("auth/register/", registration_views.RegisterView.as_view(), name="auth-register"),
    path(
        "auth/register/confirm/",
        registration_views.RegisterConfirmView.as_view(),
        name="auth-register-confirm",
    ),
    path(
        "auth/register/resend/",
        registration_views.RegisterResendView.as_view(),
        name="auth-register-resend",
    ),
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
    path(
        "auth/password/change/",
        password_views.PasswordChangeView.as_view(),
        name="auth-password-change",
    ),
    path(
        "auth/password/reset/",
        password_views.PasswordResetRequestView.as_view(),
        name="auth-password-reset",
    ),
    path(
        "auth/password/reset/confirm/",
        password_views.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path(
        "auth/recovery-codes/",
        recovery_views.RecoveryCodesView.as_view(),
        name="auth-recovery-codes",
    ),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/terms/", views.TermsView.as_view(), name="me-terms"),
    path("me/erase/", views.EraseView.as_view(), name="me-erase"),
    path("me/email/", registration_views.EmailChangeView.as_view(), name="me-email"),
    path(
        "me/email/confirm/",
        registration_views.EmailChangeConfirmView.as_view(),
        name="me-email-confirm",
    ),
]
