"""Settings of safety that fits the patient, star-imported by backend/settings.py (which is
at its size limit): the crisis lines file, the clinic's after-hours line, the versions of
the texts a person agrees to, and the export hook for consents. Every variable is in
.env.example; a bad value stops the process with one line saying what to set.
"""

from __future__ import annotations

import re

import environ
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "CLINIC_AFTER_HOURS_HOURS",
    "CLINIC_AFTER_HOURS_NAME",
    "CLINIC_AFTER_HOURS_NUMBER",
    "CRISIS_RESOURCES_FILE",
    "JOURNAL_EXPORT_CONSENT_HOOKS",
    "SAFETY_ALERT_CONSENT_VERSION",
    "TERMS_VERSION",
]

# backend/settings.py has read .env into the environment before importing this module.
_env = environ.Env()

# The crisis lines of each country are data, each checked against a public source
# (journal/crisis_resources.toml, or the file this names); the patient's own country
# (accounts.User.country) picks them, with a plain fallback without one.
CRISIS_RESOURCES_FILE = _env.str("CRISIS_RESOURCES_FILE", default="")

# The clinic's own after-hours line, shown first in every safety block and in the
# not-monitored notice: patients in a course are told to call their clinic.
CLINIC_AFTER_HOURS_NUMBER = _env.str("CLINIC_AFTER_HOURS_NUMBER", default="").strip()
CLINIC_AFTER_HOURS_NAME = _env.str(
    "CLINIC_AFTER_HOURS_NAME", default="Your clinic's after-hours line"
).strip()
CLINIC_AFTER_HOURS_HOURS = _env.str("CLINIC_AFTER_HOURS_HOURS", default="").strip()
if CLINIC_AFTER_HOURS_NUMBER and not re.fullmatch(
    r"\+?[0-9][0-9 ()./-]{1,30}", CLINIC_AFTER_HOURS_NUMBER
):
    raise ImproperlyConfigured(
        "CLINIC_AFTER_HOURS_NUMBER must be a phone number: digits, spaces, ( ) . / - and a "
        "leading +."
    )

# The versions of the texts a person agrees to: raise one whenever its text changes. A
# patient is then asked to accept the new terms (/me/), and consent to safety alerts is
# recorded with the version it was given under.
TERMS_VERSION = _env.str("TERMS_VERSION", default="1").strip()
SAFETY_ALERT_CONSENT_VERSION = _env.str("SAFETY_ALERT_CONSENT_VERSION", default="1").strip()
for _name, _version in (
    ("TERMS_VERSION", TERMS_VERSION),
    ("SAFETY_ALERT_CONSENT_VERSION", SAFETY_ALERT_CONSENT_VERSION),
):
    if not 0 < len(_version) <= 32:
        raise ImproperlyConfigured(f"{_name} must be 1 to 32 characters.")

# Called as hook(patient=...) by the FHIR export: consents the apps above the journal
# record (each decision about safety alerts on a care link), as journal ConsentRecords.
JOURNAL_EXPORT_CONSENT_HOOKS: list[str] = [
    "integration.care.selectors.safety_alert_consents_for_export"
]
