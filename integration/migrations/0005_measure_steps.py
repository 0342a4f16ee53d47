"""Measure steps: the PHQ-9 and GAD-7 as catalog exercises, and the plans' steps for them.

The issue: "a PHQ-9 and GAD-7 before the first dosing session, then weekly during a
course, at +7 d after each dosing session otherwise". Every plan gets four steps,
appended after its existing ones (their positions and ids stay as they were):

- PHQ-9 and GAD-7 72 h before a dosing session that starts a course (`is_course_start_only`:
  no other live dosing session in the 28 days before it), open 48 h, so they close a day
  before the session (quiet hours, at most 20 h, cannot push that past it): the course's
  baseline.
- PHQ-9 and GAD-7 7 days after every dosing session, open 6 days. The timeline's overlap
  rule keeps one prompt of an exercise among overlapping answer windows (the earlier one),
  so during a course of twice-weekly sessions the second session's week-later prompt falls
  inside the first one's window and is left out: one of each a week. After the last
  session of a course, the +7 d pair stands alone. Why 6 days and not 7: on a weekly
  schedule the +7 d prompt lands on the next dosing day and the post-dosing quiet period
  moves it 6 h later; with a 7-day window that shifted window would overlap the last
  session's unshifted +7 d prompt and drop the end-of-course measure. A day's margin
  absorbs the quiet period, quiet hours and a move by the daily cap.

The demonstration plan gets the same shape in minutes (before: -2 min, after: +6 min, each
open 30 min), like its other steps.

The measures' own sources (items, scoring, bands) are in journal/measures.py and
docs/measures.md.
"""

from datetime import timedelta

from django.db import migrations

H = 3600
D = 24 * H
M = 60

EXERCISES = [
    {
        "slug": "phq9",
        "title": "How you have been feeling (PHQ-9)",
        "instructions": (
            "Nine short questions about the last two weeks, each answered from 'not at all' "
            "to 'nearly every day'. Your answers give a score that you and your therapist "
            "can follow over your course; it is not a diagnosis. If you have thoughts of "
            "harming yourself, please reach out now: in the US call or text 988, or call "
            "911 in an emergency."
        ),
        "estimated_minutes": 3,
        "answer_kind": "measure",
        "entry_kind": "",
        "instrument": "phq9",
        "is_safety_relevant": False,
    },
    {
        "slug": "gad7",
        "title": "Worry and anxiety (GAD-7)",
        "instructions": (
            "Seven short questions about the last two weeks, each answered from 'not at all' "
            "to 'nearly every day'. Your answers give a score that you and your therapist "
            "can follow over your course; it is not a diagnosis."
        ),
        "estimated_minutes": 2,
        "answer_kind": "measure",
        "entry_kind": "",
        "instrument": "gad7",
        "is_safety_relevant": False,
    },
]

# (exercise slug, offset in seconds, answer window in seconds, course start only)
STEPS = [
    ("phq9", -72 * H, 48 * H, True),
    ("gad7", -72 * H, 48 * H, True),
    ("phq9", 7 * D, 6 * D, False),
    ("gad7", 7 * D, 6 * D, False),
]
DEMO_STEPS = [
    ("phq9", -2 * M, 30 * M, True),
    ("gad7", -2 * M, 30 * M, True),
    ("phq9", 6 * M, 30 * M, False),
    ("gad7", 6 * M, 30 * M, False),
]
PLANS = {
    "kap-default": STEPS,
    "esketamine-course": STEPS,
    "iv-series": STEPS,
    "demo-minutes": DEMO_STEPS,
}


def load_measure_steps(apps, schema_editor):
    Exercise = apps.get_model("integration", "Exercise")
    IntegrationPlan = apps.get_model("integration", "IntegrationPlan")
    PlanStep = apps.get_model("integration", "PlanStep")
    exercises = {}
    for values in EXERCISES:
        values = dict(values)
        exercise, _ = Exercise.objects.update_or_create(slug=values.pop("slug"), defaults=values)
        exercises[exercise.slug] = exercise
    for slug, steps in PLANS.items():
        plan = IntegrationPlan.objects.filter(slug=slug).first()
        if plan is None:
            continue  # removed by staff: nothing to add to
        for exercise_slug, offset, window, is_course_start_only in steps:
            values = {
                "exercise": exercises[exercise_slug],
                "offset": timedelta(seconds=offset),
                "answer_window": timedelta(seconds=window),
                "is_course_start_only": is_course_start_only,
            }
            if PlanStep.objects.filter(plan=plan, **values).exists():
                continue  # loaded already
            last = PlanStep.objects.filter(plan=plan).order_by("-position").first()
            position = (last.position if last is not None else 0) + 1
            PlanStep.objects.create(plan=plan, position=position, **values)


def unload_measure_steps(apps, schema_editor):
    PlanStep = apps.get_model("integration", "PlanStep")
    Exercise = apps.get_model("integration", "Exercise")
    slugs = [exercise["slug"] for exercise in EXERCISES]
    PlanStep.objects.filter(exercise__slug__in=slugs).delete()
    Exercise.objects.filter(slug__in=slugs).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integration", "0004_measures_and_safety_alerts"),
    ]

    operations = [
        migrations.RunPython(load_measure_steps, unload_measure_steps),
    ]
