"""Settings for Afterglow, read from the environment (see `.env.example`).

One module for every environment. `DEBUG` is false unless set; with `DEBUG` false the
service refuses to start without its secrets. In development (`DEBUG=true`) a missing
secret is generated once into `.local/` with a warning, so `make run` works on a fresh
machine.
"""

from __future__ import annotations

import base64
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Development state (SQLite file, broker folders, generated secrets), git-ignored.
LOCAL_DIR = Path(env.str("AFTERGLOW_LOCAL_DIR", default=str(BASE_DIR / ".local")))

DEBUG = env.bool("DEBUG", default=False)


def _local_secret(variable: str, file_name: str, make: str) -> str:
    """Read or create a development secret kept in `.local/` (git-ignored)."""
    path = LOCAL_DIR / file_name
    if path.exists():
        return path.read_text().strip()
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text(make)
    path.chmod(0o600)
    print(
        f"WARNING: {variable} was not set: generated a development value in {path}",
        file=sys.stderr,
    )
    return make


_missing: list[str] = []


def _required(name: str, dev_file: str, dev_value: str) -> str:
    value = str(env.str(name, default=""))
    if value:
        return value
    if DEBUG:
        return _local_secret(name, dev_file, dev_value)
    _missing.append(name)
    return ""


SECRET_KEY = _required("SECRET_KEY", "secret_key", secrets.token_urlsafe(50))

# Journal key-encryption keys: "version:base64key" items, comma-separated, newest first.
# The first one wraps new data keys; every listed one can unwrap. A file can hold the
# same list (one item per line) for secret stores that mount files.
_kek_file = env.str("JOURNAL_KEKS_FILE", default="")
if _kek_file:
    try:
        _kek_text = ",".join(
            line.strip() for line in Path(_kek_file).read_text().splitlines() if line.strip()
        )
    except OSError as error:
        raise ImproperlyConfigured(f"JOURNAL_KEKS_FILE cannot be read: {error}") from error
else:
    _kek_text = _required(
        "JOURNAL_KEKS",
        "journal_keks",
        "1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    )
JOURNAL_KEKS: list[str] = [item.strip() for item in _kek_text.split(",") if item.strip()]
# Unwrapped data keys stay in process memory (never Redis or the database) for this long.
JOURNAL_DEK_CACHE_SECONDS = env.float("JOURNAL_DEK_CACHE_SECONDS", default=300.0)
JOURNAL_DEK_CACHE_SIZE = env.int("JOURNAL_DEK_CACHE_SIZE", default=4096)
# How long a process trusts its memory of a patient's active data key version, sparing a
# query per write. After a rotation, old keys are kept at least twice this long (plus a
# minute) before re-sealing drops them. 0 turns the memory off.
JOURNAL_ACTIVE_KEY_CACHE_SECONDS = env.float("JOURNAL_ACTIVE_KEY_CACHE_SECONDS", default=60.0)
# Whether sealed values of the legacy token format (sealed before the row's version was
# bound to them) still open. On until `manage.py reseal_legacy_tokens` reports none left;
# then off, so that an old token written back into a row fails closed.
JOURNAL_ACCEPT_LEGACY_SEALS = env.bool("JOURNAL_ACCEPT_LEGACY_SEALS", default=True)

ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
elif not ALLOWED_HOSTS:
    _missing.append("ALLOWED_HOSTS")

if _missing:
    # One line naming every missing setting, then stop: a half-configured production
    # service is worse than none.
    message = "Missing required settings (DEBUG is false): " + ", ".join(_missing)
    print(message, file=sys.stderr)
    raise ImproperlyConfigured(message)

# Session and CSRF cookies carry the Secure flag outside development. Plain HTTP in
# production mode (a load or fault test on the loopback) must say so explicitly.
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=True)
ALLOW_INSECURE_COOKIES = env.bool("ALLOW_INSECURE_COOKIES", default=False)

