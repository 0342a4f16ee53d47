"""Preparation reminders: data of the patient's plan, made real for each dosing session by
`integration.ahead.selectors.reminders_for_sessions`, the calendar feed's one read.

The clock stands at Monday 2026-03-02 10:00 UTC; patients live in Berlin.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.forms import CheckboxInput

from integration.ahead.models import PlanReminder
from integration.ahead.reminders import Reminder
from integration.ahead.selectors import reminders_for_sessions
from journal.sessions import services
from tests.integration.factories import make_patient, make_session, plan, set_timeline

pytestmark = pytest.mark.usefixtures("frozen_now")

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
D = dt.timedelta(days=1)
START = dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in Berlin


def by_slug(reminders: list[Reminder]) -> dict[str, dt.datetime]:
    return {reminder.slug: reminder.at for reminder in reminders}


def test_esketamine_plan_asks_what_the_label_asks(patient) -> None:
    """SPRAVATO: no food 2 h and no drinks 30 min before, at least 2 h of monitoring, no
    driving until the next day (so a ride home), and a support person."""
    set_timeline(patient, plan=plan("esketamine-course"))
    session = make_session(patient, START)

    reminders = reminders_for_sessions(patient, [session])[session.pk]

    assert by_slug(reminders) == {
        "ride-home": START - 24 * H,
        "support-person": START - 24 * H,
        "no-food": START - 2 * H,
        "no-drinks": START - 30 * M,
        "monitoring": START,
        "no-driving": START + 2 * H,
    }
    assert [reminder.at for reminder in reminders] == sorted(r.at for r in reminders)
    assert all(reminder.session_id == session.pk for reminder in reminders)
    assert all(reminder.at.utcoffset() == dt.timedelta(0) for reminder in reminders)
    monitoring = PlanReminder.objects.get(plan__slug="esketamine-course", slug="monitoring")
    assert monitoring.duration == 2 * H


@pytest.mark.django_db
def test_every_shipped_treatment_plan_has_the_five_kinds_of_reminder() -> None:
    for slug in ("kap-default", "esketamine-course", "iv-series", "demo-minutes"):
        slugs = set(PlanReminder.objects.filter(plan__slug=slug).values_list("slug", flat=True))
        assert {"no-food", "ride-home", "support-person", "no-driving", "monitoring"} <= slugs


@pytest.mark.django_db
def test_no_shipped_reminder_names_a_drug() -> None:
    """The calendar may show them to others: plain words, no drug names."""
    for reminder in PlanReminder.objects.all():
        text = f"{reminder.title} {reminder.description}".lower()
        for word in ("ketamine", "esketamine", "spravato", "dose of", "depression"):
            assert word not in text, (reminder.plan_id, reminder.slug)


def test_a_patient_without_a_chosen_plan_gets_the_default_plans(patient) -> None:
    session = make_session(patient, START)

    reminders = reminders_for_sessions(patient, [session])[session.pk]

    assert by_slug(reminders)["no-food"] == START - 4 * H  # kap-default's fasting time
    assert by_slug(reminders)["monitoring"] == START + 1 * H


def test_switching_plans_switches_reminders(patient) -> None:
    session = make_session(patient, START)
    set_timeline(patient, plan=plan("iv-series"))

    assert by_slug(reminders_for_sessions(patient, [session])[session.pk])["monitoring"] == (
        START + 40 * M
    )


def test_a_clinic_change_in_the_data_changes_the_reminders(patient) -> None:
    """The clinic asks for six hours without food: the reminder follows the data."""
    set_timeline(patient, plan=plan("esketamine-course"))
    session = make_session(patient, START)
    PlanReminder.objects.filter(plan__slug="esketamine-course", slug="no-food").update(
        offset=-6 * H, title="No food from now"
    )

    (no_food,) = [
        reminder
        for reminder in reminders_for_sessions(patient, [session])[session.pk]
        if reminder.slug == "no-food"
    ]

    assert (no_food.at, no_food.title) == (START - 6 * H, "No food from now")


def test_offsets_outside_a_week_are_refused(db) -> None:
    reminder = PlanReminder(
        plan=plan("kap-default"), slug="too-early", title="t", description="d", offset=-8 * D
    )
    with pytest.raises(ValidationError):
        reminder.full_clean()
    reminder.offset, reminder.duration = -H, dt.timedelta(0)
    with pytest.raises(ValidationError):
        reminder.full_clean()


def test_a_moved_session_moves_its_reminders_by_exactly_the_move(patient) -> None:
    set_timeline(patient, plan=plan("esketamine-course"))
    session = make_session(patient, START)
    before = by_slug(reminders_for_sessions(patient, [session])[session.pk])

    moved = services.session_update(
        patient=patient,
        session_id=session.pk,
        data={"scheduled_start": START + 2 * D + 90 * M},
        expected_versions=None,
    )
    after = by_slug(reminders_for_sessions(patient, [moved])[moved.pk])

    assert {slug: after[slug] - at for slug, at in before.items()} == dict.fromkeys(
        before, 2 * D + 90 * M
    )


def test_reminders_after_the_start_count_from_the_recorded_actual_start(patient) -> None:
    set_timeline(patient, plan=plan("esketamine-course"))
    session = make_session(patient, START, actual_start=START + 25 * M)

    reminders = by_slug(reminders_for_sessions(patient, [session])[session.pk])

    assert reminders["no-food"] == START - 2 * H
    assert reminders["monitoring"] == START + 25 * M
    assert reminders["no-driving"] == START + 25 * M + 2 * H


def test_cancelled_deleted_and_other_sessions_have_none(patient, other_patient) -> None:
    live = make_session(patient, START)
    cancelled = make_session(patient, START + D, status="cancelled")
    deleted = make_session(patient, START + 2 * D)
    services.session_delete(patient=patient, session_id=deleted.pk, expected_versions=None)
    deleted.refresh_from_db()
    integration = make_session(patient, START + 3 * D, kind="integration")
    not_theirs = make_session(other_patient, START)

    reminders = reminders_for_sessions(patient, [live, cancelled, deleted, integration, not_theirs])

    assert set(reminders) == {live.pk}


def test_no_session_no_query(patient, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        assert reminders_for_sessions(patient, []) == {}


@pytest.mark.parametrize("count", [1, 12])
def test_one_query_whatever_the_number_of_sessions(
    patient, count, django_assert_num_queries
) -> None:
    set_timeline(patient, plan=plan("esketamine-course"))
    sessions = [make_session(patient, START + index * 3 * D) for index in range(count)]

    with django_assert_num_queries(1):
        reminders = reminders_for_sessions(patient, sessions)

    assert len(reminders) == count
    assert all(len(items) == 6 for items in reminders.values())


def test_a_reminder_is_a_frozen_value() -> None:
    reminder = Reminder(slug="no-food", title="t", detail="d", at=START, session_id=uuid.uuid4())
    with pytest.raises(AttributeError):
        reminder.at = START + H  # type: ignore[misc]


def _form_data(page) -> dict[str, object]:
    """What the admin's change form would post back unchanged: the plan's fields and every
    inline row, with the management forms."""
    data: dict[str, object] = {}

    def add(bound) -> None:
        value = bound.value()
        if isinstance(bound.field.widget, CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif value is not None:
            data[bound.html_name] = value

    for bound in page.context["adminform"].form:
        add(bound)
    for inline in page.context["inline_admin_formsets"]:
        for bound in inline.formset.management_form:
            data[bound.html_name] = bound.value()
        for form in inline.formset.forms:
            for bound in form:
                add(bound)
    return data


def _reminder_field(page, slug: str, field: str) -> str:
    for inline in page.context["inline_admin_formsets"]:
        for form in inline.formset.forms:
            if getattr(form.instance, "slug", None) == slug and field in form.fields:
                return form[field].html_name
    raise AssertionError(f"no reminder {slug}")


def test_a_clinic_changes_its_fasting_time_in_the_admin(admin_client, patient) -> None:
    set_timeline(patient, plan=plan("esketamine-course"))
    session = make_session(patient, START)
    url = f"/admin/integration/integrationplan/{plan('esketamine-course').pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    data = _form_data(page)
    data[_reminder_field(page, "no-food", "offset")] = "-06:00:00"
    data[_reminder_field(page, "no-food", "title")] = "No food from now"

    answer = admin_client.post(url, data)

    assert answer.status_code == 302, answer.context["errors"] if answer.context else answer
    (no_food,) = [
        reminder
        for reminder in reminders_for_sessions(patient, [session])[session.pk]
        if reminder.slug == "no-food"
    ]
    assert (no_food.at, no_food.title) == (START - 6 * H, "No food from now")


def test_the_admin_refuses_an_offset_beyond_a_week(admin_client) -> None:
    url = f"/admin/integration/integrationplan/{plan('esketamine-course').pk}/change/"
    page = admin_client.get(url)
    data = _form_data(page)
    data[_reminder_field(page, "ride-home", "offset")] = "-8 00:00:00"

    answer = admin_client.post(url, data)

    assert answer.status_code == 200  # the form again, with the error
    assert "within 7 days" in answer.content.decode()
    ride = PlanReminder.objects.get(plan__slug="esketamine-course", slug="ride-home")
    assert ride.offset == -24 * H


def test_patients_are_independent(db) -> None:
    first = make_patient(email="first@example.org")
    second = make_patient(email="second@example.org", time_zone="America/New_York")
    set_timeline(second, plan=plan("esketamine-course"))
    one = make_session(first, START)
    two = make_session(second, START)

    assert by_slug(reminders_for_sessions(first, [one, two])[one.pk])["no-food"] == START - 4 * H
    assert by_slug(reminders_for_sessions(second, [one, two])[two.pk])["no-food"] == START - 2 * H
    assert set(reminders_for_sessions(first, [one, two])) == {one.pk}
