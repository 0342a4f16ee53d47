"""Push delivery settings: providers, their credentials and how much each may have in flight.

Star-imported by backend.settings.
"""

import environ

env = environ.Env()

__all__ = [
    "APNS_BASE_URL",
    "APNS_KEY_FILE",
    "APNS_KEY_ID",
    "APNS_MAX_IN_FLIGHT",
    "APNS_TEAM_ID",
    "APNS_TOPIC",
    "FCM_BASE_URL",
    "FCM_CREDENTIALS_FILE",
    "FCM_MAX_IN_FLIGHT",
    "FCM_PROJECT_ID",
    "PUSH_MAX_IN_FLIGHT",
    "PUSH_PROVIDERS",
    "PUSH_TIMEOUT_SECONDS",
    "PUSH_TTL_MIN_SECONDS",
    "PUSH_TTL_SECONDS",
    "VAPID_PRIVATE_KEY",
    "VAPID_SUBJECT",
    "WEBPUSH_ALLOWED_HOSTS",
    "WEBPUSH_MAX_IN_FLIGHT_PER_HOST",
]

# Push delivery. A platform without its own provider uses the default (the console).
_push_default = env.str(
    "PUSH_PROVIDER_DEFAULT", default="integration.providers.console.ConsoleProvider"
)
PUSH_PROVIDERS: dict[str, str] = {"default": _push_default} | {
    platform: path
    for platform, path in (
        ("android", env.str("PUSH_PROVIDER_ANDROID", default="")),
        ("ios", env.str("PUSH_PROVIDER_IOS", default="")),
        ("web", env.str("PUSH_PROVIDER_WEB", default="")),
    )
    if path
}
PUSH_TIMEOUT_SECONDS = env.float("PUSH_TIMEOUT_SECONDS", default=10.0)
PUSH_TTL_SECONDS = env.int("PUSH_TTL_SECONDS", default=24 * 60 * 60)
# A prompt push lives while its prompt can be answered, capped by PUSH_TTL_SECONDS and at
# least this long (a push sent moments before its prompt expires).
PUSH_TTL_MIN_SECONDS = env.int("PUSH_TTL_MIN_SECONDS", default=60)
# Pushes in flight per worker process, and per provider (Web Push: per push service).
PUSH_MAX_IN_FLIGHT = env.int("PUSH_MAX_IN_FLIGHT", default=200)
FCM_MAX_IN_FLIGHT = env.int("FCM_MAX_IN_FLIGHT", default=200)
APNS_MAX_IN_FLIGHT = env.int("APNS_MAX_IN_FLIGHT", default=200)
WEBPUSH_MAX_IN_FLIGHT_PER_HOST = env.int("WEBPUSH_MAX_IN_FLIGHT_PER_HOST", default=8)
FCM_CREDENTIALS_FILE = env.str("FCM_CREDENTIALS_FILE", default="")
FCM_PROJECT_ID = env.str("FCM_PROJECT_ID", default="")  # empty: project_id from the file
FCM_BASE_URL = env.str("FCM_BASE_URL", default="https://fcm.googleapis.com")
APNS_KEY_FILE = env.str("APNS_KEY_FILE", default="")
APNS_KEY_ID = env.str("APNS_KEY_ID", default="")
APNS_TEAM_ID = env.str("APNS_TEAM_ID", default="")
APNS_TOPIC = env.str("APNS_TOPIC", default="")
APNS_BASE_URL = env.str("APNS_BASE_URL", default="https://api.push.apple.com")
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", default="")  # file path, PEM, or base64url
VAPID_SUBJECT = env.str("VAPID_SUBJECT", default="")
WEBPUSH_ALLOWED_HOSTS: list[str] = env.list(
    "WEBPUSH_ALLOWED_HOSTS",
    default=[
        *("fcm.googleapis.com", "updates.push.services.mozilla.com"),
        *("web.push.apple.com", "*.notify.windows.com"),
    ],
)
