"""The exercise catalog and the integration plans that ship with Afterglow.

Sources for the clinical timing (see also docs and DESIGN.md):
- KAP: 1-3 preparation sessions, dosing sessions of about 2.5-3 h in the clinic, integration
  1-3 days after dosing; about six dosing sessions over 3-8 weeks.
- Esketamine (SPRAVATO) prescribing information and its REMS: patients are monitored for at
  least 2 hours after each dose; should avoid food for at least 2 hours and liquids for at
  least 30 minutes before a dose (nausea, vomiting); must not drive or operate machinery
  until the next day after a restful sleep, so someone takes them home. Induction is twice
  weekly in weeks 1-4, weekly in weeks 5-8, then every 1-2 weeks.
- IV ketamine for depression: commonly six infusions over 2-3 weeks.

Offsets are from the dosing session's start (negative: before it); the answer window is how
long a prompt stays open after it is due before it expires.
"""

from datetime import timedelta

from django.db import migrations

H = 3600
D = 24 * H
M = 60

EXERCISES = [
    {
        "slug": "set-intention",
        "title": "Set an intention",
        "instructions": (
            "Before your session, write down what you would like to explore or understand. "
            "An intention is a direction, not a goal to reach: a question, a feeling you "
            "want to look at, a relationship, a pattern. Keep it short enough to remember "
            "when the session begins."
        ),
        "estimated_minutes": 10,
        "answer_kind": "entry",
        "entry_kind": "intention",
        "is_safety_relevant": False,
    },
    {
        # SPRAVATO (esketamine) prescribing information, sections 2 and 5, and the SPRAVATO
        # REMS: at least 2 h of monitoring after each dose; no food for 2 h and no liquids
        # for 30 min before it; no driving or machinery until the next day after a restful
        # sleep. IV and other clinics set their own fasting times; the patient follows theirs.
        "slug": "readiness-checklist",
        "title": "Get ready for your session",
        "instructions": (
            "Go through the practical list for tomorrow: "
            "1) Follow your clinic's fasting instructions: no food for the hours they ask "
            "(for esketamine nasal spray at least 2 hours) and no drinks in the last 30 "
            "minutes. "
            "2) A ride home is arranged: you may not drive or operate machinery until the "
            "next day, after a restful sleep. "
            "3) A support person you trust is reachable for the rest of the day. "
            "4) Plan a quiet afternoon and evening; bring what helps you settle (eye mask, "
            "headphones, a blanket). "
            "Note anything still open and what you will do about it."
        ),
        "estimated_minutes": 5,
        "answer_kind": "entry",
        "entry_kind": "note",
        "is_safety_relevant": False,
    },
    {
        # Asked once the clinic's monitoring is over (at least 2 h for esketamine, SPRAVATO
        # REMS), so it is safety-relevant: it alone may arrive in the post-dosing quiet period.
        "slug": "after-session-checkin",
        "title": "How are you after your session?",
        "instructions": (
            "Now that monitoring is over: how do you feel, in body and mind? Rate your mood "
            "and note anything that worries you, such as dizziness, nausea, headache or "
            "feeling unreal. Rest, drink water, and do not drive today. If you feel unsafe "
            "or think of harming yourself, call your clinic; in the US call or text 988, or "
            "call 911 in an emergency."
        ),
        "estimated_minutes": 3,
        "answer_kind": "checkin",
        "entry_kind": "checkin",
        "is_safety_relevant": True,
    },
    {
        "slug": "next-day-reflection",
        "title": "Looking back on your intention",
        "instructions": (
            "A day after your session, write what you remember: images, feelings, thoughts, "
            "body sensations. Then read your intention again. What, if anything, spoke to "
            "it? Nothing needs to make sense yet."
        ),
        "estimated_minutes": 15,
        "answer_kind": "entry",
        "entry_kind": "reflection",
        "is_safety_relevant": False,
    },
    {
        "slug": "body-scan",
        "title": "Body scan",
        "instructions": (
            "Lie or sit comfortably. Move your attention slowly from your feet to the top "
            "of your head, noticing warmth, tension, tingling or nothing at all, without "
            "changing it. Afterwards write a few words about what you noticed and where."
        ),
        "estimated_minutes": 10,
        "answer_kind": "entry",
        "entry_kind": "exercise",
        "is_safety_relevant": False,
    },
    {
        "slug": "breathing-practice",
        "title": "Slow breathing",
        "instructions": (
            "Breathe in through your nose for a count of four and out for a count of six, "
            "for five minutes. If counting feels forced, just let the out-breath be a "
            "little longer than the in-breath. Note how you feel before and after."
        ),
        "estimated_minutes": 5,
        "answer_kind": "entry",
        "entry_kind": "exercise",
        "is_safety_relevant": False,
    },
    {
        "slug": "letter-to-self",
        "title": "A letter to yourself",
        "instructions": (
            "Write a letter to yourself: to the person you were before this treatment, or "
            "to the one you will be in a year. Say what you understand now that you would "
            "like them to know."
        ),
        "estimated_minutes": 20,
        "answer_kind": "entry",
        "entry_kind": "exercise",
        "is_safety_relevant": False,
    },
    {
        "slug": "values-clarification",
        "title": "What matters to you",
        "instructions": (
            "Name three things that matter most to you right now (people, work, health, "
            "creativity, honesty...). For each, write one small thing you could do this "
            "week that moves your life towards it."
        ),
        "estimated_minutes": 15,
        "answer_kind": "entry",
        "entry_kind": "exercise",
        "is_safety_relevant": False,
    },
    {
        "slug": "walk-outside",
        "title": "A walk outside",
        "instructions": (
            "Take a slow walk outside, without headphones if you can. Notice what you see, "
            "hear and smell. Afterwards note one thing that caught your attention and how "
            "your body felt."
        ),
        "estimated_minutes": 20,
        "answer_kind": "entry",
        "entry_kind": "exercise",
        "is_safety_relevant": False,
    },
    {
        "slug": "relationships",
        "title": "The people in your life",
        "instructions": (
            "Think of someone who came to mind during or after your sessions. What would "
            "you like them to know, or what would you like to change between you? Write "
            "it here first; whether and how to say it can wait."
        ),
        "estimated_minutes": 15,
        "answer_kind": "entry",
        "entry_kind": "exercise",
        "is_safety_relevant": False,
    },
    {
        "slug": "carry-forward",
        "title": "What to carry forward",
        "instructions": (
            "Looking back over the past weeks: what have you learned about yourself that "
            "you want to keep? Write down one or two insights and one habit or change that "
            "helps you hold on to them."
        ),
        "estimated_minutes": 15,
        "answer_kind": "entry",
        "entry_kind": "reflection",
        "is_safety_relevant": False,
    },
    {
        "slug": "weekly-mood-checkin",
        "title": "Weekly mood check-in",
        "instructions": (
            "How has your mood been over the past week, from 0 (very low) to 10 (very good)? "
            "Add a line about sleep, energy or anything else you noticed."
        ),
        "estimated_minutes": 2,
        "answer_kind": "checkin",
        "entry_kind": "checkin",
        "is_safety_relevant": False,
    },
    {
        "slug": "intention-follow-up",
        "title": "Revisit your intention",
        "instructions": (
            "Read the intention you set before your session. A week later, how does it "
            "look? Has anything shifted in your days, even a little? What would you like "
            "to bring to your next integration session?"
        ),
        "estimated_minutes": 10,
        "answer_kind": "entry",
        "entry_kind": "reflection",
        "is_safety_relevant": False,
    },
    {
        "slug": "creative-expression",
        "title": "Draw, move or make music",
        "instructions": (
            "Express something from your session without words: a drawing, a few bars of "
            "music, a movement. Then write a sentence or two about what you made."
        ),
        "estimated_minutes": 20,
        "answer_kind": "entry",
        "entry_kind": "exercise",
        "is_safety_relevant": False,
    },
]

