"""The patient's export as a readable Markdown document (the JSON one is the API's own).

Markdown, because a patient can read it as it is, print it, or paste it into notes for an
integration session. Text the patient wrote is quoted as written; Markdown in it is left
alone, since it is theirs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from journal.entries.selectors import OpenedEntry
from journal.export.selectors import JournalExport
from journal.instruments import INSTRUMENTS, Band
from journal.models import Measure
from journal.sessions.selectors import OpenedSession

_KIND_TITLES = {
    "intention": "Intention",
    "reflection": "Reflection",
    "exercise": "Exercise",
    "checkin": "Check-in",
    "note": "Note",
}


def _quote(text: str) -> list[str]:
    return [f"> {line}" if line else ">" for line in text.splitlines()] or [">"]


def _session_heading(session: OpenedSession) -> str:
    when = session.scheduled_start.strftime("%Y-%m-%d %H:%M UTC")
    kind = session.kind.capitalize()
    extra = f", {session.modality.replace('_', ' ')}" if session.modality else ""
    return f"## {kind} session{extra}: {when} ({session.status})"


def _entry_lines(entry: OpenedEntry) -> list[str]:
    # When the patient wrote it (`written_at`, else its arrival): an entry written offline
    # arrives later, and its arrival would date an intention after its session.
    when = entry.written_at.strftime("%Y-%m-%d %H:%M UTC")
    title = f": {entry.title}" if entry.title else ""
    lines = [f"### {_KIND_TITLES.get(entry.kind, entry.kind)}{title} ({when})", ""]
    if entry.mood is not None:
        lines += [f"Mood: {entry.mood}/10", ""]
    if entry.tags:
        lines += ["Tags: " + ", ".join(entry.tags), ""]
    lines += [*_quote(entry.body), ""]
    return lines


def _measure_lines(measures: list[Measure]) -> list[str]:
    lines = [
        "## Measures",
        "",
        "Answers are listed in item order; each item is scored 0 (not at all) to 3 (nearly "
        "every day).",
        "",
        "| Taken | Measure | Total | Severity | Answers |",
        "| --- | --- | --- | --- | --- |",
    ]
    for measure in measures:
        form = INSTRUMENTS[measure.instrument]
        answers = " ".join(str(answer) for answer in measure.answers)
        if measure.difficulty is not None and form.difficulty is not None:
            answers += f"; difficulty: {form.difficulty.options[measure.difficulty].text}"
        lines.append(
            f"| {measure.taken_at.strftime('%Y-%m-%d %H:%M UTC')} | {form.name} "
            f"| {measure.total}/{form.max_total} | {Band(measure.band).label} | {answers} |"
        )
    return [*lines, ""]


def export_markdown(export: JournalExport) -> str:
    by_session: dict[Any, list[OpenedEntry]] = defaultdict(list)
    for entry in export.entries:
        by_session[entry.session].append(entry)
    lines = [
        f"# Journal of {export.account['display_name'] or 'a patient'}",
        "",
        f"Exported {export.exported_at.strftime('%Y-%m-%d %H:%M UTC')}. "
        "Times are in UTC. This file is not encrypted: keep it somewhere safe.",
        "",
    ]
    for session in export.sessions:
        lines += [_session_heading(session), ""]
        if session.note:
            lines += ["Note:", "", *_quote(session.note), ""]
        if session.after_effects:
            effects = ", ".join(
                f"{name.replace('_', ' ')}: {grade}"
                for name, grade in session.after_effects.items()
            )
            lines += [f"After-effects: {effects}", ""]
        if session.overall_rating is not None:
            lines += [f"Overall rating: {session.overall_rating}/10", ""]
        for entry in by_session.pop(session.id, []):
            lines += _entry_lines(entry)
    unlinked = [entry for entries in by_session.values() for entry in entries]
    if unlinked:
        lines += ["## Other entries", ""]
        for entry in unlinked:
            lines += _entry_lines(entry)
    if export.measures:
        lines += _measure_lines(export.measures)
    return "\n".join(lines).rstrip() + "\n"
