"""Settings of the Celery workers that delivery tests start: the test settings with the
test's own queue (AFTERGLOW_TEST_QUEUE), the counting push provider (or the one named in
AFTERGLOW_TEST_PUSH_PROVIDER) and any PROMPT_*, PUSH_*, FCM_* or APNS_* values the test
passes as a JSON object in AFTERGLOW_TEST_SETTINGS."""

import json
import os

from backend.settings_test import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["AFTERGLOW_TEST_QUEUE"]
PUSH_PROVIDERS = {
    "default": os.environ.get(
        "AFTERGLOW_TEST_PUSH_PROVIDER", "tests.integration.counting_provider.CountingProvider"
    )
}
for _name, _value in json.loads(os.environ.get("AFTERGLOW_TEST_SETTINGS", "{}")).items():
    if not _name.startswith(("PROMPT_", "PUSH_", "FCM_", "APNS_")):
        raise ValueError(f"worker test settings may only set delivery values, not {_name}")
    globals()[_name] = _value
