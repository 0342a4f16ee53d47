"""Crisis lines as data: the per-country file, checked on load, and the clinic's own line.

The lines live in one TOML file (`journal/crisis_resources.toml`, or the one
`settings.CRISIS_RESOURCES_FILE` names): for each country (ISO 3166-1 alpha-2) its
emergency number and crisis lines, each with the public source it was checked against and
the date of that check. A wrong number in a crisis is worse than none, so a file with any
line that breaks the rules below is refused whole: `manage.py check` (run by migrate)
fails on it with the place of the fault, and a process that loads it anyway logs an error
and shows every patient the plain fallback rather than part of a list.

The clinic's after-hours line (`settings.CLINIC_AFTER_HOURS_NUMBER`, with its name and
hours) is shown first wherever the lines are shown.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import TextChoices

from backend.accounts.countries import is_country_code

logger = logging.getLogger(__name__)

DEFAULT_FILE = Path(__file__).with_name("crisis_resources.toml")


class CrisisAction(TextChoices):
    CALL = "call", "Call"
    TEXT = "text", "Text"
    CALL_OR_TEXT = "call_or_text", "Call or text"


class CrisisKind(TextChoices):
    CLINIC = "clinic", "The clinic's after-hours line"
    EMERGENCY = "emergency", "Emergency services"
    CRISIS_LINE = "crisis_line", "A suicide or crisis line"


REQUIRED_FIELDS = ("kind", "name", "action", "contact", "source", "checked")
OPTIONAL_FIELDS = ("keyword", "hours", "note")
# As dialled locally, spaces and dashes as the service publishes them ("0800 111 0 111").
CONTACT_PATTERN = re.compile(r"[0-9](?:[0-9 -]{0,18}[0-9])?")
KEYWORD_PATTERN = re.compile(r"[A-Za-z0-9]{1,20}")
MAX_TEXT = 200


class CrisisDataError(ValueError):
    """The crisis lines file breaks a rule; the message names the place."""


@dataclass(frozen=True)
class CrisisLine:
    kind: str
    name: str
    action: str
    contact: str
    keyword: str | None = None
    hours: str | None = None
    note: str | None = None
    source: str | None = None  # None only for the clinic's own line (a setting)
    checked: dt.date | None = None

    @property
    def reach(self) -> str:
        """How to reach it, in a few words: "call 112", "text HOME to 741741"."""
        if self.action == CrisisAction.TEXT:
            return (
                f"text {self.keyword} to {self.contact}" if self.keyword else f"text {self.contact}"
            )
        if self.action == CrisisAction.CALL_OR_TEXT:
            if self.keyword:
                return f"call {self.contact} or text {self.keyword} to {self.contact}"
            return f"call or text {self.contact}"
        return f"call {self.contact}"

    @property
    def instructions(self) -> str:
        """What to do, in a sentence or two, with the hours where they are limited."""
        reach = self.reach[0].upper() + self.reach[1:]
        if self.kind == CrisisKind.EMERGENCY:
            sentence = f"{reach} if you are in immediate danger."
        elif self.hours:
            sentence = f"{reach} ({self.hours})."
        elif self.kind == CrisisKind.CLINIC:
            sentence = f"{reach}."
        else:
            sentence = f"{reach}, any time, day or night."
        return f"{sentence} {self.note}" if self.note else sentence

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "contact": self.contact,
            "keyword": self.keyword,
            "hours": self.hours,
            "instructions": self.instructions,
            "source": self.source,
            "checked_on": self.checked.isoformat() if self.checked else None,
        }


def _text(value: Any, where: str, *, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise CrisisDataError(f"{where}: a non-empty text of at most {MAX_TEXT} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise CrisisDataError(f"{where}: not in the expected form ({pattern.pattern})")
    return value


def _line(raw: Any, where: str, *, today: dt.date) -> CrisisLine:
    if not isinstance(raw, Mapping):
        raise CrisisDataError(f"{where}: a table of {', '.join(REQUIRED_FIELDS)}")
    unknown = set(raw) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS)
    missing = [field for field in REQUIRED_FIELDS if field not in raw]
    if unknown or missing:
        raise CrisisDataError(
            f"{where}: missing {', '.join(missing) or 'nothing'}; unknown "
            f"{', '.join(sorted(unknown)) or 'nothing'}"
        )
    kind, action = raw["kind"], raw["action"]
    if kind not in (CrisisKind.EMERGENCY, CrisisKind.CRISIS_LINE):
        raise CrisisDataError(f"{where}.kind: emergency or crisis_line")
    if action not in CrisisAction.values:
        raise CrisisDataError(f"{where}.action: one of {', '.join(CrisisAction.values)}")
    source = _text(raw["source"], f"{where}.source")
    if not source.startswith("https://"):
        raise CrisisDataError(f"{where}.source: the https:// address of the page checked")
    checked = raw["checked"]
    # A TOML date (2026-12-07) loads as a date; a date-time or a string is not one.
    if not isinstance(checked, dt.date) or isinstance(checked, dt.datetime) or checked > today:
        raise CrisisDataError(f"{where}.checked: the date of the check, not in the future")
    keyword = raw.get("keyword")
    if keyword is not None:
        if action == CrisisAction.CALL:
            raise CrisisDataError(f"{where}.keyword: only for lines one can text")
        _text(keyword, f"{where}.keyword", pattern=KEYWORD_PATTERN)
    return CrisisLine(
        kind=kind,
        name=_text(raw["name"], f"{where}.name"),
        action=action,
        contact=_text(raw["contact"], f"{where}.contact", pattern=CONTACT_PATTERN),
        keyword=keyword,
        hours=_text(raw["hours"], f"{where}.hours") if "hours" in raw else None,
        note=_text(raw["note"], f"{where}.note") if "note" in raw else None,
        source=source,
        checked=checked,
    )


def parse_crisis_data(
    data: Mapping[str, Any], *, today: dt.date | None = None
) -> dict[str, tuple[CrisisLine, ...]]:
    """The lines by country, each checked; CrisisDataError names the first fault."""
    today = today or dt.date.today()
    if set(data) != {"countries"} or not isinstance(data["countries"], Mapping):
        raise CrisisDataError("the file holds one table, [countries.<code>]")
    table: dict[str, tuple[CrisisLine, ...]] = {}
    for code, country in data["countries"].items():
        if not is_country_code(code):
            raise CrisisDataError(f"countries.{code}: not an ISO 3166-1 alpha-2 code")
        if not isinstance(country, Mapping) or set(country) != {"lines"}:
            raise CrisisDataError(f"countries.{code}: holds `lines` only")
        raw_lines = country["lines"]
        if not isinstance(raw_lines, list):
            raise CrisisDataError(f"countries.{code}.lines: a list of [[lines]]")
        lines = tuple(
            _line(raw, f"countries.{code}.lines[{index}]", today=today)
            for index, raw in enumerate(raw_lines)
        )
        kinds = {line.kind for line in lines}
        if not {CrisisKind.EMERGENCY, CrisisKind.CRISIS_LINE} <= kinds:
            raise CrisisDataError(
                f"countries.{code}: needs an emergency line and at least one crisis_line"
            )
        table[code] = lines
    return table


def crisis_file() -> Path:
    configured = str(getattr(settings, "CRISIS_RESOURCES_FILE", "") or "")
    return Path(configured) if configured else DEFAULT_FILE


def load_crisis_file(path: Path) -> dict[str, tuple[CrisisLine, ...]]:
    """Read and check a crisis lines file; CrisisDataError when it cannot be used."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CrisisDataError(f"{path.name} cannot be read: {type(error).__name__}") from None
    # A line cannot have been checked after the file was written: a clock set back (a test's
    # frozen one, a host's wrong one) must not make today's file unusable.
    written = dt.date.fromtimestamp(path.stat().st_mtime)
    return parse_crisis_data(data, today=max(dt.date.today(), written))


