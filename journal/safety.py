"""What the journal says to someone who may be at risk, in one place, for where they live.

- `not_monitored_notice(country=...)`: carried by every response of an endpoint that
  accepts free text (the journal's sessions and entries; integration's prompt answers), so
  nobody mistakes the journal for a service that someone watches. It names the clinic's
  after-hours line, a crisis line and the emergency number of the patient's country.
- `safety_block(country=...)`: sent with a PHQ-9 whose item 9 (thoughts of being better
  off dead or of self-harm) is above 0: the clinic's line first, then the country's lines.

The country is the patient's own (`User.country`), never a server-wide one: a patient in
Berlin is shown 112 and TelefonSeelsorge, not 988. The lines are data
(`journal.crisis`). Without a country, or for one the file does not cover, both say
plainly to call the local emergency number.
"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.db.models import TextChoices

from backend.accounts.countries import country_name
from journal.crisis import (
    CrisisAction,
    CrisisDataError,
    CrisisKind,
    CrisisLine,
    clinic_line,
    country_lines,
    crisis_file,
    load_crisis_file,
)

NOT_MONITORED_LEAD = (
    "Afterglow is a journal, not a crisis service: nobody reads it in real time. If you are "
    "in danger or thinking of harming yourself, "
)

SAFETY_MESSAGE = (
    "You answered that you have had thoughts that you would be better off dead or of "
    "hurting yourself. You deserve support with this now: please reach out to one of the "
    "services below, and tell your therapist or care team. If you might act on these "
    "thoughts or are in danger, call your emergency number now."
)

FALLBACK_MESSAGE = (
    "We have no checked list of crisis lines for where you live. If you are in danger or "
    "might act on these thoughts, call your local emergency number now."
)
SET_COUNTRY_HINT = " Set your country in your profile to see the crisis lines where you live."


class SafetyReason(TextChoices):
    PHQ9_ITEM9 = "phq9_item9", "PHQ-9 item 9 above 0"


def _lines(country: str | None) -> tuple[CrisisLine | None, tuple[CrisisLine, ...]]:
    return clinic_line(), country_lines(country)


def crisis_resources(*, country: str | None) -> list[dict[str, Any]]:
    """The lines to show, in order: the clinic's after-hours line (when set), then the
    country's crisis lines and emergency number. Empty when neither is known."""
    clinic, lines = _lines(country)
    shown = ([clinic] if clinic else []) + list(lines)
    return [line.as_dict() for line in shown]


def _first(lines: tuple[CrisisLine, ...], kind: str) -> CrisisLine | None:
    # A line one can call first: someone in danger may not be able to type.
    candidates = [line for line in lines if line.kind == kind]
    callable_ = [line for line in candidates if line.action != CrisisAction.TEXT]
    chosen = callable_ or candidates
    return chosen[0] if chosen else None


def not_monitored_notice(*, country: str | None) -> str:
    """The notice for a patient of this country: their clinic's line, a crisis line and
    the emergency number, or plainly their local emergency number."""
    clinic, lines = _lines(country)
    crisis, emergency = _first(lines, CrisisKind.CRISIS_LINE), _first(lines, CrisisKind.EMERGENCY)
    shown = [line for line in (clinic, crisis) if line is not None]
    to_call = [
        f"{line.name} ({line.contact})" for line in shown if line.action != CrisisAction.TEXT
    ]
    # A line one can only text is named with how to text it, never as one to call.
    to_text = [f"{line.reach} ({line.name})" for line in shown if line.action == CrisisAction.TEXT]
    ways = ([f"call {' or '.join(to_call)}"] if to_call else []) + to_text
    if emergency is not None:
        reach = f"{' or '.join(ways)}, or {emergency.contact} in an emergency."
        if not ways:
            reach = f"call {emergency.contact}."
    elif ways:
        reach = f"{' or '.join(ways)}, or your local emergency number."
    else:
        reach = "call your local emergency number."
    return NOT_MONITORED_LEAD + reach


def safety_block(
    reason: SafetyReason = SafetyReason.PHQ9_ITEM9, *, country: str | None
) -> dict[str, Any]:
    """The safety response for a patient of this country (their `User.country`)."""
    covered = bool(country_lines(country))
    fallback = None
    if not covered:
        fallback = FALLBACK_MESSAGE + ("" if country else SET_COUNTRY_HINT)
    return {
        "reason": reason.value,
        "message": SAFETY_MESSAGE,
        "country": country or None,
        "country_name": country_name(country) if country else None,
        "resources": crisis_resources(country=country),
        "fallback": fallback,
        "not_monitored": not_monitored_notice(country=country),
    }


@checks.register()
def check_crisis_resources(**kwargs: Any) -> list[checks.CheckMessage]:
    """The crisis lines file can be read and every line in it keeps the rules."""
    path = crisis_file()
    try:
        load_crisis_file(path)
    except CrisisDataError as error:
        return [
            checks.Error(
                f"The crisis lines file cannot be used: {error}.",
                hint="Fix it (docs/operations.md, 'Crisis resources'), or unset "
                "CRISIS_RESOURCES_FILE to use the shipped file.",
                id="journal.E001",
            )
        ]
    return []
