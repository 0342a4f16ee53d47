"""Idempotency-Key settings (backend/idempotency.py).

Star-imported by backend.settings.
"""

import environ

env = environ.Env()

__all__ = ["IDEMPOTENCY_KEY_TTL_HOURS", "IDEMPOTENCY_WAIT_SECONDS"]

# How long a key answers its first result. A phone retries within minutes or, offline, a
# day at most; the IETF httpapi draft suggests at least 24 hours.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# A repeat that arrives while the first request is still running waits this long for it
# (then answers its result), and past it answers 409 `idempotency_key_in_use`.
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=10.0)