# Secret keys that were ever printed in .env.example or the docs: anyone can read them,
# so a deployment that copied one signs its sessions with a public key.
EXAMPLE_SECRET_KEYS = frozenset(
    {
        "change-me-to-50-random-characters",
        "change-me-to-50-or-more-random-characters-before-any-deploy",
    }
)
_STRONG_KEY_ADVICE = (
    "set SECRET_KEY to 50 or more random characters, e.g. the output of "
    "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
)


def _secret_key_weakness(value: str) -> str | None:
    # Django's own rule (check --deploy, security.W009), which only warns: at least 50
    # characters, at least 5 different ones, not a generated development key.
    if value in EXAMPLE_SECRET_KEYS or value.startswith("django-insecure-"):
        return "SECRET_KEY is a published example value"
    if len(value) < 50:
        return "SECRET_KEY is shorter than 50 characters"
    if len(set(value)) < 5:
        return "SECRET_KEY has fewer than 5 different characters"
    return None


_refused: list[str] = []
if not DEBUG:
    _weakness = _secret_key_weakness(SECRET_KEY)
    if _weakness:
        _refused.append(f"{_weakness}: {_STRONG_KEY_ADVICE}")
    if not SECURE_COOKIES and not ALLOW_INSECURE_COOKIES:
        _refused.append(
            "SECURE_COOKIES is false: set SECURE_COOKIES=true behind HTTPS, or "
            "ALLOW_INSECURE_COOKIES=true for a local run over plain HTTP"
        )
if _refused:
    message = "Refusing to start (DEBUG is false): " + "; ".join(_refused)
    print(message, file=sys.stderr)
    raise ImproperlyConfigured(message)

INSTALLED_APPS = [
    # Django's admin on django-otp's admin site: a second factor for every page.
    "backend.accounts.admin_config.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Therapists' recovery codes (backend/accounts/recovery.py).
    "django_otp.plugins.otp_static",
    "axes",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "backend.accounts",
    "journal",
    "integration",
    "backend",
    "worker",
]

MIDDLEWARE = [
    "backend.middleware.RequestIdMiddleware",
    # Outside everything that can answer 404: an unknown /api/ address is a problem document.
    "backend.middleware.ApiNotFoundMiddleware",
    # Before anything asks for the host: a Host outside ALLOWED_HOSTS answers 400 here.
    "backend.middleware.AllowedHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "backend.middleware.BodySizeLimitMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The dashboard's idle and absolute session time-outs (for every request carrying a
    # dashboard session) and its Content-Security-Policy; reads the session, the user and
    # django-otp's verification, and leaves a message, so it comes after those.
    "integration.dashboard.middleware.DashboardMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backend.middleware.NoStoreMiddleware",
    "backend.middleware.ProblemExceptionMiddleware",
    # A query parameter the API view does not take answers 400 (backend/query.py).
    "backend.query.UnknownQueryParameterMiddleware",
    # Axes last, as its documentation asks: it turns lock-outs into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{LOCAL_DIR / 'afterglow.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
DATABASE_CACHE_TABLE = "afterglow_cache"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "afterglow",
            # The cache holds throttle counts only; a Redis that hangs must not hang
            # requests (throttles fail open, backend/throttling.py).
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
    }
else:
    # Without Redis the cache (throttle counts) is a table in the database, which every
    # process shares: a per-process memory would let each worker grant the full limit.
    # The table is created by a migration (backend/migrations), whatever the cache is.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": DATABASE_CACHE_TABLE,
            "KEY_PREFIX": "afterglow",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

AUTH_USER_MODEL = "accounts.User"
KNOX_TOKEN_MODEL = "accounts.DeviceToken"  # noqa: S105 (a model name)

AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out (email, address) pair before any password check.
    "axes.backends.AxesStandaloneBackend",
    # Django's password check, which also notes a right password for a deactivated account.
    "backend.accounts.backends.AccountBackend",
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = LOCAL_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Security headers. HSTS only outside development, where the service sits behind TLS.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = 0 if DEBUG else env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG and SECURE_COOKIES
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# CORS is closed unless origins are listed.
CORS_ALLOWED_ORIGINS: list[str] = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_EXPOSE_HEADERS = ["ETag", "X-Request-ID", "Retry-After"]

