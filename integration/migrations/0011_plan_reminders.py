"""Preparation reminders for the shipped plans, as data a clinic can change in the admin.

Sources for the clinical timing (see also 0002_catalog):
- Esketamine (SPRAVATO) prescribing information, sections 2 and 5, and its REMS: no food
  for at least 2 hours and no liquids for at least 30 minutes before a dose (nausea,
  vomiting); monitoring for at least 2 hours after it; no driving or machinery until the
  next day after a restful sleep, so someone takes the patient home.
- IV ketamine: commonly 0.5 mg/kg over 40 minutes, then an hour or so of monitoring.
- KAP (sublingual or intramuscular, in the clinic): sessions of about 2.5-3 hours, the
  experience itself about an hour, then 1-2 hours of rest and monitoring.
- Fasting before IV and KAP sessions differs between clinics: 4 hours without food and 2
  hours without drinks are the defaults here (clear liquids up to 2 hours before
  sedation, as in the ASA's fasting guidance); each clinic sets its own in the admin.

Offsets count from the dosing session's start (negative: before it). Titles and details
name no drug: the calendar feed may show them to whoever sees the patient's calendar.
"""

import datetime
import django.db.models.deletion
from django.db import migrations, models


H = 3600
M = 60

RIDE_HOME = (
    "ride-home",
    "Arrange your ride home",
    "You may not drive or operate machinery until the day after your session, after a "
    "restful sleep. Arrange for someone to take you home.",
)
SUPPORT_PERSON = (
    "support-person",
    "Ask your support person",
    "Ask someone you trust to be reachable, or with you, for the rest of the day after "
    "your session.",
)
NO_DRIVING = (
    "no-driving",
    "No driving until tomorrow",
    "Do not drive or operate machinery until tomorrow, after a restful sleep.",
)


def no_food(hours):
    return (
        "no-food",
        "Stop eating now",
        f"Your clinic asks for no food in the {hours} hours before your session, which "
        "helps against nausea.",
    )


def no_drinks(minutes):
    text = f"{minutes} minutes" if minutes < 60 else f"{minutes // 60} hours"
    return (
        "no-drinks",
        "Stop drinking now",
        f"Your clinic asks for nothing to drink, water included, in the last {text} "
        "before your session.",
    )


def monitoring(text):
    return ("monitoring", "Time set aside for monitoring", text)


# plan slug -> [((slug, title, description), offset in seconds, duration in seconds or None)]
REMINDERS = {
    "esketamine-course": [
        (RIDE_HOME, -24 * H, None),
        (SUPPORT_PERSON, -24 * H, None),
        (no_food(2), -2 * H, None),
        (no_drinks(30), -30 * M, None),
        (
            monitoring(
                "The clinic watches over you for at least 2 hours after the dose, blood "
                "pressure included: plan nothing else until then."
            ),
            0,
            2 * H,
        ),
        (NO_DRIVING, 2 * H, None),
    ],
    "iv-series": [
        (RIDE_HOME, -24 * H, None),
        (SUPPORT_PERSON, -24 * H, None),
        (no_food(4), -4 * H, None),
        (no_drinks(2 * 60), -2 * H, None),
        (
            monitoring(
                "After the infusion (about 40 minutes) the clinic watches over you for "
                "about an hour: plan nothing else until then."
            ),
            40 * M,
            1 * H,
        ),
        (NO_DRIVING, 100 * M, None),
    ],
    "kap-default": [
        (RIDE_HOME, -24 * H, None),
        (SUPPORT_PERSON, -24 * H, None),
        (no_food(4), -4 * H, None),
        (no_drinks(2 * 60), -2 * H, None),
        (
            monitoring(
                "After the experience itself (about an hour) you rest in the clinic while "
                "it watches over you, for 1 to 2 hours: plan nothing else until then."
            ),
            1 * H,
            2 * H,
        ),
        (NO_DRIVING, 3 * H, None),
    ],
    # For `make run`: the same reminders in minutes, around the demonstration plan's steps.
    "demo-minutes": [
        (RIDE_HOME, -3 * M, None),
        (SUPPORT_PERSON, -3 * M, None),
        (no_food(2), -2 * M, None),
        (no_drinks(30), -1 * M, None),
        (monitoring("Time to rest while the clinic watches over you."), 0, 2 * M),
        (NO_DRIVING, 2 * M, None),
    ],
}


def load_reminders(apps, schema_editor):
    IntegrationPlan = apps.get_model("integration", "IntegrationPlan")
    PlanReminder = apps.get_model("integration", "PlanReminder")
    for plan in IntegrationPlan.objects.filter(slug__in=REMINDERS):
        for (slug, title, description), offset, duration in REMINDERS[plan.slug]:
            PlanReminder.objects.update_or_create(
                plan=plan,
                slug=slug,
                defaults={
                    "title": title,
                    "description": description,
                    "offset": datetime.timedelta(seconds=offset),
                    "duration": None if duration is None else datetime.timedelta(seconds=duration),
                },
            )


def unload_reminders(apps, schema_editor):
    apps.get_model("integration", "PlanReminder").objects.filter(plan__slug__in=REMINDERS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integration", "0009_prompt_delivered_via"),
    ]

    operations = [
        migrations.CreateModel(
            name="PlanReminder",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("slug", models.SlugField(max_length=64)),
                ("title", models.CharField(max_length=120)),
                ("description", models.TextField()),
                (
                    "offset",
                    models.DurationField(
                        help_text="From the dosing session's start; negative before it (at most 7 days either way). Format: [-]DD HH:MM:SS, e.g. -02:00:00 for two hours before."
                    ),
                ),
                (
                    "duration",
                    models.DurationField(
                        blank=True,
                        help_text="How long it lasts (monitoring); empty: a moment.",
                        null=True,
                    ),
                ),
                (
                    "plan",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reminders",
                        to="integration.integrationplan",
                    ),
                ),
            ],
            options={
                "ordering": ["plan", "offset", "slug"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("plan", "slug"), name="planreminder_unique_slug"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("offset__gte", datetime.timedelta(days=-7)),
                            ("offset__lte", datetime.timedelta(days=7)),
                        ),
                        name="planreminder_offset_within_a_week",
                        violation_error_message="The offset must be within 7 days of the session.",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("duration__isnull", True),
                            ("duration__gt", datetime.timedelta(0)),
                            _connector="OR",
                        ),
                        name="planreminder_duration_positive",
                        violation_error_message="A duration must be longer than zero.",
                    ),
                ],
            },
        ),
        migrations.RunPython(load_reminders, unload_reminders),
    ]
