"""What the journal says to someone who may be at risk, in one place.

- `NOT_MONITORED_NOTICE`: carried by every response of an endpoint that accepts free text
  (the journal's sessions and entries; integration's prompt answers should reuse it), so
  nobody mistakes the journal for a service that someone watches.
- `safety_block`: sent with a PHQ-9 whose item 9 (thoughts of being better off dead or of
  self-harm) is above 0, with the crisis resources of the deployment's country.

Crisis resources are per country: `settings.CRISIS_RESOURCES` maps a country code to a
list of resources and `settings.CRISIS_COUNTRY` picks one. A check (`manage.py check`,
run by migrate) refuses a country without resources, so a deployment cannot go out with
an empty or foreign list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.db.models import TextChoices

logger = logging.getLogger(__name__)

NOT_MONITORED_NOTICE = (
    "Afterglow is a journal, not a crisis service: nobody reads it in real time. If you are "
    "in danger or thinking of harming yourself, call 988 (US) or your local emergency number."
)

SAFETY_MESSAGE = (
    "You answered that you have had thoughts that you would be better off dead or of "
    "hurting yourself. You deserve support with this now: please reach out to one of the "
    "services below, and tell your therapist or care team. If you might act on these "
    "thoughts or are in danger, call your emergency number now."
)


class SafetyReason(TextChoices):
    PHQ9_ITEM9 = "phq9_item9", "PHQ-9 item 9 above 0"


class CrisisAction(TextChoices):
    CALL = "call", "Call"
    TEXT = "text", "Text"
    CALL_OR_TEXT = "call_or_text", "Call or text"


# United States: the 988 Suicide & Crisis Lifeline (SAMHSA, 988lifeline.org: call or text
# 988), Crisis Text Line (crisistextline.org: text HOME to 741741) and 911.
DEFAULT_CRISIS_RESOURCES: Mapping[str, Sequence[Mapping[str, str]]] = {
    "US": (
        {
            "name": "988 Suicide & Crisis Lifeline",
            "action": CrisisAction.CALL_OR_TEXT.value,
            "contact": "988",
            "instructions": "Call or text 988, any time, day or night.",
        },
        {
            "name": "Crisis Text Line",
            "action": CrisisAction.TEXT.value,
            "contact": "741741",
            "instructions": "Text HOME to 741741.",
        },
        {
            "name": "Emergency services",
            "action": CrisisAction.CALL.value,
            "contact": "911",
            "instructions": "Call 911 if you are in immediate danger.",
        },
    ),
}

RESOURCE_FIELDS = ("name", "action", "contact", "instructions")


def _configured() -> tuple[str, Mapping[str, Sequence[Mapping[str, str]]]]:
    country = getattr(settings, "CRISIS_COUNTRY", "US")
    table = getattr(settings, "CRISIS_RESOURCES", DEFAULT_CRISIS_RESOURCES)
    return country, table


def crisis_resources() -> list[dict[str, str]]:
    """The configured country's crisis resources, each {name, action, contact,
    instructions}."""
    country, table = _configured()
    resources = table.get(country)
    if not resources:
        # The system check refuses this configuration; should it run anyway, say so
        # loudly rather than show another country's numbers.
        logger.error("no crisis resources configured", extra={"country": country})
        return []
    return [
        {field: str(resource.get(field, "")) for field in RESOURCE_FIELDS} for resource in resources
    ]


def safety_block(reason: SafetyReason = SafetyReason.PHQ9_ITEM9) -> dict[str, Any]:
    return {
        "reason": reason.value,
        "message": SAFETY_MESSAGE,
        "resources": crisis_resources(),
        "not_monitored": NOT_MONITORED_NOTICE,
    }


@checks.register()
def check_crisis_resources(**kwargs: Any) -> list[checks.CheckMessage]:
    """The crisis resources setting names the country in use, each resource complete."""
    country, table = _configured()
    resources = table.get(country) if isinstance(table, Mapping) else None
    if not resources:
        return [
            checks.Error(
                f"CRISIS_RESOURCES has no resources for CRISIS_COUNTRY {country!r}.",
                hint="Add the country's crisis lines, or set CRISIS_COUNTRY to one listed.",
                id="journal.E001",
            )
        ]
    errors: list[checks.CheckMessage] = []
    for index, resource in enumerate(resources):
        missing = [field for field in RESOURCE_FIELDS if not resource.get(field)]
        if missing or resource.get("action") not in CrisisAction.values:
            errors.append(
                checks.Error(
                    f"CRISIS_RESOURCES[{country!r}][{index}] needs {', '.join(RESOURCE_FIELDS)}"
                    f" with action one of {', '.join(CrisisAction.values)}.",
                    id="journal.E002",
                )
            )
    return errors