# Request bodies above this size answer 413 before any view reads them.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backend.accounts.authentication.DeviceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "backend.accounts.permissions.IsAuthenticatedWithSecondFactor",
    ],
    "DEFAULT_PARSER_CLASSES": ["backend.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backend.errors.problem_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("THROTTLE_LOGIN", default="10/min"),
        "register": env.str("THROTTLE_REGISTER", default="5/min"),
        "otp": env.str("THROTTLE_OTP", default="10/min"),
        # Accounts: e-mails and codes per network and per e-mail address; passwords typed.
        "account_email": env.str("THROTTLE_ACCOUNT_EMAIL", default="30/hour"),
        "account_email_address": env.str("THROTTLE_ACCOUNT_EMAIL_ADDRESS", default="5/hour"),
        "account_code": env.str("THROTTLE_ACCOUNT_CODE", default="30/hour"),
        "account_code_address": env.str("THROTTLE_ACCOUNT_CODE_ADDRESS", default="20/hour"),
        "password": env.str("THROTTLE_PASSWORD", default="10/hour"),
        # Reads of a calendar feed: per URL (a calendar app polls about hourly), and per
        # network address (generous: one calendar service fetches many patients' feeds).
        "calendar_feed": env.str("THROTTLE_CALENDAR_FEED", default="60/hour"),
        "calendar_feed_address": env.str("THROTTLE_CALENDAR_FEED_ADDRESS", default="1200/hour"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # One date-time form in every answer: UTC, whole seconds, `Z` (what Swift's and most
    # generated clients' ISO 8601 decoders read without options).
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
    # JSON only: `?format=` is left to the views that use it (the export).
    "URL_FORMAT_OVERRIDE": None,
}

# API tokens: one per device, stored as a hash, expiring after a time unused; each use
# moves it back. Patients: no fixed end; therapists: a short idle time and a fixed end
# (backend/accounts/lifetimes.py says why).
PATIENT_TOKEN_IDLE_DAYS = env.int("PATIENT_TOKEN_IDLE_DAYS", default=30)
THERAPIST_TOKEN_IDLE_HOURS = env.int("THERAPIST_TOKEN_IDLE_HOURS", default=12)
THERAPIST_TOKEN_MAX_DAYS = env.int("THERAPIST_TOKEN_MAX_DAYS", default=7)
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=THERAPIST_TOKEN_IDLE_HOURS),  # without a user: the short one
    "AUTO_REFRESH": True,
    "AUTO_REFRESH_MAX_TTL": None,  # per role, in DeviceTokenAuthentication.renew_token
    "MIN_REFRESH_INTERVAL": 60,
    "TOKEN_LIMIT_PER_USER": 20,
    "AUTH_HEADER_PREFIX": "Token",
}

# Sign-in lock-out: keyed on (email, address) together so nobody can lock a therapist out
# from elsewhere; the address is taken from X-Forwarded-For only behind known proxies.
# The account is read from `email` (API, dashboard) or `username` (the admin's form) alike,
# log lines name it by a keyed digest, and a lock-out that reaches axes' middleware (the
# admin) answers a problem document (backend/accounts/lockout.py).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "backend.accounts.lockout.lockout_username"
AXES_CLIENT_STR_CALLABLE = "backend.accounts.lockout.lockout_log_client"
AXES_LOCKOUT_CALLABLE = "backend.accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = env.int("NUM_PROXIES", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
    if env.int("NUM_PROXIES", default=0)
    else ["REMOTE_ADDR"]
)
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False
# Masked in the attempts axes stores (the admin's form posts `otp_token`).
AXES_SENSITIVE_PARAMETERS = ["password", "otp", "code", "otp_token", "csrfmiddlewaretoken"]

