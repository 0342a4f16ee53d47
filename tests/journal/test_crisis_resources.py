"""The crisis lines file: every line sourced and dated, the countries the product promises,
and a parser that refuses the whole file for one bad line (a wrong number in a crisis is
worse than none)."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from typing import Any

import pytest

from backend.accounts.countries import is_country_code
from journal.crisis import (
    DEFAULT_FILE,
    CrisisDataError,
    clinic_line,
    covered_countries,
    load_crisis_file,
    parse_crisis_data,
)

PROMISED = {"US", "CA", "GB", "IE", "DE", "AT", "CH", "FR", "ES", "IT", "NL", "AU", "NZ"}


def raw() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_FILE.read_text(encoding="utf-8"))


def every_line() -> list[tuple[str, dict[str, Any]]]:
    return [
        (code, line) for code, country in raw()["countries"].items() for line in country["lines"]
    ]


@pytest.mark.parametrize(("code", "line"), every_line(), ids=lambda value: str(value)[:40])
def test_every_line_has_a_public_source_and_the_date_it_was_checked(code, line) -> None:
    assert str(line.get("source", "")).startswith("https://"), (code, line.get("name"))
    checked = line.get("checked")
    assert isinstance(checked, dt.date), code
    assert not isinstance(checked, dt.datetime), code
    assert checked <= dt.date.today()


def test_the_shipped_file_covers_the_promised_countries_and_passes_its_own_checks() -> None:
    table = load_crisis_file(DEFAULT_FILE)

    assert set(table) >= PROMISED
    assert set(covered_countries()) == set(table)
    for code, lines in table.items():
        assert is_country_code(code)
        kinds = [line.kind for line in lines]
        assert "emergency" in kinds, code
        assert "crisis_line" in kinds, code


@pytest.mark.parametrize(
    ("code", "emergency", "line"),
    [
        ("US", "911", "988"),
        ("CA", "911", "988"),
        ("GB", "999", "116 123"),
        ("IE", "112", "116 123"),
        ("DE", "112", "0800 111 0 111"),
        ("AT", "112", "142"),
        ("CH", "112", "143"),
        ("FR", "112", "3114"),
        ("ES", "112", "024"),
        ("IT", "112", "02 2327 2327"),
        ("NL", "112", "113"),
        ("AU", "000", "13 11 14"),
        ("NZ", "111", "1737"),
    ],
)
def test_each_promised_country_has_its_known_numbers(code, emergency, line) -> None:
    # The numbers as the issue and the sources name them: a typo here fails loudly.
    lines = load_crisis_file(DEFAULT_FILE)[code]
    assert emergency in {item.contact for item in lines if item.kind == "emergency"}
    assert line in {item.contact for item in lines if item.kind == "crisis_line"}


def test_a_line_limited_in_hours_says_so() -> None:
    (amico,) = [line for line in load_crisis_file(DEFAULT_FILE)["IT"] if line.kind == "crisis_line"]

    assert amico.hours == "10:00-24:00 every day"
    assert amico.instructions == "Call 02 2327 2327 (10:00-24:00 every day)."


def test_the_keyword_of_a_line_one_can_call_or_text_is_in_its_instructions() -> None:
    # The file allows a keyword on a call-or-text line: texting without it may not reach
    # the service, so the instructions must say it.
    data = copy.deepcopy(raw())
    data["countries"]["US"]["lines"][0].update(keyword="TALK")

    lifeline = parse_crisis_data(data)["US"][0]

    assert lifeline.action == "call_or_text"
    assert lifeline.reach == "call 988 or text TALK to 988"
    assert lifeline.instructions == "Call 988 or text TALK to 988, any time, day or night."


def _broken(change) -> dict[str, Any]:
    data = copy.deepcopy(raw())
    change(data["countries"]["DE"]["lines"][0])
    return data


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (lambda line: line.pop("source"), "missing source"),
        (lambda line: line.pop("checked"), "missing checked"),
        (lambda line: line.update(source="http://example.org/"), ".source"),
        (lambda line: line.update(checked="2026-12-07"), ".checked"),
        (lambda line: line.update(checked=dt.date.today() + dt.timedelta(days=1)), ".checked"),
        (lambda line: line.update(contact="0800 CALL NOW"), ".contact"),
        (lambda line: line.update(action="fax"), ".action"),
        (lambda line: line.update(kind="clinic"), ".kind"),
        (lambda line: line.update(keyword="HELLO"), ".keyword"),
        (lambda line: line.update(website="https://example.org/"), "unknown website"),
    ],
)
def test_one_bad_line_refuses_the_whole_file(change, fault) -> None:
    with pytest.raises(CrisisDataError) as refused:
        parse_crisis_data(_broken(change))

    assert "countries.DE.lines[0]" in str(refused.value)
    assert fault in str(refused.value)


def test_a_country_needs_an_emergency_number_and_a_crisis_line() -> None:
    data = copy.deepcopy(raw())
    data["countries"]["DE"]["lines"] = [
        line for line in data["countries"]["DE"]["lines"] if line["kind"] == "emergency"
    ]

    with pytest.raises(CrisisDataError, match=r"countries\.DE: needs an emergency line"):
        parse_crisis_data(data)


def test_a_country_code_must_be_iso_3166_1() -> None:
    data = copy.deepcopy(raw())
    data["countries"]["UK"] = data["countries"].pop("GB")  # the common mistake

    with pytest.raises(CrisisDataError, match=r"countries\.UK: not an ISO 3166-1"):
        parse_crisis_data(data)


def test_the_clinics_line_comes_from_the_settings(settings) -> None:
    assert clinic_line() is None

    settings.CLINIC_AFTER_HOURS_NUMBER = "+49 30 1234 5678"
    settings.CLINIC_AFTER_HOURS_NAME = "Praxis Berg after hours"
    settings.CLINIC_AFTER_HOURS_HOURS = "18:00-08:00 and weekends"
    line = clinic_line()

    assert line is not None
    assert (line.kind, line.name, line.contact, line.source) == (
        "clinic",
        "Praxis Berg after hours",
        "+49 30 1234 5678",
        None,
    )
    assert line.instructions == "Call +49 30 1234 5678 (18:00-08:00 and weekends)."
