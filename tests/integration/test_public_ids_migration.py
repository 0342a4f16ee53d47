"""integration 0014_public_ids: rows written before it get a UUID each, and the access
log stays append-only through it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from integration.models import AccessEvent, CareInvitation, PlanStep
from tests.integration.factories import make_patient, make_therapist

BEFORE = [("integration", "0013_prompt_sync")]
AFTER = [("integration", "0014_public_ids")]


# In the test's own transaction (PostgreSQL rolls DDL back): the migrations go back and
# forth, and the rollback leaves the schema and the seeded catalog as they were, with no
# flush of the whole database for the tests after it.
@pytest.mark.django_db
def test_existing_rows_get_a_uuid_each_and_access_events_stay_append_only() -> None:
    patient, therapist = make_patient(), make_therapist()
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        exercise = old.get_model("integration", "Exercise").objects.create(
            slug="migration-check", title="t", instructions="i", estimated_minutes=1,
            answer_kind="entry", entry_kind="note",
        )  # fmt: skip
        plan = old.get_model("integration", "IntegrationPlan").objects.create(
            slug="migration-plan", name="n", description="d"
        )
        steps = [
            old.get_model("integration", "PlanStep")
            .objects.create(plan=plan, position=position, exercise=exercise, offset=dt.timedelta())
            .pk
            for position in (1, 2)
        ]
        invitation = old.get_model("integration", "CareInvitation").objects.create(
            therapist_id=therapist.pk, code_hash="0" * 64, expires_at=timezone.now()
        )
        events = [
            old.get_model("integration", "AccessEvent")
            .objects.create(
                actor_id=therapist.pk, patient_id=patient.pk, action="patients.list", via="api"
            )
            .pk
            for _ in range(3)
        ]

        # Foreign keys are checked at commit; the migration alters these tables after
        # the rows above, which PostgreSQL refuses while their checks are pending.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)

        public_ids = [
            *PlanStep.objects.filter(pk__in=steps).values_list("public_id", flat=True),
            CareInvitation.objects.get(pk=invitation.pk).public_id,
            *AccessEvent.objects.filter(pk__in=events).values_list("public_id", flat=True),
        ]
        assert len(public_ids) == 6
        assert None not in public_ids
        assert len(set(public_ids)) == 6
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "UPDATE integration_accessevent SET action = 'x' WHERE id = %s", [events[0]]
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
