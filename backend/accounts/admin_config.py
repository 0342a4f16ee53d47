"""Django's admin app, with our site as the default one (INSTALLED_APPS names this class).

A module of its own: Django picks an app's configuration from its `apps.py` by looking
for the one default AppConfig there, and this one must not compete with AccountsConfig.
"""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """Every admin page needs a second factor (backend/accounts/admin_site.py). The site is
    named by a string, so that importing this module loads no models."""

    default_site = "backend.accounts.admin_site.AdminSite"
