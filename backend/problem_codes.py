"""Every `code` a problem document can carry, with what it means: one registry.

The OpenAPI document lists these as the enum `ProblemCode`, so a generated client can
switch over them; a client decoding enums strictly (Swift's Codable, a TypeScript union)
would fail on a value outside the list. So every raise site names a member here, a test
reads the code base for codes that are not (tests/backend/test_problem_codes.py), and the
renderer (`backend.errors.problem`) never sends an unregistered code: under the tests'
settings it raises, elsewhere it logs and sends `error`.

Pure Python on purpose: gunicorn's configuration (backend/gunicorn_conf.py) writes
problem documents before Django is loaded, and uses these codes too.
"""

from __future__ import annotations

import enum


class ProblemCode(enum.StrEnum):
    """A problem's `code`; `meaning` says when it is answered."""

    meaning: str

    def __new__(cls, value: str, meaning: str) -> ProblemCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    # Any endpoint: the request itself
    BAD_REQUEST = "bad_request", "The request could not be understood."
    UNKNOWN_PARAMETER = (
        "unknown_parameter",
        "The query string holds a parameter this operation does not take: `errors.query`.",
    )
    PARSE_ERROR = "parse_error", "The body is not valid JSON in UTF-8, or nested too deeply."
    VALIDATION = "validation", "Some fields are invalid: `errors` names each with its messages."
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", "The body is not application/json."
    NOT_ACCEPTABLE = "not_acceptable", "No answer in a media type the Accept header allows."
    PAYLOAD_TOO_LARGE = "payload_too_large", "The request body is over the size limit."
    URI_TOO_LONG = "uri_too_long", "The URL is over the web server's limit."
    HEADERS_TOO_LARGE = "headers_too_large", "The headers are over the web server's limit."
    EXPECTATION_FAILED = "expectation_failed", "The Expect header cannot be met."
    NOT_IMPLEMENTED = "not_implemented", "The method or transfer encoding is not supported."
    METHOD_NOT_ALLOWED = "method_not_allowed", "This method is not allowed on this path."
    NOT_FOUND = "not_found", "Nothing at this address, or it is not yours."
    DISALLOWED_HOST = "disallowed_host", "The Host header names a host this service is not."
    CSRF_FAILED = "csrf_failed", "A browser form was sent without its CSRF token."
    THROTTLED = "throttled", "Too many requests: wait `retry_after_seconds`."

    # Who is asking
    NOT_AUTHENTICATED = "not_authenticated", "No token was sent: sign in."
    AUTHENTICATION_FAILED = "authentication_failed", "The token is invalid or expired."
    INVALID_CREDENTIALS = "invalid_credentials", "The email or password is not correct."
    PERMISSION_DENIED = "permission_denied", "Signed in, but this is not for your role."
    SECOND_FACTOR_REQUIRED = "second_factor_required", "Sign in with your authenticator code."
    LOCKED_OUT = "locked_out", "Too many failed sign-ins: wait `retry_after_seconds`."
    ACCOUNT_INACTIVE = "account_inactive", "The account is switched off."
    ACCOUNT_ERASED = "account_erased", "The account was erased and cannot come back."
    EMAIL_NOT_VERIFIED = "email_not_verified", "Confirm the address with the e-mailed code."

    # Accounts
    EMAIL_UNAVAILABLE = "email_unavailable", "The address cannot be used for an account."
    INVALID_PASSWORD = "invalid_password", "The current password is not correct."
    PASSWORD_TOO_WEAK = "password_too_weak", "The new password breaks a password rule."
    INVALID_CODE = "invalid_code", "The e-mailed code is not correct."
    CODE_EXPIRED = "code_expired", "The e-mailed code has expired: ask for a new one."
    TOO_MANY_ATTEMPTS = "too_many_attempts", "The e-mailed code was tried too often."
    INVALID_ENROLMENT_CODE = "invalid_enrolment_code", "The therapist enrolment code is wrong."
    ENROLMENT_NOT_STARTED = "enrolment_not_started", "Start the authenticator enrolment first."
    INVALID_OTP = "invalid_otp", "The authenticator code is not correct."
    NOT_A_THERAPIST = "not_a_therapist", "Only a therapist has a second factor."

    # The journal's records
    ID_CONFLICT = "id_conflict", "The client id is taken by a different record."
    GONE = "gone", "The record was deleted: `deleted_at`, and its tombstone's version in `version`."
    IDEMPOTENCY_KEY_REUSED = (
        "idempotency_key_reused",
        "This Idempotency-Key made something else: `current` is what it made.",
    )
    IDEMPOTENCY_KEY_IN_USE = (
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still running: send it again after Retry-After.",
    )
    CONFLICT = "conflict", "The request conflicts with the resource's current state."
    PRECONDITION_REQUIRED = "precondition_required", "Send If-Match (or `version`) to change it."
    PRECONDITION_FAILED = "precondition_failed", "The If-Match precondition did not hold."
    VERSION_CONFLICT = "version_conflict", "It changed since your version: see `current`."
    SEALED_VALUE_UNREADABLE = "sealed_value_unreadable", "A stored record could not be opened."
    RESYNC_REQUIRED = (
        "resync_required",
        "The sync cursor is not one this account's feed gave (another account's, altered, or "
        "ahead of all it gave: a restored server): drop the synced copy, sync without `since`.",
    )

    # Treatment courses
    COURSE_ACTIVE = "course_active", "You have an active course: end it before starting another."
    COURSE_ENDED = "course_ended", "The course has ended: it no longer changes."
    COURSE_NOT_EXTENDABLE = "course_not_extendable", "The course's template has no maintenance."
    SESSION_NOT_SCHEDULED = (
        "session_not_scheduled",
        "Only a scheduled session of the course moves or is skipped.",
    )

    # The private calendar feed
    CALENDAR_FEED_ENABLED = (
        "calendar_feed_enabled",
        "Your calendar feed is already on: rotate it for a new URL.",
    )
    CALENDAR_FEED_DISABLED = (
        "calendar_feed_disabled",
        "Your calendar feed is off: turn it on first.",
    )

    # Prompts and timeline
    INVALID_TRANSITION = "invalid_transition", "The prompt cannot do that now: see `current`."
    NO_DEFAULT_PLAN = "no_default_plan", "No integration plan is set up yet."

    # Care links and shares
    INVALID_INVITATION_CODE = "invalid_invitation_code", "The code is wrong, used or expired."
    ALREADY_LINKED = "already_linked", "You are already linked to this therapist."
    CARE_LINK_ENDED = "care_link_ended", "The care link has ended."
    CONSENT_VERSION_OUTDATED = "consent_version_outdated", "Consent to the current text."
    SHARE_REVOKED = "share_revoked", "The share was revoked."
    AUDIT_UNAVAILABLE = "audit_unavailable", "The read could not be logged, so it is refused."

    # The service
    SERVER_ERROR = "server_error", "Something went wrong on our side; it has been logged."
    UNAVAILABLE = "unavailable", "A dependency is away for a moment: try again."
    DATABASE_UNAVAILABLE = "database_unavailable", "The database is away: try again shortly."
    KEY_RING_UNUSABLE = "key_ring_unusable", "The key ring is misconfigured (readiness only)."
    ERROR = "error", "An error without a more specific code."


_BY_VALUE: dict[str, ProblemCode] = {member.value: member for member in ProblemCode}


def problem_code(value: str) -> ProblemCode | None:
    """The member whose value is `value`, or None if the registry has no such code."""
    return _BY_VALUE.get(value)
