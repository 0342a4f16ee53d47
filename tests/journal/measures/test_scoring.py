"""Scoring and validation of the PHQ-9 and GAD-7, over every answer vector (pure, no database).

The expected bands are written out here from the papers, independently of
`journal.measures`: PHQ-9 (Kroenke, Spitzer, Williams 2001) 0-4 minimal, 5-9 mild, 10-14
moderate, 15-19 moderately severe, 20-27 severe; GAD-7 (Spitzer et al. 2006) 0-4, 5-9,
10-14, 15-21.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal import instruments

PHQ9_CUTS = [
    (0, "minimal"),
    (5, "mild"),
    (10, "moderate"),
    (15, "moderately_severe"),
    (20, "severe"),
]
GAD7_CUTS = [(0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe")]


def expected_band(cuts: list[tuple[int, str]], total: int) -> str:
    return [band for low, band in cuts if total >= low][-1]


answer = st.integers(min_value=0, max_value=3)
phq9_vectors = st.lists(answer, min_size=9, max_size=9)
not_an_answer = st.one_of(
    st.integers().filter(lambda value: not 0 <= value <= 3),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.none(),
    st.lists(answer, max_size=2),
    st.dictionaries(st.text(max_size=2), answer, max_size=2),
)


@pytest.mark.parametrize(
    ("instrument", "cuts", "count"), [("gad7", GAD7_CUTS, 7), ("phq9", PHQ9_CUTS, 9)]
)
def test_every_answer_vector_scores_to_its_sum_and_band(instrument, cuts, count) -> None:
    # Exhaustive: 4^7 = 16,384 GAD-7 and 4^9 = 262,144 PHQ-9 vectors (about 2 s).
    seen = 0
    for vector in itertools.product(range(4), repeat=count):
        answers = list(vector)
        assert instruments.validate(instrument, answers) == {}
        result = instruments.score(instrument, answers)
        assert result.total == sum(vector)
        assert result.band == expected_band(cuts, sum(vector))
        seen += 1
    assert seen == 4**count


@pytest.mark.parametrize(
    ("instrument", "cuts", "top"), [("phq9", PHQ9_CUTS, 27), ("gad7", GAD7_CUTS, 21)]
)
def test_every_total_has_exactly_the_papers_band(instrument, cuts, top) -> None:
    for total in range(top + 1):
        assert instruments.band_for(instrument, total).band == expected_band(cuts, total)
    with pytest.raises(ValueError, match="out of range"):
        instruments.band_for(instrument, top + 1)


@given(
    st.sampled_from(["phq9", "gad7"]),
    st.data(),
)
def test_a_bad_answer_is_refused_naming_its_item(instrument: str, data: st.DataObject) -> None:
    form = instruments.definition(instrument)
    answers = data.draw(st.lists(answer, min_size=form.item_count, max_size=form.item_count))
    index = data.draw(st.integers(min_value=0, max_value=form.item_count - 1))
    answers[index] = data.draw(not_an_answer)

    errors = instruments.validate(instrument, answers)

    assert set(errors) == {f"answers.{index}"}
    (message,) = errors[f"answers.{index}"]
    assert message.startswith(f"Item {index + 1} ({form.items[index].text})")


@given(st.sampled_from(["phq9", "gad7"]), st.data())
def test_missing_items_are_each_named(instrument: str, data: st.DataObject) -> None:
    form = instruments.definition(instrument)
    given_count = data.draw(st.integers(min_value=0, max_value=form.item_count - 1))
    answers = data.draw(st.lists(answer, min_size=given_count, max_size=given_count))

    errors = instruments.validate(instrument, answers)

    assert set(errors) == {f"answers.{index}" for index in range(given_count, form.item_count)}
    for index in range(given_count, form.item_count):
        assert "is missing" in errors[f"answers.{index}"][0]
        assert errors[f"answers.{index}"][0].startswith(f"Item {index + 1} ")


@given(st.sampled_from(["phq9", "gad7"]), st.data())
def test_extra_items_are_each_named(instrument: str, data: st.DataObject) -> None:
    form = instruments.definition(instrument)
    answers = data.draw(
        st.lists(answer, min_size=form.item_count + 1, max_size=form.item_count + 5)
    )

    errors = instruments.validate(instrument, answers)

    assert set(errors) == {f"answers.{index}" for index in range(form.item_count, len(answers))}
    assert all(f"has {form.item_count} items" in errors[key][0] for key in errors)


def test_answers_that_are_not_a_list_are_refused() -> None:
    errors = instruments.validate("phq9", {"1": 2})

    assert errors["answers"] == ["Give a list of 9 answers, each 0 to 3."]


@pytest.mark.parametrize("difficulty", [0, 1, 2, 3, None])
def test_phq9_takes_an_optional_difficulty_0_to_3(difficulty) -> None:
    assert instruments.validate("phq9", [0] * 9, difficulty) == {}


@pytest.mark.parametrize("difficulty", [-1, 4, True, "1", 1.0])
def test_phq9_refuses_a_difficulty_out_of_range(difficulty) -> None:
    assert set(instruments.validate("phq9", [0] * 9, difficulty)) == {"difficulty"}


def test_gad7_has_no_difficulty_question() -> None:
    assert instruments.validate("gad7", [0] * 7, 0) == {
        "difficulty": ["The GAD-7 has no difficulty question: leave it out."]
    }


@given(phq9_vectors)
def test_phq9_item_9_above_0_and_only_it_asks_for_a_safety_response(answers: list[int]) -> None:
    assert instruments.needs_safety_response("phq9", answers) is (answers[8] > 0)


@given(st.lists(answer, min_size=7, max_size=7))
def test_gad7_never_asks_for_a_safety_response(answers: list[int]) -> None:
    assert instruments.needs_safety_response("gad7", answers) is False


@pytest.mark.parametrize(
    ("item9", "expected"),
    [
        ("2", True),
        (" 1", True),
        ("0", False),
        (2.0, True),
        (True, True),
        (None, False),
        ("x", False),
        # Digits int() cannot read must not raise (a 500 on the measure's create).
        pytest.param("\u00b2", False, id="superscript-two"),
        pytest.param("\u0662", True, id="arabic-indic-two"),
        pytest.param("9" * 5000, True, id="5000-nines"),
        pytest.param("0" * 5000, False, id="5000-zeros"),
    ],
)
def test_a_refused_submission_is_read_liberally_for_item_9(item9, expected) -> None:
    assert instruments.needs_safety_response("phq9", [0] * 8 + [item9]) is expected


def test_short_or_malformed_answers_ask_for_no_safety_response() -> None:
    assert instruments.needs_safety_response("phq9", [3] * 8) is False
    assert instruments.needs_safety_response("phq9", "333333333") is False
    assert instruments.needs_safety_response("unknown", [3] * 9) is False


# The published codes, in the printed order of the items (loinc.org panels 44249-1, 69737-5).
PHQ9_ITEM_CODES = [
    ("Little interest or pleasure", "44250-9"),
    ("Feeling down, depressed, or hopeless", "44255-8"),
    ("Trouble falling or staying asleep", "44259-0"),
    ("Feeling tired or having little energy", "44254-1"),
    ("Poor appetite or overeating", "44251-7"),
    ("Feeling bad about yourself", "44258-2"),
    ("Trouble concentrating on things", "44252-5"),
    ("Moving or speaking so slowly", "44253-3"),
    ("Thoughts that you would be better off dead", "44260-8"),
]
GAD7_ITEM_CODES = [
    ("Feeling nervous, anxious", "69725-0"),
    ("Not being able to stop or control worrying", "68509-9"),
    ("Worrying too much about different things", "69733-4"),
    ("Trouble relaxing", "69734-2"),
    ("Being so restless", "69735-9"),
    ("Becoming easily annoyed or irritable", "69689-8"),
    ("Feeling afraid", "69736-7"),
]


@pytest.mark.parametrize(
    ("form", "codes", "panel", "total"),
    [
        (instruments.PHQ9, PHQ9_ITEM_CODES, "44249-1", "44261-6"),
        (instruments.GAD7, GAD7_ITEM_CODES, "69737-5", "70274-6"),
    ],
)
def test_item_texts_and_loinc_codes_are_in_printed_order(form, codes, panel, total) -> None:
    assert [item.loinc for item in form.items] == [code for _, code in codes]
    for item, (start, _) in zip(form.items, codes, strict=True):
        assert item.text.startswith(start)
    assert [item.number for item in form.items] == list(range(1, len(codes) + 1))
    assert (form.loinc_panel, form.loinc_total) == (panel, total)


def test_answer_options_carry_the_loinc_answer_codes() -> None:
    assert [(o.value, o.text, o.loinc) for o in instruments.FREQUENCY_OPTIONS] == [
        (0, "Not at all", "LA6568-5"),
        (1, "Several days", "LA6569-3"),
        (2, "More than half the days", "LA6570-1"),
        (3, "Nearly every day", "LA6571-9"),
    ]
    assert instruments.PHQ9.difficulty is not None
    assert instruments.PHQ9.difficulty.loinc == "69722-7"
    assert [(o.value, o.text, o.loinc) for o in instruments.PHQ9.difficulty.options] == [
        (0, "Not difficult at all", "LA6572-7"),
        (1, "Somewhat difficult", "LA6573-5"),
        (2, "Very difficult", "LA6575-0"),
        (3, "Extremely difficult", "LA6574-3"),
    ]


# Change over a course


@pytest.mark.parametrize(
    ("baseline", "total", "percent"),
    [(20, 10, -50.0), (20, 11, -45.0), (12, 13, 8.3), (15, 0, -100.0), (0, 4, None), (3, 3, 0.0)],
)
def test_percent_change_is_relative_to_the_baseline(baseline, total, percent) -> None:
    assert instruments.percent_change(baseline, total) == percent


@given(st.integers(min_value=10, max_value=27), st.integers(min_value=0, max_value=27))
def test_response_is_a_drop_of_at_least_half(baseline: int, total: int) -> None:
    assert instruments.is_response(baseline, total) is (total <= baseline / 2)


@given(st.integers(min_value=0, max_value=9), st.integers(min_value=0, max_value=27))
def test_no_flags_against_a_baseline_below_10(baseline: int, total: int) -> None:
    assert instruments.is_response(baseline, total) is None
    assert instruments.is_remission("phq9", baseline, total) is None


@pytest.mark.parametrize("instrument", ["phq9", "gad7"])
def test_remission_is_a_total_below_5(instrument) -> None:
    assert instruments.is_remission(instrument, 18, 4) is True
    assert instruments.is_remission(instrument, 18, 5) is False