@cache
def _table_of(path: Path) -> dict[str, tuple[CrisisLine, ...]]:
    try:
        return load_crisis_file(path)
    except CrisisDataError as error:
        # `manage.py check` refuses this file; a process started without it must still
        # show the plain fallback rather than a partial or stale list.
        logger.error("crisis lines file unusable", extra={"fault": str(error)})
        return {}


def crisis_table() -> dict[str, tuple[CrisisLine, ...]]:
    return _table_of(crisis_file())


def covered_countries() -> list[str]:
    return sorted(crisis_table())


def country_lines(country: str | None) -> tuple[CrisisLine, ...]:
    """The country's lines from the file; empty for no country or one not covered."""
    return crisis_table().get(country or "", ())


def clinic_line() -> CrisisLine | None:
    """The clinic's after-hours line from the settings, or None when not set."""
    number = str(getattr(settings, "CLINIC_AFTER_HOURS_NUMBER", "") or "")
    if not number:
        return None
    return CrisisLine(
        kind=CrisisKind.CLINIC,
        name=str(getattr(settings, "CLINIC_AFTER_HOURS_NAME", "") or "Your clinic"),
        action=CrisisAction.CALL,
        contact=number,
        hours=str(getattr(settings, "CLINIC_AFTER_HOURS_HOURS", "") or "") or None,
    )
