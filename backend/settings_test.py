"""Test settings: the real settings module, pointed at the local PostgreSQL and Redis.

`make test` exports nothing special; these defaults match the services that `.ci/run`
starts on 127.0.0.1. Any of them can be overridden from the environment.
"""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Two test KEKs: version 2 active, version 1 still readable (rotation tests use both).
os.environ.setdefault(
    "JOURNAL_KEKS",
    "2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
)
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/afterglow")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("SECURE_COOKIES", "false")
# The test client speaks plain HTTP; production mode refuses insecure cookies without this.
os.environ.setdefault("ALLOW_INSECURE_COOKIES", "true")

from backend.settings import *  # noqa: F403
from backend.settings import REST_FRAMEWORK

SECURE_HSTS_SECONDS = 31536000
SECURE_SSL_REDIRECT = False
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "1000/min"),
}
# Anonymous account answers wait for this floor; the timing tests set the real one.
ACCOUNT_UNIFORM_RESPONSE_SECONDS = 0.0
# A problem `code` outside backend.problem_codes fails the test that answers it.
PROBLEM_CODES_STRICT = True