# (exercise slug, offset in seconds, answer window in seconds)
PLANS = [
    {
        "slug": "kap-default",
        "name": "Ketamine-assisted psychotherapy",
        "description": (
            "Around each dosing session: an intention three days before, a readiness "
            "checklist the day before, a check-in once monitoring is over, a reflection "
            "the next day, a practice two days after, and follow-ups at one, two and four "
            "weeks."
        ),
        "is_default": True,
        "is_demo": False,
        "steps": [
            ("set-intention", -72 * H, 48 * H),
            ("readiness-checklist", -24 * H, 20 * H),
            ("after-session-checkin", 3 * H, 12 * H),
            ("next-day-reflection", 24 * H, 48 * H),
            ("body-scan", 48 * H, 48 * H),
            ("weekly-mood-checkin", 7 * D, 48 * H),
            ("intention-follow-up", 7 * D, 4 * D),
            ("values-clarification", 14 * D, 3 * D),
            ("carry-forward", 30 * D, 7 * D),
        ],
    },
    {
        # SPRAVATO induction: twice weekly in weeks 1-4, then weekly; sessions three or four
        # days apart leave room for a short plan only.
        "slug": "esketamine-course",
        "name": "Esketamine nasal spray course",
        "description": (
            "For sessions twice a week (weeks 1-4) and weekly after: an intention and the "
            "readiness checklist the day before, a check-in after monitoring, a reflection "
            "the next day and a short breathing practice three days after."
        ),
        "is_default": False,
        "is_demo": False,
        "steps": [
            ("set-intention", -24 * H, 20 * H),
            ("readiness-checklist", -24 * H, 20 * H),
            ("after-session-checkin", 3 * H, 12 * H),
            ("next-day-reflection", 24 * H, 36 * H),
            ("breathing-practice", 72 * H, 24 * H),
        ],
    },
    {
        "slug": "iv-series",
        "name": "IV ketamine series",
        "description": (
            "For a series of about six infusions over two to three weeks: an intention the "
            "day before, a check-in after monitoring, a reflection the next day and a walk "
            "outside two days after."
        ),
        "is_default": False,
        "is_demo": False,
        "steps": [
            ("set-intention", -24 * H, 20 * H),
            ("after-session-checkin", 3 * H, 12 * H),
            ("next-day-reflection", 24 * H, 36 * H),
            ("walk-outside", 48 * H, 36 * H),
        ],
    },
    {
        # For `make run`: the same shape in minutes, so prompts show up while you watch.
        "slug": "demo-minutes",
        "name": "Demonstration (minutes)",
        "description": (
            "A demonstration plan with minute-scale offsets, to see prompts arrive within "
            "minutes of a session's start. Not for real treatment."
        ),
        "is_default": False,
        "is_demo": True,
        "steps": [
            ("set-intention", -2 * M, 30 * M),
            ("readiness-checklist", -1 * M, 30 * M),
            ("after-session-checkin", 1 * M, 30 * M),
            ("next-day-reflection", 2 * M, 30 * M),
            ("breathing-practice", 3 * M, 30 * M),
            ("weekly-mood-checkin", 4 * M, 30 * M),
            ("intention-follow-up", 5 * M, 30 * M),
        ],
    },
]