OTP_TOTP_ISSUER = "Afterglow"

# Sessions are used by the therapists' web dashboard.
SESSION_COOKIE_AGE = 12 * 60 * 60

# The OpenAPI document: names, servers, enum names and the post-processing hooks.
from backend.settings_openapi import *  # noqa: E402, F403

# Celery. With no REDIS_URL or CELERY_BROKER_URL, kombu's filesystem transport under
# .local/ carries messages, so development needs no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
BROKER_DIR = LOCAL_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange tables; kombu's default is a folder in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Longer than any countdown we use, so Redis never redelivers a waiting task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(LOCAL_DIR / "celerybeat-schedule")

# Logging: one JSON object a line, with the request id. Request bodies and tokens are
# never logged: nothing here logs them, and the filter drops the request object that
# Django attaches to some records. An e-mail address that reaches a record anyway is
# replaced by its keyed digest on the way out (backend.logging.AddressRedactingFilter).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "backend.logging.RequestIdFilter"},
        "addresses": {"()": "backend.logging.AddressRedactingFilter"},
    },
    "formatters": {
        "json": {
            "()": "backend.logging.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id", "addresses"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # Django logs each 4xx/5xx answer with the raw path (and, for a 500, the
        # exception's message, which can quote a value). The access line
        # (backend.middleware) and `afterglow.errors` log the same events without either.
        "django.request": {"level": "CRITICAL"},
        "axes": {"level": "WARNING"},
        # httpx logs each request's URL at INFO: that would put APNs device tokens and
        # Web Push endpoints in the logs; hpack logs headers (bearer tokens) at DEBUG.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "hpack": {"level": "WARNING"},
        "h2": {"level": "WARNING"},
    },
}

# The Django admin is off unless an operator turns it on; when on, staff sign in with a
# password and a TOTP code (backend/accounts/admin_site.py).
ADMIN_ENABLED = env.bool("ADMIN_ENABLED", default=False)
DASHBOARD_URL = "/dashboard/"
CSRF_FAILURE_VIEW = "backend.errors.csrf_failure"
# Error reports (the DEBUG page, error e-mails) hide keys, key-like settings, URL
# passwords, request parameters and local variables, in every mode.
DEFAULT_EXCEPTION_REPORTER_FILTER = "backend.error_reports.SafeReporterFilter"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# /readyz runs these besides its database and broker checks: name -> a callable that
# raises when the service cannot work. A failure answers 503 with code `<name>_unusable`.
READINESS_CHECKS: dict[str, str] = {"key_ring": "journal.checks.key_ring_ready"}

# Called with user= inside the erasure transaction of DELETE /api/v1/me/.
ACCOUNT_ERASURE_HOOKS = [
    "journal.keys.patient_data_keys_destroy",
    # Measure totals, bands and dates are not sealed: crypto-shredding alone would leave them.
    "journal.measures.services.measures_erase",
    "integration.delivery.devices.devices_erase",
    "integration.calendar_feed.services.calendar_feed_erase",
    "integration.care.links.care_links_erase",
]
# A sign-in and its push registration are one device: called with user=, token_digests=,
# every_sign_in= as sign-ins end, and with user=, token_digests= for the devices list.
ACCOUNT_SIGN_OUT_HOOKS = [
    "integration.delivery.devices.devices_retire_for_sign_out",
    "integration.calendar_feed.services.calendar_feed_disable_for_sign_out",
]
ACCOUNT_DEVICE_PUSH_HOOKS = ["integration.delivery.selectors.push_state_for_sign_ins"]

# Push delivery: providers, credentials, in-flight limits.
from backend.settings_push import *  # noqa: E402, F403

# knox's own token table is swapped out for accounts.DeviceToken (KNOX_TOKEN_MODEL); its
# migrations would still create the unused table, so they are switched off.
MIGRATION_MODULES = {"knox": None}

