"""Helpers for the calendar feed's tests: turning a feed on through the API, reading it
as a calendar app would, and the RFC 5545 rules a feed must keep."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import icalendar
from rest_framework.test import APIClient

FEED_PATH = "/api/v1/me/calendar/"


def feed_path(url: str) -> str:
    """The path of a feed URL as the answer gave it."""
    return urlsplit(url).path


def turn_on(client: APIClient) -> str:
    """Turn the feed on; the path of its URL."""
    response = client.post(FEED_PATH)
    assert response.status_code == 201, response.content
    return feed_path(response.json()["url"])


def read(path: str, address: str = "127.0.0.1") -> bytes:
    """The feed, read with no credentials (a calendar app) from a network address."""
    response = APIClient().get(path, REMOTE_ADDR=address)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return response.content


def events(document: bytes) -> dict[str, icalendar.Component]:
    """The feed's events by UID."""
    calendar = icalendar.Calendar.from_ical(document)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def sequence(event: icalendar.Component) -> int:
    return int(event.decoded("SEQUENCE"))


def utc(event: icalendar.Component, name: str) -> dt.datetime:
    value = event.decoded(name)
    assert isinstance(value, dt.datetime)
    assert value.utcoffset() == dt.timedelta(0)
    return value


_CONTENT_LINE = re.compile(rb"^[A-Za-z0-9-]+(;[^:]*)?:")


def rfc5545_violations(document: bytes) -> list[str]:
    """The RFC 5545 rules that can be checked on the bytes and the parsed document."""
    found: list[str] = []
    if not document.endswith(b"\r\n"):
        found.append("the document does not end with CRLF")
    lines = document.split(b"\r\n")[:-1]
    for number, line in enumerate(lines, start=1):
        if b"\n" in line or b"\r" in line:
            found.append(f"line {number}: a bare CR or LF (3.1: lines end with CRLF)")
        if len(line) > 75:
            found.append(f"line {number}: {len(line)} octets (3.1: fold at 75)")
        if not line.startswith((b" ", b"\t")) and not _CONTENT_LINE.match(line):
            found.append(f"line {number}: not a content line")
    unfolded = re.sub(rb"\r\n[ \t]", b"", document).split(b"\r\n")[:-1]
    if unfolded[:1] != [b"BEGIN:VCALENDAR"] or unfolded[-1:] != [b"END:VCALENDAR"]:
        found.append("3.4: the stream is not one VCALENDAR")
    calendar = icalendar.Calendar.from_ical(document)
    for name in ("VERSION", "PRODID"):
        if len([line for line in unfolded if line.startswith(name.encode() + b":")]) != 1:
            found.append(f"3.6: {name} must appear exactly once in the calendar")
    if calendar.get("VERSION") != "2.0":
        found.append("3.7.4: VERSION must be 2.0")
    uids: list[str] = []
    for event in calendar.walk("VEVENT"):
        for name in ("UID", "DTSTAMP", "DTSTART"):
            if name not in event:
                found.append(f"3.6.1: an event without {name}")
        for name in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "STATUS", "SUMMARY"):
            if isinstance(event.get(name), list):
                found.append(f"3.6.1: {name} more than once in {event.get('UID')}")
        uids.append(str(event.get("UID")))
        if "DTEND" in event and "DURATION" in event:
            found.append("3.6.1: DTEND and DURATION together")
        if "DTEND" in event and event.decoded("DTEND") <= event.decoded("DTSTART"):
            found.append(f"3.8.2.2: DTEND not after DTSTART in {event['UID']}")
        if str(event.get("STATUS", "CONFIRMED")) not in {"TENTATIVE", "CONFIRMED", "CANCELLED"}:
            found.append(f"3.8.1.11: a VEVENT status of {event['STATUS']}")
        sequence = event.get("SEQUENCE", 0)
        if not 0 <= int(sequence) < 2**31:
            found.append("3.8.7.4: SEQUENCE is not a non-negative INTEGER")
        for alarm in event.walk("VALARM"):
            for name in ("ACTION", "TRIGGER"):
                if name not in alarm:
                    found.append(f"3.6.6: an alarm without {name}")
            if str(alarm.get("ACTION")) == "DISPLAY" and "DESCRIPTION" not in alarm:
                found.append("3.6.6: a DISPLAY alarm without DESCRIPTION")
    if len(uids) != len(set(uids)):
        found.append("3.8.4.7: UIDs repeat")
    return found
