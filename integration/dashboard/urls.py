"""Dashboard URLs, included under /dashboard/."""

from django.urls import URLPattern, path, re_path

from integration.dashboard import views

app_name = "dashboard"

urlpatterns: list[URLPattern] = [
    path("", views.patient_list, name="patients"),
    path("sign-in/", views.sign_in, name="login"),
    path("sign-out/", views.sign_out, name="logout"),
    path("password/forgot/", views.password_forgot, name="password-forgot"),
    path("password/reset/", views.password_reset, name="password-reset"),
    path("account/", views.account, name="account"),
    path("account/password/", views.password_change, name="password-change"),
    path("account/recovery-codes/", views.recovery_codes, name="recovery-codes"),
    # Ids are taken as text: the access check answers a malformed one as it answers any
    # other refusal, with the same 404 page.
    path("shares/<str:share_id>/", views.share_detail, name="share"),
    path("shares/<str:share_id>/measures/", views.share_measures, name="share-measures"),
    path(
        "alerts/<str:alert_id>/acknowledge/",
        views.safety_alert_acknowledge,
        name="alert-acknowledge",
    ),
    path("patients/<str:patient_id>/shares/", views.share_history, name="share-history"),
    # Anything else under /dashboard/ gets the dashboard's own 404 page.
    re_path(r"^.*/$", views.not_found, name="not-found"),
]
