"""Settings of the worker the safety-alert end-to-end test starts: the delivery tests'
worker settings (tests/integration/worker_settings.py), with the e-mail backend, its
directory and the sender from the environment (EMAIL_BACKEND, EMAIL_FILE_PATH,
DEFAULT_FROM_EMAIL), as the test passes them."""

import os

from tests.integration.worker_settings import *  # noqa: F403

EMAIL_BACKEND = os.environ["EMAIL_BACKEND"]
EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = os.environ["DEFAULT_FROM_EMAIL"]