# Called with session= inside the transaction that creates, moves, cancels or deletes a
# treatment session: the timeline rewrites the session's prompts with it.
JOURNAL_SESSION_HOOKS = ["integration.prompts.planning.prompts_sync_for_session"]
PROMPT_POST_DOSING_QUIET_HOURS = env.int("PROMPT_POST_DOSING_QUIET_HOURS", default=6)
# Called with patient= in the transaction that changes a patient's time zone.
ACCOUNT_TIME_ZONE_HOOKS = ["integration.prompts.planning.prompts_sync_for_patient"]

# The private calendar feed: the public base of its URLs.
from backend.settings_calendar import *  # noqa: E402, F403

# Safety that fits the patient: crisis lines, the clinic's line, consent text versions.
from backend.settings_safety import *  # noqa: E402, F403

# Called as hook(measure=...) inside the transaction that stores a PHQ-9 with item 9 > 0:
# an alert row for each linked therapist the patient allowed, e-mailed by the worker.
JOURNAL_SAFETY_HOOKS: list[str] = ["integration.care.alerts.safety_alerts_create"]

# E-mail (account codes and notices, safety alerts), sent by the worker; printed to the
# worker's output in development.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "backend.mail.ConsoleEmailBackend"
        if DEBUG
        else "django.core.mail.backends.smtp.EmailBackend"
    ),
)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(LOCAL_DIR / "mail"))
# SMTP, addresses and the codes sent by e-mail.
from backend.settings_idempotency import *  # noqa: E402, F403
from backend.settings_mail import *  # noqa: E402, F403
from backend.settings_sync import *  # noqa: E402, F403

# Prompt delivery: the beat dispatcher claims due prompts in batches with a lease.
PROMPT_DISPATCH_INTERVAL_SECONDS = env.int("PROMPT_DISPATCH_INTERVAL_SECONDS", default=60)
PROMPT_DISPATCH_BATCH_SIZE = env.int("PROMPT_DISPATCH_BATCH_SIZE", default=400)
# At most this many batches a tick (10,000 prompts with the defaults).
PROMPT_DISPATCH_MAX_BATCHES = env.int("PROMPT_DISPATCH_MAX_BATCHES", default=50)
# Longer than the slowest single prompt's sends; a claim older than this is taken back.
PROMPT_LEASE_SECONDS = env.int("PROMPT_LEASE_SECONDS", default=120)
PROMPT_MAX_ATTEMPTS = env.int("PROMPT_MAX_ATTEMPTS", default=5)
PROMPT_RETRY_BASE_SECONDS = env.int("PROMPT_RETRY_BASE_SECONDS", default=60)
PROMPT_RETRY_CAP_SECONDS = env.int("PROMPT_RETRY_CAP_SECONDS", default=1800)
# A batch's outcomes are written when it has answered, or this long after the first one.
PROMPT_RECORD_INTERVAL_SECONDS = env.float("PROMPT_RECORD_INTERVAL_SECONDS", default=0.25)
CELERY_BEAT_SCHEDULE = {
    "prompts-dispatch": {
        "task": "afterglow.integration.dispatch",
        "schedule": float(PROMPT_DISPATCH_INTERVAL_SECONDS),
        # A tick that waited longer than the interval is pointless: the next one comes.
        "options": {"expires": PROMPT_DISPATCH_INTERVAL_SECONDS * 0.9},
    },
    "prompts-expire": {
        "task": "afterglow.integration.expire_prompts",
        "schedule": 300.0,
        "options": {"expires": 270},
    },
    # Safety alerts go at once after commit; this sweep retries and catches lost messages.
    "safety-alerts": {
        "task": "afterglow.integration.deliver_safety_alerts_due",
        "schedule": 60.0,
        "options": {"expires": 54},
    },
    # Registrations never confirmed free their address; expired codes go.
    "accounts-purge": {"task": "afterglow.accounts.purge_unconfirmed", "schedule": 3600.0},
    "idempotency-purge": {"task": "afterglow.backend.purge_idempotency_keys", "schedule": 3600.0},
}