def load_catalog(apps, schema_editor):
    Exercise = apps.get_model("integration", "Exercise")
    IntegrationPlan = apps.get_model("integration", "IntegrationPlan")
    PlanStep = apps.get_model("integration", "PlanStep")
    exercises = {}
    for values in EXERCISES:
        values = dict(values)
        exercise, _ = Exercise.objects.update_or_create(slug=values.pop("slug"), defaults=values)
        exercises[exercise.slug] = exercise
    for values in PLANS:
        values = dict(values)
        steps = values.pop("steps")
        plan, _ = IntegrationPlan.objects.update_or_create(slug=values.pop("slug"), defaults=values)
        for position, (slug, offset, window) in enumerate(steps, start=1):
            PlanStep.objects.update_or_create(
                plan=plan,
                position=position,
                defaults={
                    "exercise": exercises[slug],
                    "offset": timedelta(seconds=offset),
                    "answer_window": timedelta(seconds=window),
                },
            )


def unload_catalog(apps, schema_editor):
    IntegrationPlan = apps.get_model("integration", "IntegrationPlan")
    Exercise = apps.get_model("integration", "Exercise")
    IntegrationPlan.objects.filter(slug__in=[plan["slug"] for plan in PLANS]).delete()
    Exercise.objects.filter(slug__in=[exercise["slug"] for exercise in EXERCISES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integration", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(load_catalog, unload_catalog),
    ]
