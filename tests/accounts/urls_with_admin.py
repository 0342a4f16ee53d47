"""The project's URLs with the Django admin on, as ADMIN_ENABLED=true gives them."""

from django.contrib import admin
from django.urls import path

from backend.urls import handler400, handler403, handler404, handler500
from backend.urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("admin/", admin.site.urls)]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
