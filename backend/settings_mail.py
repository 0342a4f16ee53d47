"""E-mail settings, star-imported by backend/settings.py (which is at its size limit): the
SMTP connection, the sender, and the codes sent by e-mail (the backend is chosen in
settings.py, from DEBUG). Every variable is in .env.example."""

from __future__ import annotations

import environ

__all__ = [
    "ACCOUNT_CODE_MAX_ATTEMPTS",
    "ACCOUNT_CODE_TTL_MINUTES",
    "ACCOUNT_UNIFORM_RESPONSE_SECONDS",
    "DASHBOARD_PUBLIC_URL",
    "DEFAULT_FROM_EMAIL",
    "EMAIL_HOST",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_HOST_USER",
    "EMAIL_PORT",
    "EMAIL_TIMEOUT",
    "EMAIL_USE_SSL",
    "EMAIL_USE_TLS",
]

env = environ.Env()

EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)  # STARTTLS (port 587)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)  # TLS from the start (port 465)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Afterglow <no-reply@localhost>")
# Where the web pages are, for links in e-mails (the dashboard, the password reset page).
DASHBOARD_PUBLIC_URL = env.str("DASHBOARD_PUBLIC_URL", default="")
# Codes sent by e-mail (backend/accounts/codes.py): lifetime and wrong tries per code.
ACCOUNT_CODE_TTL_MINUTES = env.int("ACCOUNT_CODE_TTL_MINUTES", default=30)
ACCOUNT_CODE_MAX_ATTEMPTS = env.int("ACCOUNT_CODE_MAX_ATTEMPTS", default=5)
# Answers to requests naming an address take at least this long (accounts/uniform.py).
ACCOUNT_UNIFORM_RESPONSE_SECONDS = env.float("ACCOUNT_UNIFORM_RESPONSE_SECONDS", default=0.5)
