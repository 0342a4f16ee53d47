"""Settings of the worker the account e-mail test starts: the delivery tests' worker
settings (tests/integration/worker_settings.py) sending through the test's SMTP server
(EMAIL_HOST, EMAIL_PORT from the environment)."""

import os

from tests.integration.worker_settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ["EMAIL_HOST"]
EMAIL_PORT = int(os.environ["EMAIL_PORT"])
