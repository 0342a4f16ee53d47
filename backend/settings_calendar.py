"""The private calendar feed's settings. Star-imported by backend.settings."""

import environ

env = environ.Env()

__all__ = ["CALENDAR_FEED_BASE_URL"]

# The public address the feed URLs given to patients start with (scheme and host, e.g.
# "https://api.afterglow.example"), for a service behind a proxy that rewrites the host.
# Empty: the address the request to turn the feed on came to (a host in ALLOWED_HOSTS).
CALENDAR_FEED_BASE_URL = env.str("CALENDAR_FEED_BASE_URL", default="").rstrip("/")
