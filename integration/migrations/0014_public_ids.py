"""Plan steps, care invitations and access events get a UUID, the id the API shows.

The column is added empty, filled with a fresh UUID per row, then made required and
unique. Access events are append-only: on PostgreSQL a trigger refuses every UPDATE, so
the fill switches it off for its one statement, inside this migration's transaction (the
ALTER TABLE holds the table's lock until the commit: no other write can slip through
while it is off).
"""

import uuid

from django.db import migrations, models

MODELS = ("planstep", "careinvitation", "accessevent")
APPEND_ONLY_TRIGGER = "integration_accessevent_append_only"


def fill_public_ids(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in MODELS:
            table = schema_editor.quote_name(apps.get_model("integration", name)._meta.db_table)
            if name == "accessevent":
                schema_editor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {APPEND_ONLY_TRIGGER}")
            # gen_random_uuid() is built into PostgreSQL from version 13. The table name is
            # the model's own, quoted: nothing from outside reaches this statement.
            schema_editor.execute(
                f"UPDATE {table} SET public_id = gen_random_uuid() WHERE public_id IS NULL"  # noqa: S608
            )
            if name == "accessevent":
                schema_editor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {APPEND_ONLY_TRIGGER}")
        return
    for name in MODELS:
        model = apps.get_model("integration", name)
        # The historical model has Django's plain manager: the access log's refusal to
        # update lives in the application's queryset, which migrations do not use.
        for pk in model.objects.filter(public_id__isnull=True).values_list("pk", flat=True):
            model.objects.filter(pk=pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("integration", "0013_prompt_sync"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name=name,
                name="public_id",
                field=models.UUIDField(editable=False, null=True),
            )
            for name in MODELS
        ),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        *(
            migrations.AlterField(
                model_name=name,
                name="public_id",
                field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
            )
            for name in MODELS
        ),
    ]
