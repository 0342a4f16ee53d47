"""A person's country, as ISO 3166-1 alpha-2 codes ("DE"): what may be set, its name, and
the country a time zone suggests.

Codes and names come from `pycountry` (the ISO 3166 tables of Debian's iso-codes). The
suggestion reads the IANA time zone database's `zone.tab` (shipped by the `tzdata`
package), which names the one country each zone is for ("Europe/Berlin" -> DE,
"Europe/Zurich" -> CH). A suggestion only: a time zone is shared by several countries
(Vienna's and Berlin's clocks agree), so the patient always decides.
"""

from __future__ import annotations

import importlib.resources
from functools import cache

import pycountry
from django.core.exceptions import ValidationError


def is_country_code(value: str) -> bool:
    """Whether the value is an ISO 3166-1 alpha-2 code, in capitals ("DE", not "de")."""
    return (
        len(value) == 2
        and value.isascii()
        and value.isupper()
        and pycountry.countries.get(alpha_2=value) is not None
    )


def validate_country(value: str) -> None:
    """An ISO 3166-1 alpha-2 code, or empty for "not set". The message never repeats the
    value: errors never echo what a client sent."""
    if value and not is_country_code(value):
        raise ValidationError("Not an ISO 3166-1 alpha-2 country code.", code="invalid")


def country_name(code: str) -> str:
    """The country's short English name ("Germany"); the code itself if unknown."""
    country = pycountry.countries.get(alpha_2=code) if code else None
    return str(getattr(country, "common_name", None) or country.name) if country else code


@cache
def _zone_countries() -> dict[str, str]:
    text = importlib.resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    zones: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        code, _coordinates, zone, *_comment = line.split("\t")
        zones[zone] = code
    return zones


def country_for_time_zone(zone: str) -> str | None:
    """The country `zone.tab` names for an IANA zone; None for zones of no one country
    ("UTC", "Etc/GMT+2")."""
    return _zone_countries().get(zone)
