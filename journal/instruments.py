"""The standard measures a patient can take: PHQ-9 and GAD-7. Definitions and pure scoring.

Nothing here touches the database, so scoring and validation can be checked over every
possible answer vector (tests/journal/test_scoring.py).

Sources:
- PHQ-9: Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression
  severity measure. J Gen Intern Med. 2001;16(9):606-613. Nine items scored 0-3, total
  0-27; cut points 5, 10, 15 and 20 for mild, moderate, moderately severe and severe.
  The tenth question (how difficult the problems made things) is not scored.
- GAD-7: Spitzer RL, Kroenke K, Williams JBW, Loewe B. A brief measure for assessing
  generalized anxiety disorder: the GAD-7. Arch Intern Med. 2006;166(10):1092-1097.
  Seven items scored 0-3, total 0-21; cut points 5, 10 and 15 for mild, moderate, severe.
- Both were developed by Drs. Spitzer, Williams, Kroenke and colleagues with an
  educational grant from Pfizer Inc., which released them free of copyright restriction:
  "No permission required to reproduce, translate, display or distribute."
- LOINC codes (panels, items, totals and answers) as published by Regenstrief at
  loinc.org; item codes are listed in the order the items are printed on the forms.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import TextChoices

LOINC_SYSTEM = "http://loinc.org"

PFIZER_COPYRIGHT = (
    "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and "
    "colleagues, with an educational grant from Pfizer Inc. No permission required to "
    "reproduce, translate, display or distribute."
)

# Response and remission are judged only against a baseline at or above this total: a
# "50% drop" from 2 to 1, or "remission" of someone who was never above the cut point,
# says nothing. 10 is the cut point both instruments' authors recommend (Kroenke 2001;
# Spitzer 2006) and the index-score criterion (PHQ-9 > 9) of the NQF depression
# response (#1885) and remission (#0710) measures. See docs/measures.md.
FLAG_MIN_BASELINE = 10


class Instrument(TextChoices):
    PHQ9 = "phq9", "PHQ-9"
    GAD7 = "gad7", "GAD-7"


class Band(TextChoices):
    """Severity bands. GAD-7 has no "moderately severe"."""

    MINIMAL = "minimal", "Minimal"
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    MODERATELY_SEVERE = "moderately_severe", "Moderately severe"
    SEVERE = "severe", "Severe"


@dataclass(frozen=True)
class AnswerOption:
    value: int
    text: str
    loinc: str


@dataclass(frozen=True)
class Item:
    number: int  # as printed on the form, from 1
    text: str
    loinc: str
    loinc_display: str


@dataclass(frozen=True)
class DifficultyQuestion:
    text: str
    loinc: str
    options: tuple[AnswerOption, ...]


@dataclass(frozen=True)
class SeverityBand:
    band: Band
    minimum: int
    maximum: int

    @property
    def label(self) -> str:
        return str(self.band.label)


@dataclass(frozen=True)
class InstrumentDefinition:
    code: Instrument
    name: str
    title: str
    stem: str
    items: tuple[Item, ...]
    options: tuple[AnswerOption, ...]
    difficulty: DifficultyQuestion | None
    bands: tuple[SeverityBand, ...]
    loinc_panel: str
    loinc_panel_display: str
    loinc_total: str
    loinc_total_display: str
    remission_below: int
    # The item whose any answer above 0 asks for a safety response (PHQ-9 item 9).
    safety_item: int | None
    source: str

    @property
    def item_count(self) -> int:
        return len(self.items)

    @property
    def max_total(self) -> int:
        return self.item_count * max(option.value for option in self.options)


# The LOINC answers shared by every PHQ-9 and GAD-7 item.
FREQUENCY_OPTIONS = (
    AnswerOption(0, "Not at all", "LA6568-5"),
    AnswerOption(1, "Several days", "LA6569-3"),
    AnswerOption(2, "More than half the days", "LA6570-1"),
    AnswerOption(3, "Nearly every day", "LA6571-9"),
)

# The LOINC answers of the PHQ-9 difficulty question (69722-7). The codes are not in the
# order of the words: "Very difficult" is LA6575-0 and "Extremely difficult" LA6574-3.
DIFFICULTY_OPTIONS = (
    AnswerOption(0, "Not difficult at all", "LA6572-7"),
    AnswerOption(1, "Somewhat difficult", "LA6573-5"),
    AnswerOption(2, "Very difficult", "LA6575-0"),
    AnswerOption(3, "Extremely difficult", "LA6574-3"),
)

PHQ9 = InstrumentDefinition(
    code=Instrument.PHQ9,
    name="PHQ-9",
    title="Patient Health Questionnaire-9",
    stem=(
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    ),
    items=(
        Item(
            1,
            "Little interest or pleasure in doing things",
            "44250-9",
            "Little interest or pleasure in doing things in last 2 weeks",
        ),
        Item(
            2,
            "Feeling down, depressed, or hopeless",
            "44255-8",
            "Feeling down, depressed, or hopeless in last 2 weeks",
        ),
        Item(
            3,
            "Trouble falling or staying asleep, or sleeping too much",
            "44259-0",
            "Trouble falling or staying asleep, or sleeping too much in last 2 weeks",
        ),
        Item(
            4,
            "Feeling tired or having little energy",
            "44254-1",
            "Feeling tired or having little energy in last 2 weeks",
        ),
        Item(
            5,
            "Poor appetite or overeating",
            "44251-7",
            "Poor appetite or overeating in last 2 weeks",
        ),
        Item(
            6,
            "Feeling bad about yourself - or that you are a failure or have let yourself or "
            "your family down",
            "44258-2",
            "Feeling bad about yourself-or that you are a failure or have let yourself or "
            "your family down in last 2 weeks",
        ),
        Item(
            7,
            "Trouble concentrating on things, such as reading the newspaper or watching television",
            "44252-5",
            "Trouble concentrating on things, such as reading the newspaper or watching "
            "television in last 2 weeks",
        ),
        Item(
            8,
            "Moving or speaking so slowly that other people could have noticed? Or the "
            "opposite - being so fidgety or restless that you have been moving around a lot "
            "more than usual",
            "44253-3",
            "Moving or speaking so slowly that other people could have noticed. Or the "
            "opposite-being so fidgety or restless that you have been moving around a lot "
            "more than usual in last 2 weeks",
        ),
        Item(
            9,
            "Thoughts that you would be better off dead or of hurting yourself in some way",
            "44260-8",
            "Thoughts that you would be better off dead, or of hurting yourself in some way "
            "in last 2 weeks",
        ),
    ),
    options=FREQUENCY_OPTIONS,
    difficulty=DifficultyQuestion(
        text=(
            "If you checked off any problems, how difficult have these problems made it for "
            "you to do your work, take care of things at home, or get along with other "
            "people?"
        ),
        loinc="69722-7",
        options=DIFFICULTY_OPTIONS,
    ),
    # Kroenke, Spitzer, Williams 2001, table 3.
    bands=(
        SeverityBand(Band.MINIMAL, 0, 4),
        SeverityBand(Band.MILD, 5, 9),
        SeverityBand(Band.MODERATE, 10, 14),
        SeverityBand(Band.MODERATELY_SEVERE, 15, 19),
        SeverityBand(Band.SEVERE, 20, 27),
    ),
    loinc_panel="44249-1",
    loinc_panel_display="PHQ-9 quick depression assessment panel",
    loinc_total="44261-6",
    loinc_total_display="Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    # Remission: PHQ-9 below 5 (Kroenke 2001; NQF #0710 Depression Remission).
    remission_below=5,
    safety_item=9,
    source=(
        "Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression "
        "severity measure. J Gen Intern Med. 2001;16(9):606-613."
    ),
)

GAD7 = InstrumentDefinition(
    code=Instrument.GAD7,
    name="GAD-7",
    title="Generalized Anxiety Disorder-7",
    stem="Over the last 2 weeks, how often have you been bothered by the following problems?",
    items=(
        Item(
            1,
            "Feeling nervous, anxious, or on edge",
            "69725-0",
            "Feeling nervous, anxious or on edge",
        ),
        Item(
            2,
            "Not being able to stop or control worrying",
            "68509-9",
            "Over the past 2 weeks have you not been able to stop or control worrying",
        ),
        Item(
            3,
            "Worrying too much about different things",
            "69733-4",
            "Worrying too much about different things",
        ),
        Item(4, "Trouble relaxing", "69734-2", "Trouble relaxing"),
        Item(
            5,
            "Being so restless that it is hard to sit still",
            "69735-9",
            "Being so restless that it's hard to sit still",
        ),
        Item(
            6,
            "Becoming easily annoyed or irritable",
            "69689-8",
            "Becoming easily annoyed or irritable",
        ),
        Item(
            7,
            "Feeling afraid, as if something awful might happen",
            "69736-7",
            "Feeling afraid as if something awful might happen",
        ),
    ),
    options=FREQUENCY_OPTIONS,
    # The printed GAD-7 also has an unscored difficulty question; the issue asks only for
    # the PHQ-9's, so the GAD-7 takes none.
    difficulty=None,
    # Spitzer et al. 2006: cut points 5, 10, 15.
    bands=(
        SeverityBand(Band.MINIMAL, 0, 4),
        SeverityBand(Band.MILD, 5, 9),
        SeverityBand(Band.MODERATE, 10, 14),
        SeverityBand(Band.SEVERE, 15, 21),
    ),
    loinc_panel="69737-5",
    loinc_panel_display="Generalized anxiety disorder 7 item (GAD-7)",
    loinc_total="70274-6",
    loinc_total_display="Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
    # No quality measure defines GAD-7 remission; below 5 (the minimal band) is a convention
    # used in trials, and the stricter of the thresholds in use. See docs/measures.md.
    remission_below=5,
    safety_item=None,
    source=(
        "Spitzer RL, Kroenke K, Williams JBW, Loewe B. A brief measure for assessing "
        "generalized anxiety disorder: the GAD-7. Arch Intern Med. 2006;166(10):1092-1097."
    ),
)

INSTRUMENTS: Mapping[str, InstrumentDefinition] = {
    Instrument.PHQ9.value: PHQ9,
    Instrument.GAD7.value: GAD7,
}


def definition(instrument: str) -> InstrumentDefinition:
    return INSTRUMENTS[instrument]


# Validation -----------------------------------------------------------------------------


def _is_answer(value: Any, options: Sequence[AnswerOption]) -> bool:
    # JSON integers only: not true/false (bool is an int in Python), "2" or 2.0.
    return type(value) is int and any(option.value == value for option in options)


def validate(instrument: str, answers: Any, difficulty: Any = None) -> dict[str, list[str]]:
    """Every problem with a submission, keyed like the API's field errors.

    `answers.3` is the fourth item (indexes count from 0, as in the JSON array); each
    message names the item by its printed number and text. Messages never repeat the
    value sent. An empty result means the submission can be scored.
    """
    form = definition(instrument)
    errors: dict[str, list[str]] = {}
    if not isinstance(answers, list):
        errors["answers"] = [f"Give a list of {form.item_count} answers, each 0 to 3."]
        answers = []
    for index, item in enumerate(form.items):
        if index >= len(answers):
            errors[f"answers.{index}"] = [
                f"Item {item.number} ({item.text}) is missing: answer 0 to 3."
            ]
        elif not _is_answer(answers[index], form.options):
            errors[f"answers.{index}"] = [
                f"Item {item.number} ({item.text}): answer 0, 1, 2 or 3 (a whole number)."
            ]
    for index in range(form.item_count, len(answers)):
        errors[f"answers.{index}"] = [
            f"The {form.name} has {form.item_count} items: remove this extra answer."
        ]
    if difficulty is not None:
        if form.difficulty is None:
            errors["difficulty"] = [f"The {form.name} has no difficulty question: leave it out."]
        elif not _is_answer(difficulty, form.difficulty.options):
            errors["difficulty"] = ["Answer 0, 1, 2 or 3 (a whole number), or null."]
    return errors


# Scoring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    total: int
    band: Band


def band_for(instrument: str, total: int) -> SeverityBand:
    for band in definition(instrument).bands:
        if band.minimum <= total <= band.maximum:
            return band
    raise ValueError("total out of range")


def score(instrument: str, answers: Sequence[int]) -> Score:
    """The total and severity band of answers that passed `validate`."""
    total = sum(answers)
    return Score(total=total, band=band_for(instrument, total).band)


def needs_safety_response(instrument: str, answers: Any) -> bool:
    """Whether the answers endorse the safety item (PHQ-9 item 9: thoughts of being
    better off dead or of self-harm) at all, i.e. above "Not at all".

    Any answer above 0 asks for a response, whatever the total: the authors' instructions
    for the PHQ (the PHQ Instruction Manual, Pfizer) advise that a patient who endorses
    item 9 be assessed further for suicide risk, regardless of the total score.
    """
    form = INSTRUMENTS.get(instrument)
    if form is None or form.safety_item is None:
        return False
    if not isinstance(answers, list | tuple) or len(answers) < form.safety_item:
        return False
    value = answers[form.safety_item - 1]
    # Read liberally: a refused submission that seems to endorse the item still gets the
    # safety block, since showing crisis resources to someone who did not need them
    # costs little.
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        # Decimal digits of any script, read without int(): a digit int() cannot read
        # ("\u00b2") or more digits than it converts would raise, and answer 500.
        value = value.strip()
        return value.isdecimal() and any(unicodedata.decimal(digit) > 0 for digit in value)
    return isinstance(value, int | float) and value > 0


# Change over a course -------------------------------------------------------------------


def percent_change(baseline: int, total: int) -> float | None:
    """The change from baseline in percent of it (negative = fewer symptoms), to one
    decimal; None when the baseline is 0 (no percentage of nothing)."""
    if baseline == 0:
        return None
    return round(100 * (total - baseline) / baseline, 1)


def is_response(baseline: int, total: int) -> bool | None:
    """A drop of at least 50% from baseline (the usual definition in depression trials;
    NQF #1885). None for a baseline below FLAG_MIN_BASELINE."""
    if baseline < FLAG_MIN_BASELINE:
        return None
    return 2 * total <= baseline


def is_remission(instrument: str, baseline: int, total: int) -> bool | None:
    """A total below the instrument's remission threshold (PHQ-9 < 5). None for a baseline
    below FLAG_MIN_BASELINE."""
    if baseline < FLAG_MIN_BASELINE:
        return None
    return total < definition(instrument).remission_below
