"""Top-level URLs: the versioned API, the OpenAPI schema and docs, health, the therapists'
dashboard, admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from backend.health import HealthView, ReadyView

urlpatterns = [
    path("healthz", HealthView.as_view(), name="healthz"),
    path("readyz", ReadyView.as_view(), name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/v1/", include("backend.accounts.urls")),
    path("api/v1/", include("journal.urls")),
    path("api/v1/", include("integration.urls")),
    path("dashboard/", include("integration.dashboard.urls")),
]

if settings.ADMIN_ENABLED:
    urlpatterns.append(path("admin/", admin.site.urls))

handler400 = "backend.errors.handler400"
handler403 = "backend.errors.handler403"
handler404 = "backend.errors.handler404"
handler500 = "backend.errors.handler500"
